/**
 * The replica: one node composing every engine (DESIGN §3) behind one
 * `step` / `tick` / `propose` / `ready` / `advance`.
 *
 * - crdt: eventual namespaces, and the LWW register every auto write ends in;
 * - gossip: membership, and the published state follower reads are served from;
 * - raft: strong namespaces, the policy table, and the auto path's fast log;
 * - pbft: byzantine namespaces (on the replicas of the BFT group);
 * - prober: link measurements and the mode of every link and group.
 *
 * Routing: a peer message names its engine; a client command is routed by
 * its namespace's policy. A strong command at a follower is forwarded to the
 * leader, which proposes it and answers; the origin also answers when it
 * applies the entry itself, whichever comes first.
 *
 * The hybrid path (`auto`): a write is stamped with this node's hybrid clock
 * once, when it arrives. When the home group is in datacenter mode it goes to
 * Raft; if it has not committed within `autoDeadlineMs`, or Raft cannot take
 * it, or the group is not in datacenter mode, it is joined into the CRDT
 * register instead. Both paths write the same (stamp, value) into the same
 * LWW register (a committed auto entry is joined on every replica that
 * applies it), so a write that takes both is applied once in effect, and
 * none is lost when the mode switches under it.
 *
 * The Ready: every engine's writes (their storage keys do not overlap) and
 * messages, tagged with the engine, and the replica's answers. Answers are
 * produced in `advance`, after the host has persisted and sent what the
 * engines asked for, and handed out in the next Ready.
 */
import { encodeWith } from '../codec/envelope.ts'
import { readUint, utf8Length, writeUint } from '../codec/fields.ts'
import { TwoSlotRecord } from '../codec/record.ts'
import { CrdtEngine, type CrdtAck } from '../crdt/engine.ts'
import type { Hlc } from '../crdt/hlc.ts'
import type { CrdtOp } from '../crdt/ops.ts'
import { GossipEngine } from '../gossip/engine.ts'
import { PbftEngine, type PbftApplied } from '../pbft/engine.ts'
import type { PbftReplica } from '../pbft/config.ts'
import { RaftEngine, type RaftApplied } from '../raft/engine.ts'
import { Prober } from '../adaptive/prober.ts'
import { defaultProberConfig, type ProberConfig } from '../adaptive/proberConfig.ts'
import type { ModeDetectorConfig } from '../adaptive/modeConfig.ts'
import type { Mode } from '../adaptive/mode.ts'
import type { ModeChangedEvent } from '../adaptive/modeEvents.ts'
import { compressionLevelFor } from '../adaptive/linkCompression.ts'
import { assert } from '../lib/assert.ts'
import { isValidId, limits } from '../lib/limits.ts'
import type { Rng } from '../lib/prng.ts'
import type { Result } from '../lib/result.ts'
import type { Clock, NodeId, Signer, StorageReader, StorageWrite } from '../ports.ts'
import { ReadyBuffer, type Engine, type Ready, type Refusal } from '../ready.ts'
import type { ReplicaApplied, ReplicaCommand, ReplicaReply, AutoReason, Position } from './commands.ts'
import { defaultReplicaConfig, replicaLimits, validateReplicaConfig, type ReplicaConfig } from './config.ts'
import { decodeLogCommand, decodeLogReply, writeKeyValue, writeLogCommand as writeLogCommandBytes, type KeyValue, type LogCommand, type LogReply } from './logCommand.ts'
import type { ForwardMessage, ForwardResult, ReplicaMessage } from './messages.ts'
import { keyProblem, namespaceOf, policyProblem, type Consistency, type Policy } from './policy.ts'
import { decodeKeyValue, encodeKeyQuery, StrongState } from './strongState.ts'
import { readRegisterValue, registerDeleted, registerValue } from './registerValue.ts'
import { publishedKey, readPublished } from './published.ts'
import type { ReplicaEvent } from './events.ts'
import { Placement } from './placement.ts'
import { snapshotOf, type ReplicaSnapshot } from './snapshot.ts'
import { defaultPlacementConfig, type PlacementConfig } from './placementConfig.ts'

export interface ReplicaMember {
  readonly id: NodeId
  readonly region: string
}

export interface ReplicaOptions {
  readonly id: NodeId
  /** Every member of the cluster, this node included, with its region. */
  readonly members: readonly ReplicaMember[]
  /** The Raft group (the home group of strong and auto namespaces); a node outside it has no Raft engine. */
  readonly raftVoters: readonly NodeId[]
  /** The PBFT group (3f+1 replicas with their public keys); empty: no byzantine namespaces. */
  readonly pbftReplicas: readonly PbftReplica[]
  /** This node's signer; needed when it is one of `pbftReplicas`. */
  readonly signer: Signer | null
  readonly storage: StorageReader
  readonly rng: Rng
  readonly clock: Clock
  /** Policies every replica starts with (the same on all); runtime changes go through `setPolicy`. */
  readonly policies?: Readonly<Record<string, Policy>>
  readonly config?: Partial<ReplicaConfig>
  readonly prober?: Partial<ProberConfig>
  readonly mode?: ModeDetectorConfig
  readonly placement?: Partial<PlacementConfig>
}

export interface ReplicaMetrics {
  requests: number
  repliesOk: number
  repliesFailed: number
  timeouts: number
  forwardsSent: number
  forwardsServed: number
  /** Forward answers meant for an earlier incarnation of this node, ignored. */
  forwardRepliesStale: number
  peerMessagesRefused: number
  published: number
  /** Writes by the path that answered them. */
  'path.raft': number
  'path.crdt': number
  'path.pbft': number
  /** Auto writes by why they took the CRDT path. */
  'auto.groupMode': number
  'auto.deadline': number
  'auto.raftUnavailable': number
  'auto.raft': number
  leaderTransfers: number
  homeProposals: number
}

/** The Raft group's id in the mode detector, and the PBFT group's. */
export const raftGroupId = 'raft'
export const pbftGroupId = 'pbft'
/** The PBFT client id this replica's byzantine requests carry at its own gateway. */
const pbftClient = 'replica'

type PendingKind = 'log' | 'auto' | 'read' | 'pbft' | 'pbftRead' | 'crdt'

interface Pending {
  readonly requestId: number
  readonly kind: PendingKind
  readonly deadlineMs: number
  readonly key: string
  /** Log writes and auto writes: the proposal's stamp. */
  readonly stamp: Hlc | null
  /** Auto writes: the register value, the mode seen, and when Raft's chance ends (Infinity once on the CRDT path). */
  readonly registerValue: string
  readonly mode: Mode
  autoDeadlineMs: number
  autoReason: AutoReason
  /** Ids in the engines' own request spaces, to clean up. */
  readId: number
  pbftTimestamp: number
  crdtId: number
}

interface Forwarded {
  readonly origin: NodeId
  readonly requestId: number
  /** The origin's incarnation when it forwarded: echoed in the answer. */
  readonly boot: number
  readonly expiresMs: number
}

type InnerReady = { readonly engine: 'crdt' | 'gossip' | 'raft' | 'pbft'; readonly ready: Ready<unknown, unknown, unknown> }

export class Replica implements Engine<ReplicaCommand, ReplicaMessage, ReplicaApplied, ReplicaEvent> {
  readonly id: NodeId
  readonly region: string
  readonly config: ReplicaConfig
  readonly crdt: CrdtEngine
  readonly gossip: GossipEngine
  readonly raft: RaftEngine | null
  readonly pbft: PbftEngine | null
  readonly prober: Prober
  readonly placement: Placement
  /** The Raft state machine: strong values, the policy table, at-most-once stamps. */
  readonly strong: StrongState
  /** The PBFT state machine (byzantine values). */
  readonly byzantine: StrongState
  readonly metrics: ReplicaMetrics = {
    requests: 0,
    repliesOk: 0,
    repliesFailed: 0,
    timeouts: 0,
    forwardsSent: 0,
    forwardsServed: 0,
    forwardRepliesStale: 0,
    peerMessagesRefused: 0,
    published: 0,
    'path.raft': 0,
    'path.crdt': 0,
    'path.pbft': 0,
    'auto.groupMode': 0,
    'auto.deadline': 0,
    'auto.raftUnavailable': 0,
    'auto.raft': 0,
    leaderTransfers: 0,
    homeProposals: 0,
  }
  /**
   * This node's incarnation: one more than the last one stored, synced in the
   * first Ready (before any forward can leave). Forward answers carry it back.
   */
  readonly boot: number
  private bootPersisted = false
  private readonly bootStore = bootRecord()
  private readonly clock: Clock
  private readonly regionOf: ReadonlyMap<NodeId, string>
  private readonly raftVoters: readonly NodeId[]
  private readonly pbftMembers: readonly NodeId[]
  private readonly out = new ReadyBuffer<ReplicaMessage, ReplicaApplied, ReplicaEvent>()
  private inner: InnerReady[] = []
  private readonly pending = new Map<number, Pending>()
  private readonly byStamp = new Map<string, number>()
  private readonly byReadId = new Map<number, number>()
  private readonly byPbftTimestamp = new Map<number, number>()
  private readonly byCrdtId = new Map<number, number>()
  private readonly forwardedWrites = new Map<string, Forwarded>()
  private readonly forwardedReads = new Map<number, Forwarded>()
  private nextReadId = 1
  private nextCrdtId = 1
  private lastPbftTimestamp = 0
  private ticks = 0
  private lastPlacementMs = 0

  constructor(options: ReplicaOptions) {
    const config: ReplicaConfig = { ...defaultReplicaConfig, ...options.config }
    validateReplicaConfig(config)
    assert(isValidId(options.id), 'a replica needs a valid id')
    if (options.members.length > replicaLimits.membersMax) throw new RangeError(`${options.members.length} members, membersMax=${replicaLimits.membersMax}`)
    const self = options.members.find((member) => member.id === options.id)
    if (self === undefined) throw new RangeError(`${options.id} is not among the members`)
    this.id = options.id
    this.region = self.region
    this.config = config
    this.clock = options.clock
    this.boot = (this.bootStore.load(options.storage) ?? 0) + 1
    this.regionOf = new Map(options.members.map((member) => [member.id, member.region]))
    for (const voter of options.raftVoters) if (!this.regionOf.has(voter)) throw new RangeError(`raft voter ${voter} is not a member`)
    this.raftVoters = [...options.raftVoters].sort()
    this.pbftMembers = options.pbftReplicas.map((replica) => replica.id)
    const ids = options.members.map((member) => member.id)
    const others = ids.filter((id) => id !== this.id)
    this.strong = new StrongState(options.policies ?? {})
    this.byzantine = new StrongState()
    this.crdt = new CrdtEngine({
      id: this.id,
      peers: ids,
      storage: options.storage,
      rng: options.rng.split('crdt'),
      clock: options.clock,
      config: config.crdt,
      compressionFor: (peer) => compressionLevelFor(this.prober.linkMode(peer) ?? 'hybrid'),
    })
    this.gossip = new GossipEngine({ id: this.id, seeds: others, knownMembers: ids, storage: options.storage, rng: options.rng.split('gossip'), tickMs: config.tickMs, config: config.gossip })
    this.raft = this.raftVoters.includes(this.id)
      ? new RaftEngine({ id: this.id, voters: this.raftVoters, storage: options.storage, rng: options.rng.split('raft'), stateMachine: this.strong, config: config.raft })
      : null
    if (this.pbftMembers.includes(this.id)) {
      if (options.signer === null) throw new RangeError(`${this.id} is a PBFT replica and needs a signer`)
      this.pbft = new PbftEngine({ id: this.id, replicas: options.pbftReplicas, signer: options.signer, stateMachine: this.byzantine, storage: options.storage, config: config.pbft })
      // Its byzantine requests go on above what the recovered group executed, whatever the wall clock says now.
      this.lastPbftTimestamp = Math.max(0, this.pbft.lastExecutedTimestamp(pbftClient))
    } else {
      this.pbft = null
    }
    this.prober = new Prober({ id: this.id, peers: others, config: { ...defaultProberConfig, ...options.prober }, modeConfig: options.mode })
    const nowMs = this.clock.nowMs()
    this.prober.setGroup(raftGroupId, this.raftVoters.filter((id) => id !== this.id), this.raft !== null, nowMs)
    if (this.pbftMembers.length > 0) this.prober.setGroup(pbftGroupId, this.pbftMembers.filter((id) => id !== this.id), this.pbft !== null, nowMs)
    this.placement = new Placement({ ...defaultPlacementConfig, ...options.placement })
    this.lastPlacementMs = nowMs
  }

  /** What a viewer shows of this node: one serializable copy (see snapshot.ts). */
  snapshot(): ReplicaSnapshot {
    return snapshotOf(this)
  }

  /** A member's region, or null for a node this replica does not know. */
  regionOfMember(id: NodeId): string | null {
    return this.regionOf.get(id) ?? null
  }

  /** The policy a key's namespace has now on this replica. */
  policyOf(namespace: string): Policy {
    return this.strong.policies.of(namespace)
  }

  /** The mode of the Raft group (the home group) as this node measures it. */
  homeMode(): Mode {
    return this.prober.groupMode(raftGroupId) ?? 'hybrid'
  }

  /** Raft's leader as this node knows it (itself included), or null. */
  get leader(): NodeId | null {
    return this.raft === null ? null : this.raft.role === 'leader' ? this.id : this.raft.leader
  }

  // ---- inputs ------------------------------------------------------------

  step(from: NodeId, message: ReplicaMessage): Refusal | null {
    this.out.assertIdle('step')
    const refusal = this.route(from, message)
    if (refusal !== null) {
      this.metrics.peerMessagesRefused++
      this.out.events.push({ source: 'replica', event: { kind: 'refused', from, engine: message.engine, code: refusal.code, message: refusal.message } })
    }
    return refusal
  }

  private route(from: NodeId, message: ReplicaMessage): Refusal | null {
    if (!this.regionOf.has(from)) return { code: 'unknownPeer', message: `${from} is not a member` }
    switch (message.engine) {
      case 'crdt':
        return this.crdt.step(from, message.message)
      case 'gossip':
        return this.gossip.step(from, message.message)
      case 'raft':
        return this.raft === null ? notMember('raft', this.id) : this.raft.step(from, message.message)
      case 'pbft':
        return this.pbft === null ? notMember('pbft', this.id) : this.pbft.step(from, message.message)
      case 'probe': {
        const handled = this.prober.onMessage(from, message.message, this.clock.nowMs())
        if (handled.reply !== null) this.send(handled.reply.to, { engine: 'probe', message: handled.reply.message })
        this.onModeChanges(handled.changes)
        return handled.refusal
      }
      case 'replica':
        return this.onForward(from, message.message)
    }
  }

  tick(): void {
    this.out.assertIdle('tick')
    this.ticks++
    const nowMs = this.clock.nowMs()
    this.crdt.tick()
    this.gossip.tick()
    this.raft?.tick()
    this.pbft?.tick()
    for (const probe of this.prober.tick(nowMs)) this.send(probe.to, { engine: 'probe', message: probe.message })
    this.onModeChanges(this.prober.takeChanges())
    this.checkDeadlines(nowMs)
    if (nowMs - this.lastPlacementMs >= this.config.placementIntervalMs) {
      this.lastPlacementMs = nowMs
      this.considerPlacement(nowMs)
    }
  }

  propose(command: ReplicaCommand): Refusal | null {
    this.out.assertIdle('propose')
    if (!Number.isSafeInteger(command.requestId) || command.requestId < 0) return { code: 'invalidRequest', message: 'requestId must be a non-negative integer' }
    if (this.pending.has(command.requestId)) return { code: 'duplicateRequest', message: `request ${command.requestId} is still waiting for its answer` }
    if (this.pending.size >= replicaLimits.pendingRequestsMax) return { code: 'overloaded', message: `pendingRequestsMax=${replicaLimits.pendingRequestsMax} requests wait for answers` }
    this.metrics.requests++
    if (command.type === 'setPolicy') return this.setPolicy(command.requestId, command.namespace, command.policy)
    const key = command.type === 'crdt' ? command.op.key : command.key
    const problem = keyProblem(key)
    if (problem !== null) return problem
    const policy = this.policyOf(namespaceOf(key))
    switch (command.type) {
      case 'put':
      case 'delete': {
        if (command.consistency !== undefined && command.consistency !== policy.consistency) return mismatch(key, command.consistency, policy.consistency)
        if (policy.valueType !== 'register') return { code: 'typeMismatch', message: `namespace ${namespaceOf(key)} holds ${policy.valueType} values: use crdt operations` }
        if (command.type === 'put') {
          const valueBytes = utf8Length(command.value)
          if (valueBytes > limits.valueBytesMax) return { code: 'tooLarge', message: `value is ${valueBytes} bytes; valueBytesMax is ${limits.valueBytesMax}` }
        }
        return this.write(command.requestId, key, command.type === 'put' ? command.value : null, policy.consistency)
      }
      case 'get':
        return this.read(command.requestId, key, policy.consistency, command.consistency ?? policy.consistency)
      case 'crdt':
        return this.crdtOperation(command.requestId, command.op, policy)
      case 'awareness':
        return this.publishAwareness(command.requestId, key, command.update, policy)
    }
  }

  private publishAwareness(requestId: number, key: string, update: Uint8Array, policy: Policy): Refusal | null {
    if (policy.consistency !== 'eventual' || policy.valueType !== 'doc') return { code: 'typeMismatch', message: `awareness is for documents; namespace ${namespaceOf(key)} holds ${policy.consistency} ${policy.valueType} values` }
    const refusal = this.crdt.publishAwareness(key, update)
    if (refusal !== null) return refusal
    this.reply({ type: 'reply', requestId, ok: true, path: 'crdt', position: { kind: 'crdt', timestamp: null, replica: null } })
    return null
  }

  /** Document `key`'s Yjs state vector (y-protocols SyncStep1); see CrdtEngine.docStateVector. */
  docStateVector(key: string): Uint8Array {
    return this.crdt.docStateVector(key)
  }

  /** What a holder of `stateVector` lacks of document `key` (y-protocols SyncStep2); see CrdtEngine.docDiff. */
  docDiff(key: string, stateVector: Uint8Array): Result<Uint8Array, Refusal> {
    return this.crdt.docDiff(key, stateVector)
  }

  /** The present awareness states of document `key` as one y-protocols update, or null. */
  awarenessStates(key: string): Uint8Array | null {
    return this.crdt.awarenessStates(key)
  }

  // ---- writes ------------------------------------------------------------

  private write(requestId: number, key: string, value: string | null, consistency: Consistency): Refusal | null {
    const stamp = this.crdt.hlc.now()
    switch (consistency) {
      case 'strong': {
        const command: LogCommand = value === null ? { kind: 'delete', origin: this.id, stamp, key } : { kind: 'put', origin: this.id, stamp, key, value }
        return this.proposeLog(this.newPending(requestId, 'log', key, stamp), command)
      }
      case 'byzantine':
        return this.proposeByzantine(requestId, key, value, stamp)
      case 'eventual':
        return this.proposeCrdt(this.newPending(requestId, 'crdt', key, stamp), { type: 'register', key, value: value === null ? registerDeleted : registerValue(value) })
      case 'auto':
        return this.autoWrite(requestId, key, value === null ? registerDeleted : registerValue(value), stamp)
    }
  }

  private autoWrite(requestId: number, key: string, encoded: string, stamp: Hlc): Refusal | null {
    const mode = this.homeMode()
    const pending = this.newPending(requestId, 'auto', key, stamp, encoded, mode)
    if (mode !== 'datacenter') return this.autoFallback(pending, 'groupMode')
    pending.autoDeadlineMs = this.clock.nowMs() + this.config.autoDeadlineMs
    pending.autoReason = 'datacenter'
    // When Raft cannot take it, proposeLog moves it to the CRDT path itself.
    return this.proposeLog(pending, { kind: 'auto', origin: this.id, stamp, key, value: encoded })
  }

  /** The CRDT path of an auto write: the same stamp, so a Raft commit of it, earlier or later, is the same write. */
  private autoFallback(pending: Pending, reason: AutoReason): Refusal | null {
    pending.autoDeadlineMs = Infinity
    pending.autoReason = reason
    this.metrics[`auto.${reason}` as 'auto.groupMode']++
    return this.proposeCrdt(pending, { type: 'register', key: pending.key, value: pending.registerValue, at: { timestamp: pending.stamp!, replica: this.id } })
  }

  /** The CRDT path taken after the request was accepted: a refusal then must become the answer. */
  private autoFallbackLater(pending: Pending, reason: AutoReason): void {
    const refusal = this.autoFallback(pending, reason)
    if (refusal !== null) this.reply({ type: 'reply', requestId: pending.requestId, ok: false, code: refusal.code, message: refusal.message })
  }

  private proposeCrdt(pending: Pending, op: CrdtOp): Refusal | null {
    const crdtId = this.nextCrdtId++
    const refusal = this.crdt.propose({ requestId: crdtId, op })
    if (refusal !== null) {
      this.forget(pending)
      return refusal
    }
    pending.crdtId = crdtId
    this.byCrdtId.set(crdtId, pending.requestId)
    return null
  }

  private crdtOperation(requestId: number, op: CrdtOp, policy: Policy): Refusal | null {
    if (policy.consistency !== 'eventual') return { code: 'consistencyMismatch', message: `crdt operations need an eventual namespace; ${namespaceOf(op.key)} is ${policy.consistency}` }
    const matches = op.type === policy.valueType || (policy.valueType === 'register' && op.type === 'mvregister')
    if (!matches || (op.type === 'register' && op.at !== undefined)) return { code: 'typeMismatch', message: `namespace ${namespaceOf(op.key)} holds ${policy.valueType} values, not ${op.type}` }
    if (op.type === 'register') return { code: 'typeMismatch', message: 'register values are written with put and delete' }
    return this.proposeCrdt(this.newPending(requestId, 'crdt', op.key, null), op)
  }

  private setPolicy(requestId: number, namespace: string, policy: Policy): Refusal | null {
    if (!isValidId(namespace)) return { code: 'invalidNamespace', message: `namespace ${JSON.stringify(namespace)} must be 1 to 64 characters of [A-Za-z0-9._-]` }
    const problem = policyProblem(policy)
    if (problem !== null) return problem
    const stamp = this.crdt.hlc.now()
    return this.proposeLog(this.newPending(requestId, 'log', namespace, stamp), { kind: 'policy', origin: this.id, stamp, namespace, policy })
  }

  /**
   * Puts a command into the Raft log: proposed here when this node leads,
   * else forwarded to the leader. Returns a refusal (and forgets `pending`)
   * when it cannot be sent anywhere, except for auto writes, which then take
   * the CRDT path.
   */
  private proposeLog(pending: Pending, command: LogCommand): Refusal | null {
    const unavailable = (refusal: Refusal): Refusal | null => {
      if (pending.kind === 'auto') return this.autoFallback(pending, 'raftUnavailable')
      this.forget(pending)
      return refusal
    }
    if (this.raft === null) return unavailable({ code: 'notInGroup', message: `${this.id} is not in the Raft group (${this.raftVoters.join(', ')})` })
    this.byStamp.set(stampKey(this.id, command.stamp), pending.requestId)
    if (this.raft.role === 'leader') {
      const refusal = this.raft.propose({ type: 'propose', data: encodeWith(command, writeLogCommandBytes) })
      if (refusal !== null) return unavailable(refusal)
      this.recordWrite(command, this.id)
      return null
    }
    const leader = this.raft.leader
    if (leader === null) return unavailable({ code: 'noLeader', message: 'no Raft leader is known; retry shortly' })
    this.send(leader, { engine: 'replica', message: { type: 'forward', requestId: pending.requestId, boot: this.boot, command } })
    this.metrics.forwardsSent++
    return null
  }

  private proposeByzantine(requestId: number, key: string, value: string | null, stamp: Hlc): Refusal | null {
    if (this.pbft === null) return { code: 'notInGroup', message: `byzantine writes enter at a PBFT replica (${this.pbftMembers.join(', ') || 'none configured'})` }
    const command: LogCommand = value === null ? { kind: 'delete', origin: this.id, stamp, key } : { kind: 'put', origin: this.id, stamp, key, value }
    // PBFT's client table wants increasing timestamps per client: this replica is one client.
    const timestamp = Math.max(this.lastPbftTimestamp + 1, this.clock.nowMs() * 1000)
    const refusal = this.pbft.propose({ type: 'request', client: pbftClient, timestamp, operation: encodeWith(command, writeLogCommandBytes) })
    if (refusal !== null) return refusal
    this.lastPbftTimestamp = timestamp
    const pending = this.newPending(requestId, 'pbft', key, stamp, value === null ? registerDeleted : registerValue(value))
    pending.pbftTimestamp = timestamp
    this.byPbftTimestamp.set(timestamp, requestId)
    return null
  }

  // ---- reads -------------------------------------------------------------

  private read(requestId: number, key: string, consistency: Consistency, asked: Consistency): Refusal | null {
    if (asked !== consistency && asked !== 'eventual') return mismatch(key, asked, consistency)
    const nowAnswer = (reply: Omit<Extract<ReplicaReply, { ok: true }>, 'type' | 'requestId' | 'ok'>): null => {
      this.reply({ type: 'reply', requestId, ok: true, ...reply })
      return null
    }
    if (consistency === 'eventual' || consistency === 'auto') {
      // Registers hold tagged values (registerValue.ts); other types are answered as they are.
      const value = this.crdt.read(key)
      return nowAnswer({ path: 'local', position: { kind: 'crdt', timestamp: null, replica: null }, value: typeof value === 'string' ? readRegisterValue(value) : (value ?? null) })
    }
    if (asked === 'eventual') {
      const published = readPublished(this.gossip.update(publishedKey(consistency, key)))
      return nowAnswer({ path: 'published', position: { kind: 'published', version: published.version }, value: published.value })
    }
    if (consistency === 'byzantine') {
      if (this.pbft === null) return { code: 'notInGroup', message: `byzantine reads are served by PBFT replicas (${this.pbftMembers.join(', ')}); ask with consistency=eventual for the published value` }
      const readId = this.nextReadId++
      const refusal = this.pbft.propose({ type: 'query', readId, query: encodeKeyQuery(key) })
      if (refusal !== null) return refusal
      this.newPending(requestId, 'pbftRead', key, null).readId = readId
      this.byReadId.set(readId, requestId)
      return null
    }
    // strong: a linearizable read at the leader.
    if (this.raft === null) return { code: 'notInGroup', message: `${this.id} is not in the Raft group; ask with consistency=eventual for the published value` }
    const pending = this.newPending(requestId, 'read', key, null)
    if (this.raft.role === 'leader') {
      const readId = this.nextReadId++
      pending.readId = readId
      this.byReadId.set(readId, requestId)
      const refusal = this.raft.propose({ type: 'read', readId, query: encodeKeyQuery(key) })
      if (refusal !== null) {
        this.forget(pending)
        return refusal
      }
      return null
    }
    const leader = this.raft.leader
    if (leader === null) {
      this.forget(pending)
      return { code: 'noLeader', message: 'no Raft leader is known; retry shortly' }
    }
    this.send(leader, { engine: 'replica', message: { type: 'forwardRead', requestId, boot: this.boot, key } })
    this.metrics.forwardsSent++
    return null
  }

  // ---- forwarding (the leader's side and the origin's) --------------------

  private onForward(from: NodeId, message: ForwardMessage): Refusal | null {
    const nowMs = this.clock.nowMs()
    if (message.type === 'forwardReply') {
      if (message.boot !== this.boot) {
        this.metrics.forwardRepliesStale++
        return null
      }
      const pending = this.pending.get(message.requestId)
      if (pending === undefined) return null // answered already (by our own apply) or timed out
      this.answerForwarded(pending, message.result)
      return null
    }
    const fail = (code: string, text: string): null => {
      this.send(from, { engine: 'replica', message: { type: 'forwardReply', requestId: message.requestId, boot: message.boot, result: { kind: 'failed', code, message: text, leader: this.leader } } })
      return null
    }
    if (this.raft === null || this.raft.role !== 'leader') return fail('notLeader', `${this.id} does not lead the Raft group`)
    if (this.forwardedWrites.size + this.forwardedReads.size >= replicaLimits.forwardedRequestsMax) return fail('overloaded', `forwardedRequestsMax=${replicaLimits.forwardedRequestsMax}`)
    this.metrics.forwardsServed++
    const forwarded: Forwarded = { origin: from, requestId: message.requestId, boot: message.boot, expiresMs: nowMs + this.config.requestTimeoutMs }
    if (message.type === 'forward') {
      if (message.command.origin !== from) return { code: 'forgedOrigin', message: `${from} forwarded a command of ${message.command.origin}` }
      const refusal = this.raft.propose({ type: 'propose', data: encodeWith(message.command, writeLogCommandBytes) })
      if (refusal !== null) return fail(refusal.code, refusal.message)
      this.forwardedWrites.set(stampKey(from, message.command.stamp), forwarded)
      this.recordWrite(message.command, from)
      return null
    }
    const readId = this.nextReadId++
    const refusal = this.raft.propose({ type: 'read', readId, query: encodeKeyQuery(message.key) })
    if (refusal !== null) return fail(refusal.code, refusal.message)
    this.forwardedReads.set(readId, forwarded)
    return null
  }

  private answerForwarded(pending: Pending, result: ForwardResult): void {
    if (result.kind === 'failed') {
      if (pending.kind === 'auto' && pending.autoDeadlineMs !== Infinity) return this.autoFallbackLater(pending, 'raftUnavailable')
      return this.fail(pending, result.code, result.message, result.leader)
    }
    if (result.kind === 'read') return this.succeed(pending, 'raft', { kind: 'raft', index: result.index, version: result.value.version }, result.value.value)
    this.answerLogReply(pending, result.index, result.reply)
  }

  private answerLogReply(pending: Pending, index: number, reply: LogReply): void {
    if (reply.outcome === 'refused') return this.fail(pending, reply.code, reply.message)
    const version = reply.outcome === 'applied' ? reply.version : 0
    if (pending.kind === 'auto') {
      // Raft answered after the CRDT path took over: that path answers.
      if (pending.autoDeadlineMs === Infinity) return
      this.metrics['auto.raft']++
    }
    this.succeed(pending, 'raft', { kind: 'raft', index, version })
  }

  // ---- what the engines applied --------------------------------------------

  hasReady(): boolean {
    return !this.bootPersisted || this.out.hasPending || this.crdt.hasReady() || this.gossip.hasReady() || (this.raft?.hasReady() ?? false) || (this.pbft?.hasReady() ?? false)
  }

  ready(): Ready<ReplicaMessage, ReplicaApplied, ReplicaEvent> {
    const writes: StorageWrite[] = []
    let mustSync = false
    if (!this.bootPersisted) {
      writes.push(this.bootStore.write(this.boot))
      mustSync = true
    }
    const take = (engine: InnerReady['engine'], source: Engine<unknown, unknown, unknown, unknown> | null): void => {
      if (source === null || !source.hasReady()) return
      const ready = source.ready()
      this.inner.push({ engine, ready })
      for (const write of ready.writes) writes.push(write)
      mustSync ||= ready.mustSync
      for (const { to, message } of ready.messages) this.out.messages.push({ to, message: { engine, message } as ReplicaMessage })
      for (const event of ready.events) this.out.events.push({ source: engine, event } as ReplicaEvent)
    }
    take('crdt', this.crdt as Engine<unknown, unknown, unknown, unknown>)
    take('gossip', this.gossip as Engine<unknown, unknown, unknown, unknown>)
    take('raft', this.raft as Engine<unknown, unknown, unknown, unknown> | null)
    take('pbft', this.pbft as Engine<unknown, unknown, unknown, unknown> | null)
    return this.out.handOut(writes, mustSync)
  }

  advance(ready: Ready<ReplicaMessage, ReplicaApplied, ReplicaEvent>): void {
    this.out.advance(ready)
    this.bootPersisted = true
    const inner = this.inner
    this.inner = []
    for (const { engine, ready: innerReady } of inner) this.engine(engine).advance(innerReady)
    // Only now, with every engine's writes persisted, may what they applied become visible.
    for (const { engine, ready: innerReady } of inner) {
      for (const applied of innerReady.applied) {
        if (engine === 'raft') this.onRaftApplied(applied as RaftApplied)
        else if (engine === 'crdt') this.onCrdtApplied(applied as CrdtAck)
        else if (engine === 'pbft') this.onPbftApplied(applied as PbftApplied)
        // Gossip's applied (left, published) ask nothing more of the replica.
      }
    }
  }

  private engine(name: InnerReady['engine']): Engine<unknown, unknown, unknown, unknown> {
    const engine = name === 'crdt' ? this.crdt : name === 'gossip' ? this.gossip : name === 'raft' ? this.raft : this.pbft
    return engine as Engine<unknown, unknown, unknown, unknown>
  }

  private onRaftApplied(applied: RaftApplied): void {
    if (applied.type === 'read' || applied.type === 'readFailed') {
      const forwarded = this.forwardedReads.get(applied.readId)
      if (forwarded !== undefined) {
        this.forwardedReads.delete(applied.readId)
        const result: ForwardResult =
          applied.type === 'read' ? { kind: 'read', index: applied.index, value: decodeKeyValue(applied.reply) ?? { value: null, version: 0 } } : { kind: 'failed', code: 'notLeader', message: applied.reason, leader: this.leader }
        this.send(forwarded.origin, { engine: 'replica', message: { type: 'forwardReply', requestId: forwarded.requestId, boot: forwarded.boot, result } })
        return
      }
      const pending = this.pendingOf(this.byReadId.get(applied.readId))
      if (pending === undefined) return
      if (applied.type === 'readFailed') return this.fail(pending, 'notLeader', applied.reason, this.leader)
      const held = decodeKeyValue(applied.reply)
      return this.succeed(pending, 'raft', { kind: 'raft', index: applied.index, version: held?.version ?? 0 }, held?.value ?? null)
    }
    if (applied.type !== 'entry' || applied.kind !== 'command' || applied.reply === null) return
    const command = decodeLogCommand(applied.data)
    const reply = decodeLogReply(applied.reply)
    if (!command.ok || !reply.ok) return
    const logCommand = command.value
    // Every replica joins a committed auto write into its register: the same stamp, so it is one write whatever path it also took.
    if (logCommand.kind === 'auto') this.crdt.propose({ requestId: 0, op: { type: 'register', key: logCommand.key, value: logCommand.value, at: { timestamp: logCommand.stamp, replica: logCommand.origin } } })
    if (this.raft?.role === 'leader' && reply.value.outcome === 'applied' && (logCommand.kind === 'put' || logCommand.kind === 'delete')) {
      this.publish(publishedKey('strong', logCommand.key), reply.value.version, logCommand.kind === 'put' ? logCommand.value : null)
    }
    const key = stampKey(logCommand.origin, logCommand.stamp)
    const forwarded = this.forwardedWrites.get(key)
    if (forwarded !== undefined) {
      this.forwardedWrites.delete(key)
      this.send(forwarded.origin, { engine: 'replica', message: { type: 'forwardReply', requestId: forwarded.requestId, boot: forwarded.boot, result: { kind: 'written', index: applied.index, reply: reply.value } } })
    }
    if (logCommand.origin !== this.id) return
    const pending = this.pendingOf(this.byStamp.get(key))
    if (pending !== undefined && pending.stamp !== null && stampKey(this.id, pending.stamp) === key) this.answerLogReply(pending, applied.index, reply.value)
  }

  private onCrdtApplied(ack: CrdtAck): void {
    const pending = this.pendingOf(this.byCrdtId.get(ack.requestId))
    if (pending === undefined) return
    const position: Position = { kind: 'crdt', timestamp: ack.effect.timestamp ?? null, replica: ack.effect.timestamp === undefined ? null : this.id }
    if (pending.kind === 'auto' || ack.type === 'register') return this.succeed(pending, 'crdt', position)
    this.succeed(pending, 'crdt', position, ack.value)
  }

  private onPbftApplied(applied: PbftApplied): void {
    if (applied.type === 'query') {
      const pending = this.pendingOf(this.byReadId.get(applied.readId))
      if (pending === undefined) return
      const held = decodeKeyValue(applied.reply)
      return this.succeed(pending, 'pbft', { kind: 'pbft', version: held?.version ?? 0 }, held?.value ?? null)
    }
    if (applied.type !== 'reply' && applied.type !== 'refused') return
    const pending = this.pendingOf(this.byPbftTimestamp.get(applied.timestamp))
    if (pending === undefined) return
    if (applied.type === 'refused') return this.fail(pending, applied.code, 'PBFT executed a later request of this replica first; retry')
    const reply = decodeLogReply(applied.result)
    if (!reply.ok) return this.fail(pending, 'malformedReply', reply.error.message)
    if (reply.value.outcome === 'refused') return this.fail(pending, reply.value.code, reply.value.message)
    const version = reply.value.outcome === 'applied' ? reply.value.version : 0
    // f+1 replicas agree on this result: publish it for follower reads everywhere.
    if (version > 0) this.publish(publishedKey('byzantine', pending.key), version, pending.registerValue === registerDeleted ? null : readRegisterValue(pending.registerValue))
    this.succeed(pending, 'pbft', { kind: 'pbft', version })
  }

  /** Publishes a committed value into the gossiped state, where every member can read it (possibly stale). */
  private publish(key: string, version: number, value: string | null): void {
    const bytes = encodeWith<KeyValue>({ value, version }, writeKeyValue)
    if (this.gossip.propose({ type: 'publish', key, version, value: bytes }) === null) this.metrics.published++
  }

  // ---- modes, deadlines and placement ---------------------------------------

  /**
   * Reports mode changes. When the home group leaves datacenter mode, auto
   * writes still waiting on Raft move to the CRDT path at once (same stamp):
   * waiting out their deadline on a link now known to be slow would only
   * delay them, and every write from now on takes the new path.
   */
  private onModeChanges(changes: readonly ModeChangedEvent[]): void {
    for (const change of changes) {
      this.out.events.push({ source: 'adaptive', event: change })
      if (change.scope !== 'group' || change.id !== raftGroupId || change.to === 'datacenter') continue
      for (const pending of this.pending.values()) if (pending.kind === 'auto' && pending.autoDeadlineMs !== Infinity) this.autoFallbackLater(pending, 'groupMode')
    }
  }

  private checkDeadlines(nowMs: number): void {
    for (const pending of this.pending.values()) {
      if (pending.kind === 'auto' && nowMs >= pending.autoDeadlineMs) this.autoFallbackLater(pending, 'deadline')
      else if (nowMs >= pending.deadlineMs) {
        this.metrics.timeouts++
        this.fail(pending, 'timeout', `no answer within requestTimeoutMs=${this.config.requestTimeoutMs}; the outcome is unknown`)
      }
    }
    for (const [key, forwarded] of this.forwardedWrites) if (nowMs >= forwarded.expiresMs) this.forwardedWrites.delete(key)
    for (const [readId, forwarded] of this.forwardedReads) if (nowMs >= forwarded.expiresMs) this.forwardedReads.delete(readId)
  }

  private recordWrite(command: LogCommand, origin: NodeId): void {
    if (command.kind === 'policy') return
    this.placement.recordWrite(namespaceOf(command.key), this.regionOf.get(origin) ?? this.region, this.clock.nowMs())
  }

  /** The leader's placement round: home proposals for strong and auto namespaces, and its own move toward the writes. */
  private considerPlacement(nowMs: number): void {
    if (this.raft === null || this.raft.role !== 'leader') return
    for (const peer of this.raftVoters) {
      const estimate = peer === this.id ? null : this.prober.estimate(peer)
      if (estimate?.rttMsP50 != null) this.placement.recordLatency(this.regionOf.get(peer)!, estimate.rttMsP50)
    }
    for (const namespace of this.placement.namespaces()) {
      const policy = this.policyOf(namespace)
      if (policy.consistency !== 'strong' && policy.consistency !== 'auto') continue
      const proposal = this.placement.proposeHome(namespace, policy.home, nowMs)
      if (proposal === null) continue
      this.metrics.homeProposals++
      this.out.events.push({ source: 'placement', event: proposal })
      if (this.config.placementApply) {
        const stamp = this.crdt.hlc.now()
        this.raft.propose({ type: 'propose', data: encodeWith<LogCommand>({ kind: 'policy', origin: this.id, stamp, namespace, policy: { ...policy, home: proposal.to } }, writeLogCommandBytes) })
      }
    }
    if (!this.config.leaderPlacement) return
    const votersByRegion: Record<string, NodeId[]> = {}
    for (const voter of this.raftVoters) (votersByRegion[this.regionOf.get(voter)!] ??= []).push(voter)
    const transfer = this.placement.leaderTarget({ leaderRegion: this.region, votersByRegion, homeWrites: this.placement.totalWritesByRegion(nowMs), nowMs })
    if (transfer === null || !('kind' in transfer)) return
    if (this.raft.propose({ type: 'transferLeadership', to: transfer.to }) !== null) return
    this.metrics.leaderTransfers++
    this.out.events.push({ source: 'placement', event: transfer })
  }

  // ---- answers -------------------------------------------------------------

  private newPending(requestId: number, kind: PendingKind, key: string, stamp: Hlc | null, registerValue = '', mode: Mode = 'hybrid'): Pending {
    const pending: Pending = { requestId, kind, deadlineMs: this.clock.nowMs() + this.config.requestTimeoutMs, key, stamp, registerValue, mode, autoDeadlineMs: Infinity, autoReason: 'groupMode', readId: 0, pbftTimestamp: 0, crdtId: 0 }
    this.pending.set(requestId, pending)
    return pending
  }

  private pendingOf(requestId: number | undefined): Pending | undefined {
    return requestId === undefined ? undefined : this.pending.get(requestId)
  }

  private forget(pending: Pending): void {
    this.pending.delete(pending.requestId)
    if (pending.stamp !== null) this.byStamp.delete(stampKey(this.id, pending.stamp))
    if (pending.readId !== 0) this.byReadId.delete(pending.readId)
    if (pending.pbftTimestamp !== 0) this.byPbftTimestamp.delete(pending.pbftTimestamp)
    if (pending.crdtId !== 0) this.byCrdtId.delete(pending.crdtId)
  }

  private succeed(pending: Pending, path: 'raft' | 'crdt' | 'pbft', position: Position, value?: ReplyValue): void {
    this.forget(pending)
    const isWrite = pending.kind === 'log' || pending.kind === 'auto' || pending.kind === 'pbft' || pending.kind === 'crdt'
    if (isWrite) this.metrics[`path.${path}`]++
    const auto = pending.kind === 'auto' ? { reason: pending.autoReason, mode: pending.mode, timestamp: pending.stamp! } : undefined
    const reply: ReplicaReply = { type: 'reply', requestId: pending.requestId, ok: true, path, position, ...(value === undefined ? {} : { value }), ...(auto === undefined ? {} : { auto }) }
    this.reply(reply)
  }

  private fail(pending: Pending, code: string, message: string, leader?: NodeId | null): void {
    this.forget(pending)
    this.reply({ type: 'reply', requestId: pending.requestId, ok: false, code, message, ...(leader === undefined ? {} : { leader }) })
  }

  private reply(reply: ReplicaReply): void {
    if (reply.ok) this.metrics.repliesOk++
    else this.metrics.repliesFailed++
    this.out.applied.push(reply)
  }

  private send(to: NodeId, message: ReplicaMessage): void {
    this.out.messages.push({ to, message })
  }

  /** Sets or clears (null) a manual mode for a link or a group; the change is an event like a detected one. */
  setModeOverride(scope: 'link' | 'group', id: string, mode: Mode | null): Refusal | null {
    const nowMs = this.clock.nowMs()
    const changes = scope === 'link' ? this.prober.setLinkOverride(id, mode, nowMs) : this.prober.setGroupOverride(id, mode, nowMs)
    if (!changes.ok) return changes.error
    this.onModeChanges(changes.value)
    return null
  }

  /** The answer a request waits for, when it still waits (tests, the TUI). */
  isPending(requestId: number): boolean {
    return this.pending.has(requestId)
  }
}

type ReplyValue = Extract<ReplicaReply, { ok: true }>['value']

/** The replica's own storage keys (the engines' keys have prefixes of their own). */
export const replicaStorageKeys = {
  bootSlots: ['replica/boot/0', 'replica/boot/1'],
} as const

/** This node's incarnation, in two checksummed slots (a torn write spoils only the slot it overwrote). */
function bootRecord(): TwoSlotRecord<number> {
  return new TwoSlotRecord<number>({
    keys: replicaStorageKeys.bootSlots,
    writeBody: (encoder, boot) => writeUint(encoder, boot),
    readBody: (decoder) => readUint(decoder, Number.MAX_SAFE_INTEGER, 'boot'),
    what: 'replica boot',
  })
}

function stampKey(origin: NodeId, stamp: Hlc): string {
  return `${origin}@${stamp.wallMs}.${stamp.logical}`
}

function notMember(engine: string, id: NodeId): Refusal {
  return { code: 'notMember', message: `${id} runs no ${engine} engine` }
}

function mismatch(key: string, asked: Consistency, has: Consistency): Refusal {
  return { code: 'consistencyMismatch', message: `namespace ${namespaceOf(key)} is ${has}; ${asked} was asked (reads may ask for eventual)` }
}
