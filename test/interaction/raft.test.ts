/**
 * Raft as interaction scripts: test/interaction/raft/*.txt drive a few RaftEngine nodes by hand
 * and print what each step did, so that every script reads as a piece of the protocol's spec.
 *
 * The handler plays every host at once: each node's engine is hosted through the host kernel
 * (scriptHost.ts), which drives its Ready loop after any input (persist to a SimStorage, syncing
 * when asked; queue the messages; print the results and events; advance). Messages wait in one FIFO network queue until a directive delivers them;
 * nothing moves by itself. The only randomness is each engine's own Rng, seeded per node.
 *
 * Commands (node ids are "1", "2", ...):
 *
 *   add-nodes 3 [voters=(1,2,3)] [election=10] [heartbeat=1] [prevote=true] [checkquorum=true]
 *             [lease=false] [snapshot=N] [batch=N] [seed=1]
 *       Creates the next n nodes with fresh storage. Voters default to the new nodes when the
 *       cluster is empty, and to none (a node that joins and learns the group from its leader)
 *       after. Settings default to the previous add-nodes'. batch: entries per append message.
 *   campaign 1           ticks node 1 until its election timeout fires: it asks for (pre-)votes
 *   tick 1 [n=1]         ticks one node n times
 *   tick-all [n=1]       ticks every live node n times, round by round in id order
 *   propose 1 x=v [y=w]  puts through node 1, all before its next Ready; prints each appended entry or refusal
 *   read 1 x             a linearizable (ReadIndex) get through node 1, answered when applied
 *   add-learner 1 4 | promote 1 4 | remove 1 3 | transfer 1 to=2
 *                        membership changes and transfer through node 1 (remove 1 node=1: itself)
 *   stabilize            delivers messages, and those they cause, until none is left
 *   deliver-msgs [2 3] [from=1] [type=append] [drop]
 *                        delivers (or drops) the messages queued now that match; no ids: all
 *   msgs                 lists the queued messages
 *   partition 1 | 2 3    messages between groups are dropped when delivered; unlisted nodes form one more group
 *   heal                 ends the partition
 *   crash 2 [lose-unsynced]   stops node 2; lose-unsynced: a power loss that loses unsynced writes.
 *                        Messages on their way to it are lost; those it sent are still delivered.
 *   restart 2            a new engine on node 2's storage
 *   status [1 2]         term, role, leader, commit, applied, last index, membership
 *   log 1                the log: snapshot, then entries as index@term kind (a mark where commit is)
 *   kv 1                 the key-value state
 *
 * Printed effects: "1 is candidate at t1", "2 applied 3@t1 put x=1", "1 read #1 x=1 at 3",
 * "1 membership voters=(1,2,3) learners=(4) at 5". A delivered message prints as
 * "1->2 <describeRaftMessage>", followed by the receiver's effects, indented.
 */
import { join } from 'node:path'
import * as decoding from 'lib0/decoding'
import { describe } from 'vitest'
import { readText, readUint } from '../../core/codec/fields.ts'
import { Rng } from '../../core/lib/prng.ts'
import { defaultRaftConfig, type RaftConfig } from '../../core/raft/config.ts'
import { RaftEngine, type RaftApplied, type RaftCommand, type RaftEvent, type RaftRefusal, type RaftRole } from '../../core/raft/engine.ts'
import { KvStateMachine, kvLimits, readKvPut, readKvValue, writeKvGet, writeKvPut } from '../../core/kv.ts'
import { describeRaftMessage, readMembership, type Entry, type RaftMessage } from '../../core/raft/messages.ts'
import { decodeWith } from '../../core/codec/envelope.ts'
import type { Refusal } from '../../core/ready.ts'
import { SimStorage } from '../../sim/storage.ts'
import { ScriptHost } from './scriptHost.ts'
import { lookup, namedIds, upNode, wordAt, wordsOf } from './scriptNodes.ts'
import { argInt, argList, argString, hasArg, runScripts, type Directive, type DirectiveHandler } from './datadriven.ts'

interface NodeSettings {
  readonly config: RaftConfig
  readonly seed: number
}

interface SimNode {
  readonly id: string
  readonly voters: readonly string[]
  readonly settings: NodeSettings
  readonly storage: SimStorage
  engine: RaftEngine
  /** The kernel hosting `engine`; all input goes through it. */
  host: ScriptHost<RaftCommand, RaftMessage, RaftApplied, RaftEvent>
  kv: KvStateMachine
  down: boolean
  incarnation: number
  /** The role line printed last: role, term and leader. */
  shownRole: string
}

interface InFlight {
  readonly from: string
  readonly to: string
  readonly message: RaftMessage
  /** The receiver's incarnation when this was sent: a crash loses what was on its way to it. */
  readonly toIncarnation: number
}

/** Deliveries in one stabilize before it gives up: a livelock shows up as an error, not a hang. */
const stabilizeDeliveriesMax = 10_000
/** Ticks `campaign` waits for an election timeout: the timeout is below 2·electionTicksMin. */
const campaignTicksSlack = 1

const initialSettings: NodeSettings = {
  config: { ...defaultRaftConfig, electionTicksMin: 10, heartbeatTicks: 1 },
  seed: 1,
}

class RaftCluster {
  private readonly nodes = new Map<string, SimNode>()
  private queue: InFlight[] = []
  /** Node id → partition group; empty: no partition. */
  private groups = new Map<string, number>()
  private settings = initialSettings
  private nextRequestId = 1
  private nextReadId = 1
  private readonly readKeys = new Map<number, string>()

  handle(d: Directive): string {
    switch (d.command) {
      case 'add-nodes':
        return this.addNodes(d)
      case 'campaign':
        return this.campaign(d)
      case 'tick':
        return this.tick(upNode(this.nodes, d, 0), argInt(d, 'n', 1))
      case 'tick-all':
        return this.tickAll(argInt(d, 'n', 1))
      case 'propose':
        return this.propose(d)
      case 'read':
        return this.read(d)
      case 'add-learner':
        return this.command(d, { type: 'addLearner', member: this.memberArg(d) })
      case 'promote':
        return this.command(d, { type: 'promote', member: this.memberArg(d) })
      case 'remove':
        return this.command(d, { type: 'remove', member: this.memberArg(d) })
      case 'transfer':
        return this.command(d, { type: 'transferLeadership', to: argString(d, 'to') }, `transfers leadership to ${argString(d, 'to')}`)
      case 'stabilize':
        return this.stabilize()
      case 'deliver-msgs':
        return this.deliverMsgs(d)
      case 'msgs':
        return this.queue.map(describeInFlight).join('\n') || 'no messages'
      case 'partition':
        return this.partition(d)
      case 'heal':
        this.groups = new Map()
        return 'healed'
      case 'crash':
        return this.crash(d)
      case 'restart':
        return this.restart(d)
      case 'status':
        return namedIds(this.nodes, d)
          .map((id) => this.status(lookup(this.nodes, id)))
          .join('\n')
      case 'log':
        return this.log(upNode(this.nodes, d, 0))
      case 'kv':
        return kvText(upNode(this.nodes, d, 0).kv)
      default:
        throw new Error(`unknown command "${d.command}"`)
    }
  }

  // ---- arguments ----

  /** The member a change is about: the second bare word, or node=N (for a node changing itself). */
  private memberArg(d: Directive): string {
    return hasArg(d, 'node') ? argString(d, 'node') : wordAt(d, 1)
  }

  // ---- nodes ----

  private addNodes(d: Directive): string {
    const count = Number(wordAt(d, 0))
    if (!Number.isInteger(count) || count < 1) throw new Error(`add-nodes: "${wordAt(d, 0)}" is not a count`)
    const previous = this.settings.config
    const flag = (key: string, fallback: boolean): boolean => {
      const value = argString(d, key, String(fallback))
      if (value !== 'true' && value !== 'false') throw new Error(`add-nodes: ${key}=${value} is not true or false`)
      return value === 'true'
    }
    const config: RaftConfig = {
      ...previous,
      electionTicksMin: argInt(d, 'election', previous.electionTicksMin),
      heartbeatTicks: argInt(d, 'heartbeat', previous.heartbeatTicks),
      preVote: flag('prevote', previous.preVote),
      checkQuorum: flag('checkquorum', previous.checkQuorum),
      leaseReads: flag('lease', previous.leaseReads),
      snapshotEntries: argInt(d, 'snapshot', previous.snapshotEntries),
      entriesPerMessageMax: argInt(d, 'batch', previous.entriesPerMessageMax),
    }
    this.settings = { config, seed: argInt(d, 'seed', this.settings.seed) }
    const first = this.nodes.size + 1
    const newIds = Array.from({ length: count }, (_, offset) => String(first + offset))
    const voters = argList(d, 'voters', this.nodes.size === 0 ? newIds : [])
    const lines: string[] = []
    for (const id of newIds) {
      const storage = new SimStorage()
      const kv = new KvStateMachine()
      const engine = this.newEngine(id, voters, storage, kv, this.settings, 0)
      const node: SimNode = { id, voters, settings: this.settings, storage, kv, engine, host: this.host(id, engine, storage), down: false, incarnation: 0, shownRole: '' }
      node.shownRole = currentRoleText(node)
      this.nodes.set(id, node)
      lines.push(...this.drive(node))
      lines.push(this.status(node))
    }
    return lines.join('\n')
  }

  private newEngine(id: string, voters: readonly string[], storage: SimStorage, kv: KvStateMachine, settings: NodeSettings, incarnation: number): RaftEngine {
    const rng = Rng.fromSeed(settings.seed).split(incarnation === 0 ? id : `${id}/${incarnation}`)
    return new RaftEngine({ id, voters, storage, rng, stateMachine: kv, config: settings.config })
  }

  private crash(d: Directive): string {
    const node = upNode(this.nodes, d, 0)
    const unsynced = node.storage.unsyncedCount
    node.down = true
    node.host.stop('crashed')
    node.storage.crash(Rng.fromSeed(0), { lostProbability: hasArg(d, 'lose-unsynced') ? 1 : 0, tornProbability: 0 })
    const fate = unsynced === 0 ? 'no unsynced writes' : `${unsynced} unsynced writes ${hasArg(d, 'lose-unsynced') ? 'lost' : 'kept'}`
    return `${node.id} crashed (${fate})`
  }

  private restart(d: Directive): string {
    const node = lookup(this.nodes, wordAt(d, 0))
    if (!node.down) throw new Error(`node ${node.id} is up`)
    node.incarnation++
    node.kv = new KvStateMachine()
    node.engine = this.newEngine(node.id, node.voters, node.storage, node.kv, node.settings, node.incarnation)
    node.host = this.host(node.id, node.engine, node.storage)
    node.down = false
    node.shownRole = currentRoleText(node)
    return [...this.drive(node), this.status(node)].join('\n')
  }

  // ---- inputs ----

  /** Hosts `engine` through the kernel: its Readies persist to `storage`, queue their messages and print. */
  private host(id: string, engine: RaftEngine, storage: SimStorage): ScriptHost<RaftCommand, RaftMessage, RaftApplied, RaftEvent> {
    return new ScriptHost(engine, {
      storage,
      send: (to, message) => this.queue.push({ from: id, to, message, toIncarnation: this.nodes.get(to)?.incarnation ?? 0 }),
      describe: (ready) => {
        const lines: string[] = []
        for (const applied of ready.applied) lines.push(this.describeApplied(id, applied))
        for (const event of ready.events) {
          const line = describeEvent(id, event)
          if (line !== null) lines.push(line)
          const node = this.nodes.get(id)
          // (A node's first Ready is driven as it is hosted, before it is listed: its role is shown after.)
          if (event.kind === 'role' && node !== undefined) node.shownRole = roleText(id, event.role, event.term, event.leader)
        }
        return lines
      },
    })
  }

  /** What the node's kernel printed since the last call (its Readies, driven after each input). */
  private drive(node: SimNode): string[] {
    const lines = node.host.takePrinted()
    // The engine reports no event when a follower only moves to a higher term or learns its
    // leader, nor when a candidate starts a further election: print what the host sees instead.
    const role = currentRoleText(node)
    if (role !== node.shownRole) lines.push(role)
    node.shownRole = role
    return lines
  }

  /** Ticks the node until its election timeout fires: it asks for (pre-)votes, or wins alone. */
  private campaign(d: Directive): string {
    const node = upNode(this.nodes, d, 0)
    if (node.engine.status().role === 'leader') throw new Error(`campaign: ${node.id} is the leader`)
    const ticksMax = 2 * node.settings.config.electionTicksMin + campaignTicksSlack
    const isVoteRequest = (m: InFlight): boolean => m.from === node.id && (m.message.type === 'preVote' || m.message.type === 'vote')
    const requestsBefore = this.queue.filter(isVoteRequest).length
    const won = (): boolean => node.engine.status().role === 'leader'
    const lines: string[] = []
    for (let tick = 0; tick < ticksMax; tick++) {
      node.host.tick()
      lines.push(...this.drive(node))
      const requests = this.queue.filter(isVoteRequest).slice(requestsBefore)
      if (won() || requests.length > 0) {
        const asked = requests.map((m) => m.to)
        if (requests[0] !== undefined) lines.push(`${node.id} asks ${asked.join(',')} for a ${requests[0].message.type} at t${requests[0].message.term}`)
        return lines.join('\n')
      }
    }
    throw new Error(`campaign: ${node.id} did not time out in ${ticksMax} ticks`)
  }

  private tick(node: SimNode, count: number): string {
    const lines: string[] = []
    for (let tick = 0; tick < count; tick++) {
      node.host.tick()
      lines.push(...this.drive(node))
    }
    return lines.join('\n') || 'ok'
  }

  private tickAll(count: number): string {
    const lines: string[] = []
    for (let tick = 0; tick < count; tick++) {
      for (const node of this.nodes.values()) {
        if (node.down) continue
        node.host.tick()
        lines.push(...this.drive(node))
      }
    }
    return lines.join('\n') || 'ok'
  }

  /** Proposes every key=value in order, then drives the node once: they leave in one Ready. */
  private propose(d: Directive): string {
    const node = upNode(this.nodes, d, 0)
    const puts = d.args.filter((arg) => arg.values.length === 1)
    if (puts.length === 0) throw new Error('propose: expected key=value')
    const lines: string[] = []
    // One input to the kernel: every proposal is in before it drives the node.
    node.host.input('propose', () => {
      for (const put of puts) {
        const data = writeKvPut({ requestId: `r${this.nextRequestId++}`, key: put.key, value: put.values[0]! })
        const lastBefore = node.engine.status().lastIndex
        lines.push(this.describeOutcome(node, lastBefore, node.engine.propose({ type: 'propose', data })))
      }
      return null
    })
    return [...lines, ...this.drive(node)].join('\n')
  }

  private read(d: Directive): string {
    const node = upNode(this.nodes, d, 0)
    const key = wordAt(d, 1)
    const readId = this.nextReadId
    // Known before the kernel drives the node: a lease read is answered in that very drive.
    this.readKeys.set(readId, key)
    const refusal = node.host.input('propose', () => node.engine.propose({ type: 'read', readId, query: writeKvGet(key) }))
    if (refusal === null) this.nextReadId++
    else this.readKeys.delete(readId)
    const line = refusal === null ? `${node.id} read #${readId} ${key} started` : describeRefusal(node.id, refusal)
    return [line, ...this.drive(node)].join('\n')
  }

  /** Proposes `command` at the first named node and prints the outcome and what it caused. */
  private command(d: Directive, command: RaftCommand, accepted?: string): string {
    const node = upNode(this.nodes, d, 0)
    const lastBefore = node.engine.status().lastIndex
    const line = this.describeOutcome(node, lastBefore, node.host.input('propose', () => node.engine.propose(command)) as RaftRefusal | null, accepted)
    return [line, ...this.drive(node)].join('\n')
  }

  /** The refusal, or what was appended (the engine appends at most one entry per command). */
  private describeOutcome(node: SimNode, lastBefore: number, refusal: RaftRefusal | null, accepted?: string): string {
    if (refusal !== null) return describeRefusal(node.id, refusal)
    if (accepted !== undefined) return `${node.id} ${accepted}`
    const last = node.engine.entry(node.engine.status().lastIndex)
    return last !== undefined && last.index > lastBefore ? `${node.id} appended ${entryText(last)}` : `${node.id} accepted`
  }

  // ---- network ----

  private isCut(from: string, to: string): boolean {
    if (this.groups.size === 0) return false
    return this.groups.get(from) !== this.groups.get(to)
  }

  /** Delivers one message; returns the line for it and the receiver's effects, indented. */
  private deliver(inFlight: InFlight): string[] {
    const target = this.nodes.get(inFlight.to)
    if (target === undefined || target.down) return [`${describeInFlight(inFlight)}  (dropped: ${inFlight.to} is down)`]
    if (target.incarnation !== inFlight.toIncarnation) return [`${describeInFlight(inFlight)}  (dropped: ${inFlight.to} crashed since)`]
    if (this.isCut(inFlight.from, inFlight.to)) return [`${describeInFlight(inFlight)}  (dropped: partition)`]
    const refusal = target.host.step(inFlight.from, inFlight.message)
    const effects = this.drive(target)
    if (refusal !== null) effects.unshift(describeRefusal(target.id, refusal))
    return [describeInFlight(inFlight), ...effects.map((line) => `  ${line}`)]
  }

  private stabilize(): string {
    const lines: string[] = []
    let deliveries = 0
    while (this.queue.length > 0) {
      if (++deliveries > stabilizeDeliveriesMax) throw new Error(`stabilize: still not quiet after ${stabilizeDeliveriesMax} deliveries`)
      lines.push(...this.deliver(this.queue.shift()!))
    }
    return lines.join('\n') || 'no messages'
  }

  private deliverMsgs(d: Directive): string {
    const to = wordsOf(d).filter((word) => word !== 'drop')
    const from = hasArg(d, 'from') ? argString(d, 'from') : null
    const type = hasArg(d, 'type') ? argString(d, 'type') : null
    const matches = (m: InFlight): boolean => (to.length === 0 || to.includes(m.to)) && (from === null || m.from === from) && (type === null || m.message.type === type)
    const chosen = this.queue.filter(matches)
    this.queue = this.queue.filter((m) => !matches(m))
    if (chosen.length === 0) return 'no messages'
    if (hasArg(d, 'drop')) return chosen.map((m) => `${describeInFlight(m)}  (dropped)`).join('\n')
    return chosen.flatMap((m) => this.deliver(m)).join('\n')
  }

  private partition(d: Directive): string {
    const groups: string[][] = [[]]
    for (const word of wordsOf(d)) {
      if (word === '|') groups.push([])
      else groups[groups.length - 1]!.push(lookup(this.nodes, word).id)
    }
    const listed = new Set(groups.flat())
    const rest = [...this.nodes.keys()].filter((id) => !listed.has(id))
    if (rest.length > 0) groups.push(rest)
    this.groups = new Map(groups.flatMap((group, index) => group.map((id) => [id, index] as const)))
    return `partitioned: ${groups.map((group) => group.join(' ')).join(' | ')}`
  }

  // ---- printing ----

  private status(node: SimNode): string {
    if (node.down) return `${node.id}: down`
    const e = node.engine.status()
    const leader = e.leader === null ? '' : ` leader=${e.leader}`
    const vote = e.vote === null ? '' : ` vote=${e.vote}`
    return `${node.id}: ${e.role} t${e.term}${vote}${leader} commit=${e.commit} applied=${e.applied} last=${e.lastIndex} ${membershipText(e.voters, e.learners)}`
  }

  private log(node: SimNode): string {
    const e = node.engine.status()
    const { snapshot } = e
    const lines = [`${node.id}: snapshot ${snapshot.index}@t${snapshot.term} ${membershipText(snapshot.voters, snapshot.learners)}`]
    for (let index = e.firstIndex; index <= e.lastIndex; index++) {
      lines.push(`${entryText(node.engine.entry(index)!)}${index === e.commit ? '   <- commit' : ''}`)
    }
    if (e.lastIndex === snapshot.index) lines.push('(no entries)')
    return lines.join('\n')
  }

  private describeApplied(id: string, applied: RaftApplied): string {
    switch (applied.type) {
      case 'entry':
        return `${id} applied ${entryText(applied)}${applied.reply !== null && !(applied.reply.length === 1 && applied.reply[0] === 1) ? ' (refused by the state machine)' : ''}`
      case 'read': {
        const key = this.readKeys.get(applied.readId) ?? '?'
        const value = readKvValue(applied.reply)
        return `${id} read #${applied.readId} ${key}=${value ?? '(absent)'} at ${applied.index}`
      }
      case 'readFailed':
        return `${id} read #${applied.readId} failed: ${applied.reason}`
      case 'snapshotInstalled':
        return `${id} installed snapshot ${applied.index}@t${applied.term}`
    }
  }
}

function describeInFlight(m: InFlight): string {
  return `${m.from}->${m.to} ${describeRaftMessage(m.message)}`
}

/** What a script prints of an event; null for commit progress, which the applied entries already show. */
function describeEvent(id: string, event: RaftEvent): string | null {
  switch (event.kind) {
    case 'commit':
      return null
    case 'role':
      return roleText(id, event.role, event.term, event.leader)
    case 'membership':
      return `${id} membership ${membershipText(event.voters, event.learners)} at ${event.index}`
    case 'snapshot':
      return `${id} snapshot ${event.how} at ${event.index}`
  }
}

/** The node's role line as its engine's status shows it now. */
function currentRoleText(node: SimNode): string {
  const { role, term, leader } = node.engine.status()
  return roleText(node.id, role, term, leader)
}

function roleText(id: string, role: RaftRole, term: number, leader: string | null): string {
  return `${id} is ${role} at t${term}${role === 'follower' ? (leader === null ? ' (no leader)' : ` (leader ${leader})`) : ''}`
}

function describeRefusal(id: string, refusal: Refusal | RaftRefusal): string {
  return `${id} refused: ${refusal.code} (${refusal.message})`
}

function membershipText(voters: readonly string[], learners: readonly string[]): string {
  return `voters=(${voters.join(',')})${learners.length > 0 ? ` learners=(${learners.join(',')})` : ''}`
}

function entryText(entry: Pick<Entry, 'index' | 'term' | 'kind' | 'data'>): string {
  const at = `${entry.index}@t${entry.term}`
  switch (entry.kind) {
    case 'noop':
      return `${at} noop`
    case 'config': {
      const decoded = decodeWith(entry.data, readMembership, 'membership')
      return `${at} config ${decoded.ok ? membershipText(decoded.value.voters, decoded.value.learners) : '(malformed)'}`
    }
    case 'command': {
      const put = readKvPut(entry.data)
      return `${at} put ${put === undefined ? '(malformed)' : `${put.key}=${put.value}`}`
    }
  }
}

/** The store's contents, from its snapshot encoding (count, then key and value pairs in key order). */
function kvText(kv: KvStateMachine): string {
  const decoder = decoding.createDecoder(kv.snapshot())
  const count = readUint(decoder, kvLimits.keysMax, 'keys')
  const pairs: string[] = []
  for (let index = 0; index < count; index++) pairs.push(`${readText(decoder, kvLimits.keyBytesMax, 'key')}=${readText(decoder, kvLimits.valueBytesMax, 'value')}`)
  return pairs.join(' ') || '(empty)'
}

function raftHandler(): DirectiveHandler {
  const cluster = new RaftCluster()
  return (directive) => cluster.handle(directive)
}

describe('raft interaction scripts', () => {
  runScripts(join(import.meta.dirname, 'raft'), raftHandler)
})
