/**
 * The leader's placement round (placement.ts decides, this acts): every
 * placementIntervalMs the Raft leader proposes homes for strong and auto
 * namespaces toward their writers, and moves its own leadership toward the
 * region with most writes. Writes are counted where the leader proposes them.
 */
import type { Prober } from '../adaptive/prober.ts'
import type { CrdtEngine } from '../crdt/engine.ts'
import type { NodeId } from '../ports.ts'
import type { RaftEngine } from '../raft/engine.ts'
import type { ReplicaContext } from './context.ts'
import { encodeLogCommand, type LogCommand } from './logCommand.ts'
import type { Placement } from './placement.ts'
import { namespaceOf, type Policy } from './policy.ts'

export interface PlacementRoundOptions {
  readonly context: ReplicaContext
  readonly placement: Placement
  readonly raft: RaftEngine | null
  /** The Raft voters of the applied configuration. */
  readonly raftVoters: () => readonly NodeId[]
  /** Stamps policy changes with its hybrid clock. */
  readonly crdt: CrdtEngine
  readonly prober: Prober
  readonly region: string
  readonly regionOf: ReadonlyMap<NodeId, string>
  readonly policyOf: (namespace: string) => Policy
  /** Rounds on every this-many-th tick instead of every placementIntervalMs of the clock (ReplicaConfig.alignedPeriods); null: the clock. */
  readonly roundTicks: number | null
}

export class PlacementRound {
  private readonly context: ReplicaContext
  private readonly placement: Placement
  private readonly raft: RaftEngine | null
  private readonly raftVoters: () => readonly NodeId[]
  private readonly crdt: CrdtEngine
  private readonly prober: Prober
  private readonly region: string
  private readonly regionOf: ReadonlyMap<NodeId, string>
  private readonly policyOf: (namespace: string) => Policy
  private lastRoundMs: number
  private readonly roundTicks: number | null
  private ticks = 0

  constructor(options: PlacementRoundOptions) {
    this.context = options.context
    this.placement = options.placement
    this.raft = options.raft
    this.raftVoters = options.raftVoters
    this.crdt = options.crdt
    this.prober = options.prober
    this.region = options.region
    this.regionOf = options.regionOf
    this.policyOf = options.policyOf
    this.lastRoundMs = options.context.clock.nowMs()
    this.roundTicks = options.roundTicks
  }

  /** Counts a write the leader proposed, by the region of the member it came from. */
  recordWrite(command: LogCommand, origin: NodeId): void {
    if (command.kind === 'policy' || command.kind === 'configuration') return
    this.placement.recordWrite(namespaceOf(command.key), this.regionOf.get(origin) ?? this.region, this.context.clock.nowMs())
  }

  /** When `tick` next has work: the leader's next round (Infinity on other nodes, whose rounds do nothing). */
  nextRoundAtMs(): number {
    if (this.raft === null || this.raft.role !== 'leader' || this.roundTicks !== null) return Number.POSITIVE_INFINITY
    return this.lastRoundMs + this.context.config.placementIntervalMs
  }

  /** With rounds on ticks: ticks until the leader's next round (Infinity on other nodes, or when rounds follow the clock). */
  ticksUntilRound(): number {
    if (this.raft === null || this.raft.role !== 'leader' || this.roundTicks === null) return Number.POSITIVE_INFINITY
    return this.roundTicks - (this.ticks % this.roundTicks)
  }

  tick(nowMs: number): void {
    this.ticks++
    if (this.roundTicks !== null ? this.ticks % this.roundTicks !== 0 : nowMs - this.lastRoundMs < this.context.config.placementIntervalMs) return
    this.lastRoundMs = nowMs
    this.round(nowMs)
  }

  /** Home proposals for strong and auto namespaces, and the leader's own move toward the writes. */
  private round(nowMs: number): void {
    if (this.raft === null || this.raft.role !== 'leader') return
    const { config, metrics } = this.context
    for (const peer of this.raftVoters()) {
      const estimate = peer === this.context.id ? null : this.prober.estimate(peer)
      if (estimate?.rttMsP50 != null) this.placement.recordLatency(this.regionOf.get(peer)!, estimate.rttMsP50)
    }
    for (const namespace of this.placement.namespaces()) {
      const policy = this.policyOf(namespace)
      if (policy.consistency !== 'strong' && policy.consistency !== 'auto') continue
      const proposal = this.placement.proposeHome(namespace, policy.home, nowMs)
      if (proposal === null) continue
      metrics.homeProposals++
      this.context.report({ source: 'placement', event: proposal })
      if (config.placementApply) {
        const stamp = this.crdt.hlc.now()
        this.raft.propose({ type: 'propose', data: encodeLogCommand({ kind: 'policy', origin: this.context.id, stamp, namespace, policy: { ...policy, home: proposal.to } }) })
      }
    }
    if (!config.leaderPlacement) return
    const votersByRegion: Record<string, NodeId[]> = {}
    for (const voter of this.raftVoters()) (votersByRegion[this.regionOf.get(voter)!] ??= []).push(voter)
    const transfer = this.placement.leaderTarget({ leaderRegion: this.region, votersByRegion, homeWrites: this.placement.totalWritesByRegion(nowMs), nowMs })
    if (transfer === null || !('kind' in transfer)) return
    if (this.raft.propose({ type: 'transferLeadership', to: transfer.to }) !== null) return
    metrics.leaderTransfers++
    this.context.report({ source: 'placement', event: transfer })
  }
}
