/**
 * Prober settings, each with its reason, and the limits that bound them.
 * The interval is short because the mode detector decides within 3 probe
 * intervals of a change: 100 ms makes that 300 ms, a few Raft commits.
 */
import { limits } from '../lib/limits.ts'
import { linkLimits } from './linkConfig.ts'

export interface ProberConfig {
  /** Time between two probes of one peer: one measurement per peer per interval feeds the mode detector. */
  readonly probeIntervalMs: number
  /**
   * An unanswered probe counts as lost after this: well above any round trip
   * DWCP calls internet (50 ms), so a slow link reads as slow, not as lossy.
   */
  readonly probeTimeoutMs: number
  /**
   * Probes awaiting an answer from one peer; when full, the oldest counts as
   * lost to make room. At least probeTimeoutMs / probeIntervalMs (10 with the
   * defaults), or probes are counted lost before their timeout.
   */
  readonly outstandingProbesMax: number
  /**
   * Probes sent in one interval: beyond this many peers, peers take turns
   * (round-robin) and each is probed every ⌈peers / this⌉ intervals, so a
   * large cluster costs a bounded rate of probes.
   */
  readonly peersPerIntervalMax: number
}

export const defaultProberConfig: ProberConfig = {
  probeIntervalMs: 100,
  probeTimeoutMs: 1000,
  outstandingProbesMax: 16,
  peersPerIntervalMax: 64,
}

export const proberLimits = {
  /** Below 1 ms a probe interval is shorter than the round trips it measures. */
  probeIntervalMsMin: 1,
  /** Above a minute a probe interval no longer follows a link that changes. */
  probeIntervalMsMax: 60_000,
  /** A longer timeout would record round trips the link estimator refuses. */
  probeTimeoutMsMax: linkLimits.rttMsMax,
  /** Outstanding probes per peer: bounds the per-peer map of send times. */
  outstandingProbesMaxMax: 1024,
  /** Probes per interval: one per member at most. */
  peersPerIntervalMaxMax: limits.membersMax,
  /** Mode changes decided in ticks and not yet taken; beyond it the oldest is dropped (and counted). */
  pendingChangesMax: 4096,
} as const

/** Throws a RangeError naming the first setting that is out of range. */
export function validateProberConfig(config: ProberConfig): void {
  const { probeIntervalMs, probeTimeoutMs, outstandingProbesMax, peersPerIntervalMax } = config
  if (!(Number.isFinite(probeIntervalMs) && probeIntervalMs >= proberLimits.probeIntervalMsMin && probeIntervalMs <= proberLimits.probeIntervalMsMax)) {
    throw new RangeError(`prober config probeIntervalMs must be in [${proberLimits.probeIntervalMsMin}, ${proberLimits.probeIntervalMsMax}] ms, got ${probeIntervalMs}`)
  }
  if (!(Number.isFinite(probeTimeoutMs) && probeTimeoutMs > 0 && probeTimeoutMs <= proberLimits.probeTimeoutMsMax)) {
    throw new RangeError(`prober config probeTimeoutMs must be in (0, ${proberLimits.probeTimeoutMsMax}] ms, got ${probeTimeoutMs}`)
  }
  if (!(Number.isInteger(outstandingProbesMax) && outstandingProbesMax >= 1 && outstandingProbesMax <= proberLimits.outstandingProbesMaxMax)) {
    throw new RangeError(`prober config outstandingProbesMax must be an integer in [1, ${proberLimits.outstandingProbesMaxMax}], got ${outstandingProbesMax}`)
  }
  if (!(Number.isInteger(peersPerIntervalMax) && peersPerIntervalMax >= 1 && peersPerIntervalMax <= proberLimits.peersPerIntervalMaxMax)) {
    throw new RangeError(`prober config peersPerIntervalMax must be an integer in [1, ${proberLimits.peersPerIntervalMaxMax}], got ${peersPerIntervalMax}`)
  }
}
