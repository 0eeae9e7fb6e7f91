/**
 * Replica settings of a region object. Region objects talk across the
 * internet and every wake is an alarm (billed), so the tick is long
 * (`tickMs`, 100 ms by default, DWCP_TICK_MS), the object sleeps between the
 * ticks that have work (host/kernel.ts sleepWhenIdle), and every periodic
 * timer runs on one probe interval, aligned: idle, a region object wakes once
 * per probe interval. Timeouts are set in milliseconds here and turned into
 * ticks, so they keep their length whatever the tick.
 */
import { defaultCrdtConfig, defaultPbftConfig, defaultRaftConfig, toTicks, wanGossipConfig, type ProberConfig, type ReplicaConfig } from '../core/index.ts'
import { EdgeConfigError } from './edgeCluster.ts'

export const edgeTickLimits = {
  /** The default tick: ten a second, of which an idle object wakes for one a probe interval. */
  tickMsDefault: 100,
  /** Shorter ticks wake an object more often than its ~1,000 requests/s soft limit would like. */
  tickMsMin: 10,
  /** Longer ticks leave no tick between a SWIM ping and the end of its probe interval (the ping's timeout). */
  tickMsMax: 500,
} as const

/** Times in milliseconds, each with its reason. */
export const edgeTimingsMs = {
  /**
   * The probe interval: the period of every timer an idle region object has
   * (SWIM probes, link probes, Raft heartbeats, PBFT status), all on one tick
   * grid (ReplicaConfig.alignedPeriods), so an idle object wakes once per
   * probe interval, not once per timer. Rounded to whole ticks.
   */
  probeInterval: 1_000,
  /** A SWIM ping unanswered this long gets indirect probes: above an inter-region round trip (at most a few hundred ms). */
  probeTimeout: 800,
  /** A link probe unanswered this long counts as lost. */
  linkProbeTimeout: 1_000,
  /** A transfer of leadership not done in this time is abandoned. */
  transferMax: 2_000,
  /** PBFT: a request not ordered in this time starts a view change; a view change not done in it starts the next. */
  pbftRequestTimeout: 4_000,
  pbftViewChange: 4_000,
  /** PBFT: a gateway with no f+1 replies in this time sends its bundle to every replica. */
  pbftRetransmit: 2_000,
  /** CRDT deltas unacknowledged for this long are sent again: several WAN round trips. */
  crdtResend: 1_000,
} as const

/** Periods as multiples of the probe interval, so they share its ticks. */
export const edgePeriodsInProbeIntervals = {
  /** A follower that hears no heartbeat for 5 to 10 probe intervals starts an election; heartbeats come every probe interval. */
  electionMin: 5,
  /** SWIM update digests and full push-pulls (memberlist's WAN push-pull: a minute). */
  updateSync: 10,
  pushPull: 60,
  /** The Raft leader's placement round. */
  placement: 10,
  /** The Raft leader's autopilot round (promotions, dead voters): far below deadVoterRemoveMs either way. */
  autopilot: 1,
} as const

/** The tick of DWCP_TICK_MS (or the default); an EdgeConfigError names a bad value. */
export function edgeTickMs(value: string | undefined): number {
  if (value === undefined || value === '') return edgeTickLimits.tickMsDefault
  const tickMs = Number(value)
  if (!Number.isInteger(tickMs) || tickMs < edgeTickLimits.tickMsMin || tickMs > edgeTickLimits.tickMsMax)
    throw new EdgeConfigError(`DWCP_TICK_MS must be an integer of milliseconds in [${edgeTickLimits.tickMsMin}, ${edgeTickLimits.tickMsMax}], got ${JSON.stringify(value)}`)
  return tickMs
}

/** Replica settings of a region object with ticks of `tickMs`. */
export function edgeReplicaConfig(tickMs: number): Partial<ReplicaConfig> {
  const ticks = (ms: number) => toTicks(ms, tickMs)
  const periodTicks = ticks(edgeTimingsMs.probeInterval)
  // Every period a whole number of probe intervals in ticks, so that rounding keeps them on one grid.
  const periodMs = (probeIntervals: number) => probeIntervals * periodTicks * tickMs
  const periods = edgePeriodsInProbeIntervals
  return {
    tickMs,
    alignedPeriods: true,
    placementIntervalMs: periodMs(periods.placement),
    autopilotIntervalMs: periodMs(periods.autopilot),
    raft: { ...defaultRaftConfig, electionTicksMin: periods.electionMin * periodTicks, heartbeatTicks: periodTicks, transferTicksMax: ticks(edgeTimingsMs.transferMax) },
    crdt: { ...defaultCrdtConfig, resendTicks: ticks(edgeTimingsMs.crdtResend) },
    gossip: {
      ...wanGossipConfig,
      probeIntervalMs: periodMs(1),
      // Within the probe interval by at least a tick: the indirect probes need time before it ends.
      probeTimeoutMs: Math.min(edgeTimingsMs.probeTimeout, periodMs(1) - tickMs),
      gossipIntervalMs: periodMs(1),
      updateSyncIntervalMs: periodMs(periods.updateSync),
      pushPullIntervalMs: periodMs(periods.pushPull),
    },
    pbft: {
      ...defaultPbftConfig,
      requestTimeoutTicks: ticks(edgeTimingsMs.pbftRequestTimeout),
      viewChangeTicks: ticks(edgeTimingsMs.pbftViewChange),
      statusTicks: periodTicks,
      retransmitTicks: ticks(edgeTimingsMs.pbftRetransmit),
    },
  }
}

/** Link probes of a region object: one round per probe interval, on the same ticks as the rest. */
export function edgeProberConfig(tickMs: number): Partial<ProberConfig> {
  return { probeIntervalMs: toTicks(edgeTimingsMs.probeInterval, tickMs) * tickMs, probeTimeoutMs: edgeTimingsMs.linkProbeTimeout }
}
