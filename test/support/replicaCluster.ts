/**
 * A replica cluster in the real simulator (wire frames on, no network faults
 * unless asked): client requests get cluster-unique request ids, every reply
 * and event is recorded with its node and time, and helpers run until a
 * request is answered or a condition holds.
 */
import { plainMember, type ClusterConfiguration } from '../../core/replica/clusterConfiguration.ts'
import { Rng } from '../../core/lib/prng.ts'
import type { Refusal } from '../../core/ready.ts'
import type { ReplicaCommand, ReplicaReply } from '../../core/replica/commands.ts'
import type { ReplicaEvent } from '../../core/replica/events.ts'
import type { Consistency, Policy } from '../../core/replica/policy.ts'
import type { Replica } from '../../core/replica/replica.ts'
import { defaultNetworkConfig, noNetworkFaults, type NetworkFaults } from '../../sim/network.ts'
import { replicaSpec, type ReplicaSim, type ReplicaSpecOptions } from '../../sim/replicaSpec.ts'
import { Simulator } from '../../sim/simulator.ts'
import { replicaPolicies } from '../../sim/scenarios/replicaRun.ts'

/** Cross-region one-way latency: `lan` is datacenter-like (1–2 ms), `internet` 60–80 ms. */
export type Wan = 'lan' | 'internet'

export interface ReplicaClusterOptions {
  readonly nodes?: number
  readonly regions?: readonly string[]
  readonly pbftReplicas?: number
  /** The first this many nodes have a key and a signer (default: the PBFT replicas'). */
  readonly keyedNodes?: number
  /** Raft voters by node index (default: every node). */
  readonly raftVoters?: readonly number[]
  readonly policies?: Readonly<Record<string, Policy>>
  readonly wan?: Wan
  readonly faults?: NetworkFaults
  readonly seed?: number
  readonly placement?: ReplicaSpecOptions['placement']
  readonly config?: ReplicaSpecOptions['config']
  /** The last this many nodes are spares: not in the first configuration and not started until `join`. */
  readonly spares?: number
  /** The nodes' wall clock in steps of this many ms (Infinity: frozen); default 1, virtual time itself. */
  readonly wallClockStepMs?: number
}

export interface RecordedReply {
  readonly node: number
  readonly atMs: number
  readonly reply: ReplicaReply
}

export interface RecordedEvent {
  readonly node: number
  readonly atMs: number
  readonly event: ReplicaEvent
}

export type OkReply = Extract<ReplicaReply, { ok: true }>

/** Every command without its request id: the cluster assigns one. */
export type Request = ReplicaCommand extends infer C ? (C extends ReplicaCommand ? Omit<C, 'requestId'> : never) : never

/** The scenarios' policies (cfg strong, cnt eventual counters, bft byzantine, edge auto) and an eventual register namespace. */
export const testPolicies: Readonly<Record<string, Policy>> = {
  ...replicaPolicies,
  ev: { consistency: 'eventual', valueType: 'register', home: null },
}

export class ReplicaCluster {
  readonly sim: ReplicaSim
  readonly replies: RecordedReply[] = []
  readonly events: RecordedEvent[] = []
  private nextRequestId = 1
  private readonly joinedWith = new Map<string, ClusterConfiguration>()
  /** Every keyed node's public key (options.keyedNodes). */
  readonly publicKeys = new Map<string, Uint8Array>()

  constructor(options: ReplicaClusterOptions = {}) {
    const nodes = options.nodes ?? 4
    const regions = options.regions ?? ['eu', 'us', 'ap']
    const seed = options.seed ?? 1
    const spec = replicaSpec({
      nodes,
      regions,
      pbftReplicas: options.pbftReplicas ?? Math.min(nodes, 4),
      keyedNodes: options.keyedNodes,
      publicKeys: this.publicKeys,
      raftVoters: options.raftVoters,
      keyRng: Rng.fromSeed(seed).split('keys'),
      policies: options.policies ?? testPolicies,
      placement: options.placement,
      config: options.config,
      membersAtStart: nodes - (options.spares ?? 0),
      joinedWith: this.joinedWith,
    })
    const internet = options.wan === 'internet'
    this.sim = new Simulator({
      seed,
      nodes,
      regions,
      engine: spec,
      network: {
        ...defaultNetworkConfig,
        faults: options.faults ?? noNetworkFaults,
        wanBaseUsMin: internet ? 60_000 : 1_000,
        wanBaseUsMax: internet ? 80_000 : 2_000,
        wanJitterUs: internet ? 1_000 : 200,
      },
      tickUs: 10_000,
      ...(options.wallClockStepMs === undefined ? {} : { wallClockStepMs: options.wallClockStepMs }),
      wire: true,
      trace: null,
    })
    this.sim.observers.push({
      onReady: (node, ready) => {
        const atMs = this.sim.nowUs / 1000
        for (const reply of ready.applied) this.replies.push({ node: node.index, atMs, reply })
        for (const event of ready.events) this.events.push({ node: node.index, atMs, event })
      },
    })
    this.sim.startNodes(Array.from({ length: nodes - (options.spares ?? 0) }, (_, index) => index))
  }

  /** Spare node `spare` joins through member `via` (memberJoin), then starts with the configuration `via` applied. */
  join(spare: number, via: number): OkReply {
    const node = this.sim.nodes[spare]!
    const reply = this.call(via, { type: 'memberJoin', member: plainMember(node.id, node.region, this.publicKeys.get(node.id)) })
    this.joinedWith.set(node.id, this.replica(via).configuration())
    this.sim.startLate(spare)
    return reply
  }

  get nowMs(): number {
    return this.sim.nowUs / 1000
  }

  replica(index: number): Replica {
    const engine = this.sim.nodes[index]!.engine
    if (engine === null) throw new Error(`node ${index} is down`)
    return engine as Replica
  }

  get size(): number {
    return this.sim.nodes.length
  }

  /** Sends a request to node `index`; returns its request id and the synchronous refusal (null: accepted). */
  tryRequest(index: number, request: Request, requestId = this.nextRequestId++): { requestId: number; refusal: Refusal | null } {
    const refusal = this.sim.propose(index, { ...request, requestId } as ReplicaCommand, request.type)
    return { requestId, refusal }
  }

  /** Sends a request that must be accepted; returns its request id. */
  request(index: number, request: Request): number {
    const { requestId, refusal } = this.tryRequest(index, request)
    if (refusal !== null) throw new Error(`request ${JSON.stringify(request)} at node ${index} refused: ${refusal.code} ${refusal.message}`)
    return requestId
  }

  runFor(ms: number): void {
    this.sim.runUntil(this.sim.nowUs + Math.round(ms * 1000))
  }

  /** Runs in 10 ms steps until `done` holds; fails after `maxMs`. */
  runUntil(done: () => boolean, maxMs = 5_000, what = 'condition'): void {
    const endUs = this.sim.nowUs + maxMs * 1000
    while (!done()) {
      if (this.sim.nowUs >= endUs) throw new Error(`${what} did not hold within ${maxMs} ms`)
      this.sim.runUntil(this.sim.nowUs + 10_000)
    }
  }

  /** Every reply given to `requestId` (exactly one is expected). */
  repliesTo(requestId: number): RecordedReply[] {
    return this.replies.filter((recorded) => recorded.reply.requestId === requestId)
  }

  /** Runs until `requestId` is answered and returns the answer. */
  answer(requestId: number, maxMs = 5_000): ReplicaReply {
    this.runUntil(() => this.repliesTo(requestId).length > 0, maxMs, `an answer to request ${requestId}`)
    return this.repliesTo(requestId)[0]!.reply
  }

  /** Runs until `requestId` is answered ok and returns the answer. */
  ok(requestId: number, maxMs = 5_000): OkReply {
    const reply = this.answer(requestId, maxMs)
    if (!reply.ok) throw new Error(`request ${requestId} failed: ${reply.code} ${reply.message}`)
    return reply
  }

  /** Sends a request and waits for its ok answer. */
  call(index: number, request: Request, maxMs = 5_000): OkReply {
    return this.ok(this.request(index, request), maxMs)
  }

  /** The value a get at node `index` returns now (with the given consistency). */
  read(index: number, key: string, consistency?: Consistency): OkReply['value'] {
    return this.call(index, consistency === undefined ? { type: 'get', key } : { type: 'get', key, consistency }).value
  }

  /** Runs until every node's get of `key` returns `value`. */
  converge(key: string, value: unknown, maxMs = 5_000, consistency?: 'eventual'): void {
    const everywhere = () => this.sim.nodes.every((node) => this.read(node.index, key, consistency) === value)
    this.runUntil(everywhere, maxMs, `${key} = ${JSON.stringify(value)} at every node`)
  }

  /** The node index of the Raft leader every voter agrees on, or null. */
  leader(): number | null {
    const leaders = this.sim.nodes.filter((node) => node.engine !== null && (node.engine as Replica).raft?.status().role === 'leader')
    return leaders.length === 1 ? leaders[0]!.index : null
  }

  /** Runs until one leader is known to every node. */
  settle(maxMs = 5_000): number {
    this.runUntil(
      () => {
        const leader = this.leader()
        return leader !== null && this.sim.nodes.every((node) => node.engine === null || !inRaftGroup(node.engine as Replica) || (node.engine as Replica).leader === this.sim.nodes[leader]!.id)
      },
      maxMs,
      'a leader known everywhere',
    )
    return this.leader()!
  }
}

/** Whether a replica is a Raft voter or learner of the configuration it applied (the others take no part in Raft). */
export function inRaftGroup(replica: Replica): boolean {
  const configuration = replica.configuration()
  return configuration.raftVoters.includes(replica.id) || configuration.raftLearners.includes(replica.id)
}
