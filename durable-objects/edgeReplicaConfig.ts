/**
 * Replica settings of a region object. Region objects talk across the
 * internet and every tick is an alarm (a wake of the object, billed), so the
 * tick is long (`tickMs`, 100 ms by default, DWCP_TICK_MS) and every
 * engine's timeout is set in milliseconds here and turned into ticks, so it
 * keeps its length whatever the tick.
 */
import { toTicks } from '../core/gossip/config.ts'
import { defaultCrdtConfig } from '../core/crdt/config.ts'
import { defaultPbftConfig } from '../core/pbft/config.ts'
import { defaultRaftConfig } from '../core/raft/config.ts'
import { defaultReplicaConfig, type ReplicaConfig } from '../core/replica/config.ts'
import { EdgeConfigError } from './edgeCluster.ts'

export const edgeTickLimits = {
  /** The default tick: ten alarms a second per region object. */
  tickMsDefault: 100,
  /** Shorter ticks wake an object more often than its ~1,000 requests/s soft limit would like. */
  tickMsMin: 10,
  /** Longer ticks stretch Raft heartbeats past what a WAN election timeout tolerates. */
  tickMsMax: 1_000,
} as const

/** Times in milliseconds, each with its reason. */
export const edgeTimingsMs = {
  /** A follower that hears no leader for 2 to 4 s starts an election: an inter-region round trip is at most a few hundred ms. */
  electionMin: 2_000,
  /** Leader heartbeats: several per election timeout, so one lost heartbeat costs nothing. */
  heartbeat: 300,
  /** A leadership transfer not done in this time is abandoned. */
  transferMax: 2_000,
  /** PBFT: a request not ordered in this time starts a view change; a view change not done in it starts the next. */
  pbftRequestTimeout: 4_000,
  pbftViewChange: 4_000,
  pbftStatus: 500,
  pbftRetransmit: 1_000,
  /** CRDT deltas unacknowledged for this long are sent again: several WAN round trips. */
  crdtResend: 1_000,
} as const

/** The tick of DWCP_TICK_MS (or the default); an EdgeConfigError names a bad value. */
export function edgeTickMs(value: string | undefined): number {
  if (value === undefined || value === '') return edgeTickLimits.tickMsDefault
  const tickMs = Number(value)
  if (!Number.isInteger(tickMs) || tickMs < edgeTickLimits.tickMsMin || tickMs > edgeTickLimits.tickMsMax)
    throw new EdgeConfigError(`DWCP_TICK_MS must be an integer of milliseconds in [${edgeTickLimits.tickMsMin}, ${edgeTickLimits.tickMsMax}], got ${JSON.stringify(value)}`)
  return tickMs
}

export function edgeReplicaConfig(tickMs: number): Partial<ReplicaConfig> {
  const ticks = (ms: number) => toTicks(ms, tickMs)
  return {
    tickMs,
    raft: { ...defaultRaftConfig, electionTicksMin: ticks(edgeTimingsMs.electionMin), heartbeatTicks: ticks(edgeTimingsMs.heartbeat), transferTicksMax: ticks(edgeTimingsMs.transferMax) },
    crdt: { ...defaultCrdtConfig, resendTicks: ticks(edgeTimingsMs.crdtResend) },
    gossip: defaultReplicaConfig.gossip,
    pbft: {
      ...defaultPbftConfig,
      requestTimeoutTicks: ticks(edgeTimingsMs.pbftRequestTimeout),
      viewChangeTicks: ticks(edgeTimingsMs.pbftViewChange),
      statusTicks: ticks(edgeTimingsMs.pbftStatus),
      retransmitTicks: ticks(edgeTimingsMs.pbftRetransmit),
    },
  }
}
