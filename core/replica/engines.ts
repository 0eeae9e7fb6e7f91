/**
 * The engines a replica composes (DESIGN §3), built by `createEngines`, and
 * the table the replica drives them through: one row per engine name with the
 * engine, how its messages and events are tagged with the name, and what the
 * replica does with what it applied. Peer messages are routed by the engine
 * they name; each engine ticks once per tick; each engine's Ready is merged
 * into the replica's (writes appended, their storage keys do not overlap;
 * messages and events tagged), then advanced, then its applied results are
 * handed on.
 */
import { compressionLevelFor } from '../adaptive/linkCompression.ts'
import type { Mode } from '../adaptive/mode.ts'
import { CrdtEngine, type CrdtAck } from '../crdt/engine.ts'
import { GossipEngine } from '../gossip/engine.ts'
import { assert } from '../lib/assert.ts'
import { PbftEngine, type PbftApplied } from '../pbft/engine.ts'
import type { NodeId, StorageWrite } from '../ports.ts'
import { RaftEngine, type RaftApplied } from '../raft/engine.ts'
import type { Engine, Ready, ReadyBuffer, Refusal } from '../ready.ts'
import type { ClusterConfiguration, PbftRunning } from './clusterConfiguration.ts'
import type { ReplicaApplied } from './commands.ts'
import type { ReplicaConfig } from './config.ts'
import type { ReplicaEvent } from './events.ts'
import type { ReplicaMessage } from './messages.ts'
import type { ReplicaOptions } from './options.ts'
import { StrongState } from './strongState.ts'

export type EngineName = 'crdt' | 'gossip' | 'raft' | 'pbft'

/** Tick and Ready order. */
const engineNames: readonly EngineName[] = ['crdt', 'gossip', 'raft', 'pbft']

type MessageOf = { [N in EngineName]: Extract<ReplicaMessage, { engine: N }>['message'] }

/** One row per engine name; null where this node runs no such engine. */
type Rows = { readonly [N in EngineName]: EngineRow<MessageOf[N]> | null }

type ReplicaOut = ReadyBuffer<ReplicaMessage, ReplicaApplied, ReplicaEvent>

export interface EngineTableOptions {
  readonly id: NodeId
  readonly crdt: CrdtEngine
  readonly gossip: GossipEngine
  readonly raft: RaftEngine | null
  readonly pbft: PbftEngine | null
  /** Whether the PBFT engine ticks now (an engine outside the group that is not wanted in it stays quiet: the group would refuse its statuses). */
  readonly pbftTicks: () => boolean
  /** What the replica does with each result an engine applied, once the host persisted its Ready. */
  readonly onApplied: {
    readonly crdt: (ack: CrdtAck) => void
    readonly raft: (applied: RaftApplied) => void
    readonly pbft: (applied: PbftApplied) => void
  }
}

export interface CreateEnginesInput {
  readonly options: ReplicaOptions
  readonly config: ReplicaConfig
  /** The configuration the replica starts from (the newest of its options' and its stored one): the members gossip and the CRDT start with. */
  readonly initial: ClusterConfiguration
  /** The mode of the link to a peer as the prober measures it: the CRDT engine compresses by it. */
  readonly linkMode: (peer: NodeId) => Mode | undefined
}

export interface ReplicaEngines {
  /** The Raft state machine: strong values, the policy table, at-most-once stamps. */
  readonly strong: StrongState
  /** The PBFT state machine (byzantine values). */
  readonly byzantine: StrongState
  readonly crdt: CrdtEngine
  readonly gossip: GossipEngine
  /** On every replica, so that a member can be made a learner at any time; a node in neither voters nor learners takes no part. */
  readonly raft: RaftEngine
  /** On a member with a signer and a key, in a cluster with a PBFT group (see holdsPbftEngine). */
  readonly pbft: PbftEngine | null
}

/** Builds a node's engines over its storage, each with its own split of the node's Rng. */
export function createEngines(input: CreateEnginesInput): ReplicaEngines {
  const { options, config, initial } = input
  const id = options.id
  const bootstrap = options.configuration
  const ids = initial.members.map((member) => member.id)
  // The state machine starts from the configuration the node was built with: the log's configurations apply onto it.
  const strong = new StrongState(options.policies ?? {}, bootstrap)
  const byzantine = new StrongState()
  const crdt = new CrdtEngine({
    id,
    peers: ids,
    storage: options.storage,
    rng: options.rng.split('crdt'),
    clock: options.clock,
    config: config.crdt,
    compressionFor: (peer) => compressionLevelFor(input.linkMode(peer) ?? 'hybrid'),
  })
  // A node built from a join answer (version > 1) announces itself: the others know of it only from the configuration.
  const joined = bootstrap.version > 1
  const self = initial.members.find((member) => member.id === id) ?? bootstrap.members.find((member) => member.id === id)
  const meta = options.gossipMeta ?? (self === undefined ? undefined : { region: self.region, address: self.address, tags: self.tags })
  const aligned = config.alignedPeriods === true
  const gossip = new GossipEngine({
    id,
    seeds: ids.filter((member) => member !== id),
    knownMembers: ids,
    announce: joined,
    meta,
    storage: options.storage,
    rng: options.rng.split('gossip'),
    tickMs: config.tickMs,
    config: config.gossip,
    alignedPeriods: aligned,
  })
  const raftConfig = aligned ? { ...config.raft, alignHeartbeats: true } : config.raft
  // A new cluster's Raft group is its first configuration's; a joiner starts with none and learns the group from its leader.
  const raft = new RaftEngine({ id, voters: joined ? [] : bootstrap.raftVoters, learners: joined ? [] : bootstrap.raftLearners, storage: options.storage, rng: options.rng.split('raft'), stateMachine: strong, config: raftConfig })
  let pbft: PbftEngine | null = null
  // The group starts as the one the node's configuration says runs; it changes only by its own reconfiguration (pbftGroupChange.ts).
  const running = runningPbftGroup(bootstrap)
  if (running.replicas.includes(id) && options.signer === null) throw new RangeError(`${id} is a PBFT replica and needs a signer`)
  if (holdsPbftEngine(id, bootstrap, options.signer !== null)) {
    // A member with a key outside the group holds an engine too: one of no group, which the group may add (the engine's joiner).
    const replicas = running.replicas.map((replica) => ({ id: replica, publicKey: bootstrap.members.find((member) => member.id === replica)!.publicKey }))
    pbft = new PbftEngine({ id, replicas, epoch: running.epoch, epochStartSeq: running.startSeq, signer: options.signer!, stateMachine: byzantine, storage: options.storage, config: config.pbft })
  }
  return { strong, byzantine, crdt, gossip, raft, pbft }
}

/** The PBFT group that runs as a configuration knows it: its record, or before the first target change the first configuration's group in epoch 0. */
export function runningPbftGroup(c: ClusterConfiguration): PbftRunning {
  return c.pbftRunning ?? { epoch: 0, startSeq: 0, replicas: c.pbftReplicas }
}

/**
 * Whether a node holds a PbftEngine: a replica of the running group, or a
 * member with a key and a signer outside it, so that a reconfiguration may add
 * it (it follows the group by state transfer until then). A node that joined
 * builds its engine with the group its join answer names; storage wins on a restart.
 */
export function holdsPbftEngine(id: NodeId, c: ClusterConfiguration, hasSigner: boolean): boolean {
  const running = runningPbftGroup(c)
  if (running.replicas.length === 0 || !hasSigner) return false
  return running.replicas.includes(id) || (c.members.find((member) => member.id === id)?.publicKey.length ?? 0) > 0
}

export class EngineTable {
  private readonly id: NodeId
  private readonly rows: Rows
  /** The rows this node has, in engineNames order. */
  private readonly present: readonly DrivenRow[]
  private readonly pbftTicks: () => boolean

  constructor(options: EngineTableOptions) {
    const { crdt, gossip, raft, pbft, onApplied } = options
    this.id = options.id
    this.pbftTicks = options.pbftTicks
    this.rows = {
      crdt: new BoundEngine({ engine: crdt, tagMessage: (message) => ({ engine: 'crdt', message }), tagEvent: (event) => ({ source: 'crdt', event }), onApplied: onApplied.crdt }),
      // Gossip's applied results (left, published) ask nothing more of the replica.
      gossip: new BoundEngine({ engine: gossip, tagMessage: (message) => ({ engine: 'gossip', message }), tagEvent: (event) => ({ source: 'gossip', event }), onApplied: () => {} }),
      raft: raft === null ? null : new BoundEngine({ engine: raft, tagMessage: (message) => ({ engine: 'raft', message }), tagEvent: (event) => ({ source: 'raft', event }), onApplied: onApplied.raft }),
      pbft: pbft === null ? null : new BoundEngine({ engine: pbft, tagMessage: (message) => ({ engine: 'pbft', message }), tagEvent: (event) => ({ source: 'pbft', event }), onApplied: onApplied.pbft }),
    }
    this.present = engineNames.flatMap((name) => this.rows[name] ?? [])
  }

  /** A peer message for one engine; refused when this node runs no such engine. */
  step<N extends EngineName>(from: NodeId, engine: N, message: MessageOf[N]): Refusal | null {
    const row = this.rows[engine]
    if (row === null) return { code: 'notMember', message: `${this.id} runs no ${engine} engine` }
    return row.step(from, message)
  }

  tick(): void {
    for (const row of this.present) if (row !== this.rows.pbft || this.pbftTicks()) row.tick()
  }

  hasReady(): boolean {
    return this.present.some((row) => row.hasReady())
  }

  /** Takes every engine's Ready that has one into the replica's: writes onto `writes`, tagged messages and events into `out`; true when any must be synced. */
  takeReadies(writes: StorageWrite[], out: ReplicaOut): boolean {
    let mustSync = false
    for (const row of this.present) if (row.take(writes, out)) mustSync = true
    return mustSync
  }

  /** The host handled the replica's Ready: every engine whose Ready was taken advances, and only then is what they applied handed on. */
  advance(): void {
    const taken = this.present.filter((row) => row.isTaken)
    for (const row of taken) row.advance()
    // Only now, with every engine's writes persisted, may what they applied become visible.
    for (const row of taken) row.apply()
  }
}

/** What the table asks of every row alike; the engine's own types stay inside it. */
interface DrivenRow {
  readonly isTaken: boolean
  tick(): void
  hasReady(): boolean
  /** Takes the engine's Ready when it has one; true when its writes must be synced. */
  take(writes: StorageWrite[], out: ReplicaOut): boolean
  advance(): void
  apply(): void
}

/** A row: peer messages of type M, and everything else alike. */
interface EngineRow<M> extends DrivenRow {
  step(from: NodeId, message: M): Refusal | null
}

/** One engine and what the replica makes of it: how its messages and events are tagged, and what its applied results mean. */
interface EngineBinding<M, A, E> {
  readonly engine: Engine<unknown, M, A, E>
  readonly tagMessage: (message: M) => ReplicaMessage
  readonly tagEvent: (event: E) => ReplicaEvent
  readonly onApplied: (applied: A) => void
}

class BoundEngine<M, A, E> implements EngineRow<M> {
  private readonly engine: Engine<unknown, M, A, E>
  private readonly tagMessage: (message: M) => ReplicaMessage
  private readonly tagEvent: (event: E) => ReplicaEvent
  private readonly onApplied: (applied: A) => void
  /** Taken in `take`, advanced in `advance`, its applied results handed on in `apply`. */
  private taken: Ready<M, A, E> | null = null

  constructor(binding: EngineBinding<M, A, E>) {
    this.engine = binding.engine
    this.tagMessage = binding.tagMessage
    this.tagEvent = binding.tagEvent
    this.onApplied = binding.onApplied
  }

  get isTaken(): boolean {
    return this.taken !== null
  }

  step(from: NodeId, message: M): Refusal | null {
    return this.engine.step(from, message)
  }

  tick(): void {
    this.engine.tick()
  }

  hasReady(): boolean {
    return this.engine.hasReady()
  }

  take(writes: StorageWrite[], out: ReplicaOut): boolean {
    if (!this.engine.hasReady()) return false
    const ready = this.engine.ready()
    this.taken = ready
    for (const write of ready.writes) writes.push(write)
    for (const { to, message } of ready.messages) out.messages.push({ to, message: this.tagMessage(message) })
    for (const event of ready.events) out.events.push(this.tagEvent(event))
    return ready.mustSync
  }

  advance(): void {
    assert(this.taken !== null, 'advance() without a taken Ready')
    this.engine.advance(this.taken)
  }

  apply(): void {
    const ready = this.taken
    assert(ready !== null, 'apply() without a taken Ready')
    this.taken = null
    for (const applied of ready.applied) this.onApplied(applied)
  }
}
