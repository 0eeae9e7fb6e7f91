/**
 * Replica settings, each with its reason, and the limits on what a replica
 * keeps for its clients. Engine settings are the engines' own configs; times
 * here are milliseconds of the injected clock, turned into checks at ticks.
 */
import { defaultCrdtConfig, type CrdtConfig } from '../crdt/config.ts'
import { wanGossipConfig, type GossipConfig } from '../gossip/config.ts'
import { defaultPbftConfig, type PbftConfig } from '../pbft/config.ts'
import { defaultRaftConfig, type RaftConfig } from '../raft/config.ts'

export interface ReplicaConfig {
  /** Length of one tick: every engine ticks once per tick, and deadlines are checked then (so they are late by up to one tick). */
  readonly tickMs: number
  /** DESIGN §2: an auto write takes Raft only when it commits within this; later, it is written through the CRDT instead. */
  readonly autoDeadlineMs: number
  /** A client request unanswered after this is answered `timeout` (its outcome unknown): nothing waits forever. */
  readonly requestTimeoutMs: number
  /** How often the Raft leader reconsiders placement (homes and its own region). */
  readonly placementIntervalMs: number
  /** Whether a home proposal is applied (a strong write of the policy) or only reported as an event. */
  readonly placementApply: boolean
  /** Whether the leader moves leadership toward the region with most writes. */
  readonly leaderPlacement: boolean
  /**
   * Autopilot (on the Raft leader) removes a voter it has not heard from for
   * this long, while a quorum of the others is alive. Long enough that a
   * restart or a network blip (seconds) never costs a voter its seat, and far
   * above the election timeout (1 to 2 s) and gossip's suspicion timeout;
   * short enough that a machine gone for good is replaced within a minute.
   */
  readonly deadVoterRemoveMs: number
  /** How often the leader's autopilot looks at voters and learners (and how often it retries a refused step). */
  readonly autopilotIntervalMs: number
  readonly raft: RaftConfig
  readonly crdt: CrdtConfig
  readonly gossip: GossipConfig
  readonly pbft: Partial<PbftConfig>
  /**
   * Every periodic timer (gossip probes, digests and push-pulls, Raft heartbeats and check-quorum,
   * PBFT status, probe rounds, placement rounds) fires at tick counts that are multiples of its
   * period, counted from the replica's start, instead of at a phase of its own: timers whose periods
   * are multiples of one another fire on the same ticks, so one wake of a sleeping host serves them all.
   * Periods in ms are turned into ticks. Default false (phases spread, as a cluster started at once wants).
   */
  readonly alignedPeriods?: boolean
}

/**
 * Raft's timeouts are sized for WAN links: with 10 ms ticks, heartbeats every
 * 50 ms and elections after 1 to 2 s, a 150 ms inter-region round trip never
 * looks like a dead leader. Datacenter commits still take one round trip.
 */
export const defaultReplicaConfig: ReplicaConfig = {
  tickMs: 10,
  autoDeadlineMs: 100,
  requestTimeoutMs: 3_000,
  placementIntervalMs: 1_000,
  placementApply: false,
  leaderPlacement: true,
  deadVoterRemoveMs: 30_000,
  autopilotIntervalMs: 200,
  raft: { ...defaultRaftConfig, electionTicksMin: 100, heartbeatTicks: 5, transferTicksMax: 100 },
  crdt: { ...defaultCrdtConfig, resendTicks: 40 },
  gossip: wanGossipConfig,
  pbft: { ...defaultPbftConfig, requestTimeoutTicks: 200, viewChangeTicks: 200, statusTicks: 20, retransmitTicks: 40 },
}

export const replicaLimits = {
  /** Client requests waiting for an answer: beyond it new ones are refused `overloaded`. */
  pendingRequestsMax: 4096,
  /** Requests forwarded to this node as leader and not yet answered. */
  forwardedRequestsMax: 4096,
  /** Members of one replica's cluster (Raft voters are fewer, see raftLimits.membersMax); configurationLimits.membersMax. */
  membersMax: 64,
} as const

export function validateReplicaConfig(config: ReplicaConfig): void {
  for (const name of ['tickMs', 'autoDeadlineMs', 'requestTimeoutMs', 'placementIntervalMs', 'deadVoterRemoveMs', 'autopilotIntervalMs'] as const) {
    if (!(Number.isFinite(config[name]) && config[name] > 0)) throw new RangeError(`replica config ${name} must be a number > 0, got ${config[name]}`)
  }
  if (config.autoDeadlineMs >= config.requestTimeoutMs) throw new RangeError('replica config autoDeadlineMs must be below requestTimeoutMs: a fallback needs time to answer')
}
