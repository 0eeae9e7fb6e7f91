/**
 * The engines a replica composes (DESIGN §3), built by `createEngines`, and
 * the table the replica drives them through, one row per engine:
 * the engine, how its messages and events are tagged with its name, and what
 * the replica does with what it applied. The replica drives them all through
 * the table: peer messages routed by the engine they name, one tick each, and
 * each engine's Ready merged into the replica's (writes appended, their
 * storage keys do not overlap; messages and events tagged), then advanced,
 * then its applied results handed on.
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
import type { ReplicaApplied } from './commands.ts'
import type { ReplicaConfig } from './config.ts'
import type { ReplicaEvent } from './events.ts'
import type { ReplicaMessage } from './messages.ts'
import type { ReplicaOptions } from './options.ts'
import { StrongState } from './strongState.ts'

export type EngineName = 'crdt' | 'gossip' | 'raft' | 'pbft'

type MessageOf = { [N in EngineName]: Extract<ReplicaMessage, { engine: N }>['message'] }

/** The engine behind each name, as the router sees it (null: this node runs none). */
type Routes = { readonly [N in EngineName]: Engine<unknown, MessageOf[N], unknown, unknown> | null }

type ReplicaOut = ReadyBuffer<ReplicaMessage, ReplicaApplied, ReplicaEvent>

export interface EngineTableOptions {
  readonly id: NodeId
  readonly crdt: CrdtEngine
  readonly gossip: GossipEngine
  readonly raft: RaftEngine | null
  readonly pbft: PbftEngine | null
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
  /** Sorted. */
  readonly raftVoters: readonly NodeId[]
  readonly pbftMembers: readonly NodeId[]
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
  /** Only on a Raft voter. */
  readonly raft: RaftEngine | null
  /** Only on a PBFT replica, which needs a signer. */
  readonly pbft: PbftEngine | null
}

/** Builds a node's engines over its storage, each with its own split of the node's Rng. */
export function createEngines(input: CreateEnginesInput): ReplicaEngines {
  const { options, config, raftVoters, pbftMembers } = input
  const id = options.id
  const ids = options.members.map((member) => member.id)
  const strong = new StrongState(options.policies ?? {})
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
  const gossip = new GossipEngine({ id, seeds: ids.filter((member) => member !== id), knownMembers: ids, storage: options.storage, rng: options.rng.split('gossip'), tickMs: config.tickMs, config: config.gossip })
  const raft = raftVoters.includes(id) ? new RaftEngine({ id, voters: raftVoters, storage: options.storage, rng: options.rng.split('raft'), stateMachine: strong, config: config.raft }) : null
  let pbft: PbftEngine | null = null
  if (pbftMembers.includes(id)) {
    if (options.signer === null) throw new RangeError(`${id} is a PBFT replica and needs a signer`)
    pbft = new PbftEngine({ id, replicas: options.pbftReplicas, signer: options.signer, stateMachine: byzantine, storage: options.storage, config: config.pbft })
  }
  return { strong, byzantine, crdt, gossip, raft, pbft }
}

export class EngineTable {
  private readonly id: NodeId
  private readonly routes: Routes
  /** Tick and Ready order: crdt, gossip, raft, pbft. */
  private readonly rows: readonly EngineRow[]

  constructor(options: EngineTableOptions) {
    const { crdt, gossip, raft, pbft, onApplied } = options
    this.id = options.id
    this.routes = { crdt, gossip, raft, pbft }
    const rows: EngineRow[] = [
      new BoundEngine(crdt, (message) => ({ engine: 'crdt', message }), (event) => ({ source: 'crdt', event }), onApplied.crdt),
      // Gossip's applied results (left, published) ask nothing more of the replica.
      new BoundEngine(gossip, (message) => ({ engine: 'gossip', message }), (event) => ({ source: 'gossip', event }), () => {}),
    ]
    if (raft !== null) rows.push(new BoundEngine(raft, (message) => ({ engine: 'raft', message }), (event) => ({ source: 'raft', event }), onApplied.raft))
    if (pbft !== null) rows.push(new BoundEngine(pbft, (message) => ({ engine: 'pbft', message }), (event) => ({ source: 'pbft', event }), onApplied.pbft))
    this.rows = rows
  }

  /** A peer message for one engine; refused when this node runs no such engine. */
  step<N extends EngineName>(from: NodeId, engine: N, message: MessageOf[N]): Refusal | null {
    const target = this.routes[engine]
    if (target === null) return { code: 'notMember', message: `${this.id} runs no ${engine} engine` }
    return target.step(from, message)
  }

  tick(): void {
    for (const row of this.rows) row.tick()
  }

  hasReady(): boolean {
    return this.rows.some((row) => row.hasReady())
  }

  /** Takes every engine's Ready that has one into the replica's: writes onto `writes`, tagged messages and events into `out`; true when any must be synced. */
  takeReadies(writes: StorageWrite[], out: ReplicaOut): boolean {
    let mustSync = false
    for (const row of this.rows) if (row.take(writes, out)) mustSync = true
    return mustSync
  }

  /** The host handled the replica's Ready: every engine whose Ready was taken advances, and only then is what they applied handed on. */
  advance(): void {
    const taken = this.rows.filter((row) => row.isTaken)
    for (const row of taken) row.advance()
    // Only now, with every engine's writes persisted, may what they applied become visible.
    for (const row of taken) row.apply()
  }
}

/** A row of the table, the engine's own types kept inside it. */
interface EngineRow {
  readonly isTaken: boolean
  tick(): void
  hasReady(): boolean
  /** Takes the engine's Ready when it has one; true when its writes must be synced. */
  take(writes: StorageWrite[], out: ReplicaOut): boolean
  advance(): void
  apply(): void
}

class BoundEngine<M, A, E> implements EngineRow {
  private readonly engine: Engine<unknown, M, A, E>
  private readonly tagMessage: (message: M) => ReplicaMessage
  private readonly tagEvent: (event: E) => ReplicaEvent
  private readonly onApplied: (applied: A) => void
  /** Taken in `take`, advanced in `advance`, its applied results handed on in `apply`. */
  private taken: Ready<M, A, E> | null = null

  constructor(engine: Engine<unknown, M, A, E>, tagMessage: (message: M) => ReplicaMessage, tagEvent: (event: E) => ReplicaEvent, onApplied: (applied: A) => void) {
    this.engine = engine
    this.tagMessage = tagMessage
    this.tagEvent = tagEvent
    this.onApplied = onApplied
  }

  get isTaken(): boolean {
    return this.taken !== null
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
