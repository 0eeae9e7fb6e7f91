/**
 * PBFT as interaction scripts: test/interaction/pbft/*.txt drive four (or more) PbftEngine
 * replicas by hand and print what each step did, so that every script reads as a piece of
 * Castro and Liskov's protocol (OSDI '99) next to the sentences it exercises.
 *
 * The handler plays every host at once. Replicas sign with the simulator's deterministic
 * signer (sim/signer.ts, keys drawn from the seed). Each replica is hosted through the host
 * kernel (scriptHost.ts), which drives its Ready loop after any input (queue the messages; print
 * what it applied and its events; advance).
 * Messages wait in one FIFO queue until a directive delivers them; nothing moves by itself.
 *
 * Commands (replica ids are "1", "2", ...; replica 1 is the primary of view 0):
 *
 *   add-replicas 4 [spares=0] [checkpoint=4] [window=8] [timeout=10] [viewchange=20] [retransmit=5] [seed=1]
 *       Creates the group. checkpoint: checkpointInterval; window: windowSeqs; timeout:
 *       requestTimeoutTicks; viewchange: viewChangeTicks; retransmit: retransmitTicks. Status
 *       messages are turned off (statusTicks is very long) so that scripts show only the protocol.
 *       spares: more replicas (numbered after the group) built with the group but outside it, as a
 *       replica that is to join is built.
 *   reconfigure 2 approvers=(1,2,3) members=(2,3,4,5) [from=0]
 *                              gateway 2 proposes replacing the group of epoch `from` by `members`
 *                              (in that order), with the approvals of `approvers`
 *   request 2 c1 ts=1 x=v      a client c1 puts x=v through gateway 2 (its timestamp ts)
 *   inject-preprepare from=1 to=2 v=0 n=3 [bad-digest]
 *                              replica `from` signs a pre-prepare for v, n of a batch with one new
 *                              request of its own, and delivers it to `to`; bad-digest: the signed
 *                              digest is not the batch's
 *   stabilize                  delivers messages, and those they cause, until none is left
 *   deliver-msgs [2 3] [from=1] [type=prepare] [drop]
 *                              delivers (or drops) the messages queued now that match; no ids: all
 *   msgs [2 3] [from=1] [type=commit]
 *                              lists the queued messages (that match)
 *   partition 1 | 2 3 4        messages between groups are dropped when delivered
 *   heal                       ends the partition
 *   tick 2 [n=1]               ticks one replica n times
 *   tick-all [n=1]             ticks every replica n times, round by round in id order
 *   status [1 2]               view, phase, primary, executed, low watermark (and, once the group
 *                              changed or for a replica outside it, the epoch and its members)
 *   kv 1                       the key-value state
 *
 * Printed effects: "2 executed n1 v0 d=…: 2/c1@1 applied", "2 replies to c1@1: stored",
 * "3 refused prePrepare from 1 v0 n3: badDigest …", events as "2 view v1 changing (request
 * timeout)", "2 checkpoint n4 stable", "3 evidence equivocation against 1 (proven)". A delivered
 * message prints as "1->2 <describePbftMessage>", followed by the receiver's effects, indented.
 */
import { ScriptHost } from './scriptHost.ts'
import { join } from 'node:path'
import * as decoding from 'lib0/decoding'
import { describe } from 'vitest'
import { readText, readUint } from '../../core/codec/fields.ts'
import { KvStateMachine, kvLimits, writeKvPut } from '../../core/kv.ts'
import { Rng } from '../../core/lib/prng.ts'
import type { Signer } from '../../core/ports.ts'
import { defaultPbftConfig, type PbftConfig, type PbftReplica } from '../../core/pbft/config.ts'
import { PbftEngine, type PbftApplied, type PbftCommand, type PbftEvent } from '../../core/pbft/engine.ts'
import { PbftGroup } from '../../core/pbft/group.ts'
import { describePbftMessage, signBody, type Batch, type PbftMessage } from '../../core/pbft/messages.ts'
import { approveReconfiguration } from '../../core/pbft/reconfiguration.ts'
import type { Refusal } from '../../core/ready.ts'
import { SimKeyring } from '../../sim/signer.ts'
import { SimStorage } from '../../sim/storage.ts'
import { lookup, namedIds, wordsOf } from './scriptNodes.ts'
import { argInt, argList, argString, hasArg, runScripts, type Directive, type DirectiveHandler } from './datadriven.ts'

interface Replica {
  readonly id: string
  readonly signer: Signer
  readonly engine: PbftEngine
  /** The kernel hosting `engine`; all input goes through it. */
  readonly host: ScriptHost<PbftCommand, PbftMessage, PbftApplied, PbftEvent>
  readonly kv: KvStateMachine
  /** The group as this replica knows it: digests of the batches the script injects. */
  readonly group: PbftGroup
}

interface InFlight {
  readonly from: string
  readonly to: string
  readonly message: PbftMessage
}

/** Deliveries in one stabilize before it gives up: a livelock shows up as an error, not a hang. */
const stabilizeDeliveriesMax = 10_000
/** Status messages (and the resends they carry) would fill every script; scripts deliver by hand instead. */
const statusTicksOff = 1_000_000

class PbftCluster {
  private readonly replicas = new Map<string, Replica>()
  private queue: InFlight[] = []
  /** Replica id → partition group; empty: no partition. */
  private groups = new Map<string, number>()
  private injected = 0

  handle(d: Directive): string {
    switch (d.command) {
      case 'add-replicas':
        return this.addReplicas(d)
      case 'request':
        return this.request(d)
      case 'reconfigure':
        return this.reconfigure(d)
      case 'inject-preprepare':
        return this.injectPrePrepare(d)
      case 'stabilize':
        return this.stabilize()
      case 'deliver-msgs':
        return this.deliverMsgs(d)
      case 'msgs':
        return this.queue.filter(this.matcher(d)).map(describeInFlight).join('\n') || 'no messages'
      case 'partition':
        return this.partition(d)
      case 'heal':
        this.groups = new Map()
        return 'healed'
      case 'tick':
        return this.tick([this.replica(d, 0)], argInt(d, 'n', 1))
      case 'tick-all':
        return this.tick([...this.replicas.values()], argInt(d, 'n', 1))
      case 'status':
        return namedIds(this.replicas, d)
          .map((id) => this.status(lookup(this.replicas, id)))
          .join('\n')
      case 'kv':
        return kvText(this.replica(d, 0).kv)
      default:
        throw new Error(`unknown command "${d.command}"`)
    }
  }

  // ---- arguments ----

  private replica(d: Directive, position: number): Replica {
    const id = wordsOf(d)[position]
    if (id === undefined) throw new Error(`${d.command}: replica id ${position + 1} is missing`)
    return lookup(this.replicas, id)
  }

  // ---- replicas ----

  private addReplicas(d: Directive): string {
    if (this.replicas.size > 0) throw new Error('add-replicas: the group exists already')
    const count = Number(wordsOf(d)[0])
    if (!Number.isInteger(count) || count < 1) throw new Error(`add-replicas: "${wordsOf(d)[0]}" is not a count`)
    const spares = argInt(d, 'spares', 0)
    const config: PbftConfig = {
      ...defaultPbftConfig,
      checkpointInterval: argInt(d, 'checkpoint', 4),
      windowSeqs: argInt(d, 'window', 8),
      requestTimeoutTicks: argInt(d, 'timeout', 10),
      viewChangeTicks: argInt(d, 'viewchange', 20),
      retransmitTicks: argInt(d, 'retransmit', 5),
      statusTicks: statusTicksOff,
    }
    const keyring = new SimKeyring(Rng.fromSeed(argInt(d, 'seed', 1)).split('keys'))
    const ids = Array.from({ length: count + spares }, (_, index) => String(index + 1))
    const signers = ids.map(() => keyring.signer())
    const group: PbftReplica[] = ids.slice(0, count).map((id, index) => ({ id, publicKey: signers[index]!.publicKey }))
    for (const [index, id] of ids.entries()) {
      const kv = new KvStateMachine()
      // This harness never crashes a replica: it starts each from empty storage and keeps none of its writes.
      const engine = new PbftEngine({ id, replicas: group, signer: signers[index]!, stateMachine: kv, storage: new SimStorage(), config })
      this.replicas.set(id, { id, signer: signers[index]!, engine, host: this.host(id, engine), kv, group: new PbftGroup(group, signers[index]!) })
    }
    return ids.map((id) => this.status(lookup(this.replicas, id))).join('\n')
  }

  /** Hosts `engine` through the kernel: its Readies queue their messages and print what they applied and their events. */
  private host(id: string, engine: PbftEngine): ScriptHost<PbftCommand, PbftMessage, PbftApplied, PbftEvent> {
    return new ScriptHost(engine, {
      // Replicas never crash here: what they persist is not kept.
      storage: { write: () => {}, sync: () => {} },
      send: (to, message) => this.queue.push({ from: id, to, message }),
      describe: (ready) => [...ready.applied.map((applied) => describeApplied(id, applied)), ...ready.events.map((event) => describeEvent(id, event))],
    })
  }

  /** What the replica's kernel printed since the last call (its Readies, driven after each input). */
  private drive(replica: Replica): string[] {
    return replica.host.takePrinted()
  }

  private status(replica: Replica): string {
    const status = replica.engine.status()
    const epoch = status.epoch > 0 || !status.member ? ` epoch=${status.epoch} members=${status.members.join(',')}${status.member ? '' : ' (not voting)'}` : ''
    return `${replica.id}: v${status.view} ${status.phase} primary=${status.primary} executed=${status.executed} low=${status.lowWatermark} high=${status.highWatermark}${epoch}`
  }

  private reconfigure(d: Directive): string {
    const gateway = this.replica(d, 0)
    const fromEpoch = argInt(d, 'from', 0)
    const replicas = argList(d, 'members').map((id) => ({ id, publicKey: lookup(this.replicas, id).signer.publicKey }))
    const approvals = argList(d, 'approvers').map((id) => approveReconfiguration(lookup(this.replicas, id).signer, id, fromEpoch, replicas))
    const refusal = gateway.host.input('propose', () => gateway.engine.propose({ type: 'reconfigure', reconfiguration: { fromEpoch, replicas, approvals } }))
    const lines = refusal === null ? [] : [`${gateway.id} refused the reconfiguration: ${refusal.code} (${refusal.message})`]
    return [...lines, ...this.drive(gateway)].join('\n') || 'ok'
  }

  // ---- inputs ----

  private request(d: Directive): string {
    const replica = this.replica(d, 0)
    const client = wordsOf(d)[1]
    if (client === undefined) throw new Error('request: the client is missing')
    const timestamp = argInt(d, 'ts')
    const puts = d.args.filter((arg) => arg.values.length === 1 && arg.key !== 'ts')
    if (puts.length !== 1) throw new Error('request: one key=value to put')
    const { key, values } = puts[0]!
    const operation = writeKvPut({ requestId: `${replica.id}/${client}/${timestamp}`, key, value: values[0]! })
    const refusal = replica.host.input('propose', () => replica.engine.propose({ type: 'request', client, timestamp, operation }))
    const lines = refusal === null ? [] : [`${replica.id} refused ${client}@${timestamp}: ${refusal.code}`]
    return [...lines, ...this.drive(replica)].join('\n') || 'ok'
  }

  private injectPrePrepare(d: Directive): string {
    const from = lookup(this.replicas, argString(d, 'from'))
    const to = lookup(this.replicas, argString(d, 'to'))
    const view = argInt(d, 'v')
    const seq = argInt(d, 'n')
    this.injected++
    const bundle = signBody(from.signer, {
      type: 'request',
      replica: from.id,
      epoch: 0,
      requests: [{ client: 'injected', timestamp: this.injected, operation: writeKvPut({ requestId: `injected/${this.injected}`, key: 'injected', value: String(this.injected) }) }],
    })
    const batch: Batch = [bundle]
    const digest = from.group.digestOf(batch)
    if (hasArg(d, 'bad-digest')) digest[0] = digest[0]! ^ 0xff
    const message: PbftMessage = { signed: signBody(from.signer, { type: 'prePrepare', replica: from.id, epoch: 0, view, seq, digest }), batches: [batch] }
    return this.deliver({ from: from.id, to: to.id, message }).join('\n')
  }

  private tick(replicas: readonly Replica[], times: number): string {
    const lines: string[] = []
    for (let round = 0; round < times; round++) {
      for (const replica of replicas) {
        replica.host.tick()
        lines.push(...this.drive(replica))
      }
    }
    return lines.join('\n') || 'ok'
  }

  // ---- the network ----

  private blocked(from: string, to: string): boolean {
    if (this.groups.size === 0) return false
    return (this.groups.get(from) ?? -1) !== (this.groups.get(to) ?? -1)
  }

  private partition(d: Directive): string {
    const groups = new Map<string, number>()
    let group = 0
    for (const word of wordsOf(d)) {
      if (word === '|') group++
      else groups.set(lookup(this.replicas, word).id, group)
    }
    this.groups = groups
    const named = new Set(groups.keys())
    const rest = [...this.replicas.keys()].filter((id) => !named.has(id))
    const texts = Array.from({ length: group + 1 }, (_, index) =>
      [...groups]
        .filter(([, held]) => held === index)
        .map(([id]) => id)
        .join(' '),
    )
    return `partitioned ${[...texts, ...(rest.length > 0 ? [rest.join(' ')] : [])].join(' | ')}`
  }

  /** Delivers one message and returns the line for it and the receiver's effects, indented. */
  private deliver(inFlight: InFlight): string[] {
    const head = describeInFlight(inFlight)
    if (this.blocked(inFlight.from, inFlight.to)) return [`${head} (dropped: partition)`]
    const receiver = lookup(this.replicas, inFlight.to)
    const refusal: Refusal | null = receiver.host.step(inFlight.from, inFlight.message)
    const lines = refusal === null ? [] : [`${receiver.id} refused ${inFlight.message.signed.body.type}: ${refusal.code} (${refusal.message})`]
    lines.push(...this.drive(receiver))
    return [head, ...lines.map((line) => `  ${line}`)]
  }

  private stabilize(): string {
    const lines: string[] = []
    let deliveries = 0
    while (this.queue.length > 0) {
      if (++deliveries > stabilizeDeliveriesMax) throw new Error(`stabilize: more than ${stabilizeDeliveriesMax} deliveries`)
      lines.push(...this.deliver(this.queue.shift()!))
    }
    return lines.join('\n') || 'no messages'
  }

  /** Messages to the replicas named (any, when none is), from=…, of type=…. */
  private matcher(d: Directive): (held: InFlight) => boolean {
    const to = new Set(wordsOf(d).filter((word) => word !== 'drop'))
    const from = hasArg(d, 'from') ? new Set(argList(d, 'from')) : null
    const types = hasArg(d, 'type') ? new Set(argList(d, 'type')) : null
    return (held) => (to.size === 0 || to.has(held.to)) && (from === null || from.has(held.from)) && (types === null || types.has(held.message.signed.body.type))
  }

  private deliverMsgs(d: Directive): string {
    const drop = hasArg(d, 'drop')
    const matches = this.matcher(d)
    const chosen = this.queue.filter(matches)
    this.queue = this.queue.filter((held) => !matches(held))
    const lines: string[] = []
    for (const held of chosen) {
      if (drop) lines.push(`${describeInFlight(held)} (dropped)`)
      else lines.push(...this.deliver(held))
    }
    return lines.join('\n') || 'no messages'
  }
}

function describeInFlight(held: InFlight): string {
  return `${held.from}->${held.to} ${describePbftMessage(held.message)}`
}

function short(digest: Uint8Array): string {
  return [...digest.slice(0, 4)].map((byte) => byte.toString(16).padStart(2, '0')).join('')
}

/** A put's result: "stored", or the reason the store refused it. */
function resultText(result: Uint8Array): string {
  const decoder = decoding.createDecoder(result)
  if (readUint(decoder, 1, 'stored flag') === 1) return 'stored'
  return `refused (${readText(decoder, kvLimits.valueBytesMax, 'reason')})`
}

function describeApplied(id: string, applied: PbftApplied): string {
  switch (applied.type) {
    case 'executed':
      return `${id} executed n${applied.seq} v${applied.view}${applied.epoch === 0 ? '' : ` e${applied.epoch}`} d=${short(applied.digest)}: ${applied.requests.map((request) => `${request.gateway}/${request.client}@${request.timestamp} ${request.outcome}`).join(', ') || 'null request'}`
    case 'reply':
      return `${id} replies to ${applied.client}@${applied.timestamp}: ${resultText(applied.result)}`
    case 'refused':
      return `${id} refuses ${applied.client}@${applied.timestamp}: ${applied.code}`
    case 'query':
      return `${id} query #${applied.readId} at n${applied.executed}`
    case 'reconfigured':
      return `${id} reconfiguration #${applied.timestamp} ${applied.result.accepted ? 'accepted' : 'refused'}: ${applied.result.detail}`
  }
}

function describeEvent(id: string, event: PbftEvent): string {
  switch (event.kind) {
    case 'view':
      return `${id} view v${event.view} ${event.phase} primary=${event.primary} (${event.reason})`
    case 'evidence':
      return `${id} evidence ${event.evidence.kind} against ${event.evidence.replica} (${event.evidence.proven ? 'proven' : 'suspected'}): ${event.evidence.detail}`
    case 'checkpoint':
      return `${id} checkpoint n${event.seq} stable`
    case 'stateTransfer':
      return `${id} state transfer to n${event.seq} from ${event.from}`
    case 'reconfigurationOrdered':
      return `${id} reconfiguration executed at n${event.seq}: epoch ${event.epoch} of ${event.members.join(' ')} orders after n${event.startSeq}`
    case 'groupChanged':
      return `${id} group epoch ${event.epoch} of ${event.members.join(' ')} after n${event.startSeq}${event.member ? '' : ' (not a member: stops voting)'}`
  }
}

function kvText(kv: KvStateMachine): string {
  const decoder = decoding.createDecoder(kv.snapshot())
  const count = readUint(decoder, kvLimits.keysMax, 'keys')
  const pairs: string[] = []
  for (let index = 0; index < count; index++) pairs.push(`${readText(decoder, kvLimits.keyBytesMax, 'key')}=${readText(decoder, kvLimits.valueBytesMax, 'value')}`)
  return pairs.join(' ') || '(empty)'
}

function pbftHandler(): DirectiveHandler {
  const cluster = new PbftCluster()
  return (directive) => cluster.handle(directive)
}

describe('pbft interaction scripts', () => {
  runScripts(join(import.meta.dirname, 'pbft'), pbftHandler)
})
