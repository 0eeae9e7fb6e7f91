/**
 * Link estimator settings, each with its reason, and the limits that bound
 * them and the samples fed in. One estimator runs per peer, so every window
 * is small and fixed.
 */
import { limits } from '../lib/limits.ts'
import type { HoltSmoothing } from './holt.ts'

export interface LinkEstimatorConfig {
  /**
   * Probe outcomes (round trip or lost) kept for percentiles and the loss
   * rate: 128 makes the p99 more than just the maximum, and at one probe a
   * second covers about two minutes, long enough to smooth a burst.
   */
  readonly probeWindowSamples: number
  /**
   * Probe outcomes kept for the loss rate alone: far more than for round
   * trips, because the mode detector judges loss by a confidence interval
   * (lossConfidenceZ) and an interval over 128 probes is too wide to say
   * anything about 1%: even with no loss at all its upper bound stays above
   * 3%. 1024 probes (102 s at 100 ms) bring the upper bound for 0 lost probes
   * to 0.45% of one-way loss, and let a link that left datacenter for loss
   * return once at most 4 of its last 1024 probes were lost (see core/adaptive/mode.ts).
   */
  readonly lossWindowSamples: number
  /**
   * Transfers kept for the bandwidth estimate, which is their best rate: few,
   * so that a link that slows down is seen after that many transfers.
   */
  readonly transferWindowSamples: number
  /**
   * Holt smoothing of the round trip, one step per answered probe. Alpha 0.5
   * follows a level shift within about three probes (the mode detector's
   * budget). Round trips move in steps (a route change, a queue filling) more
   * often than in ramps, so beta is low, 0.1: after a step the forecast
   * overshoots by about 13% (21% at 0.2) and still catches up with a ramp
   * within about ten probes.
   */
  readonly rttSmoothing: HoltSmoothing
  /** Answered probes ahead that `forecastRttMs` looks: one probe interval, the horizon at which Holt is still accurate. */
  readonly forecastHorizonSteps: number
}

export const defaultLinkEstimatorConfig: LinkEstimatorConfig = {
  probeWindowSamples: 128,
  lossWindowSamples: 1024,
  transferWindowSamples: 16,
  rttSmoothing: { alpha: 0.5, beta: 0.1 },
  forecastHorizonSteps: 1,
}

export const linkLimits = {
  /** Probe outcomes one estimator keeps: bounds memory per peer and the sort behind each percentile. */
  probeWindowSamplesMax: 4096,
  /** Transfers one estimator keeps: each estimate scans them all. */
  transferWindowSamplesMax: 1024,
  /** A straight line extrapolated further than this says nothing about a network. */
  forecastHorizonStepsMax: 64,
  /** A reply this late is a lost probe for any timeout DWCP uses; a larger value is a host bug. */
  rttMsMax: 60_000,
  /** Bytes of one measured transfer (a snapshot stream at most). */
  transferBytesMax: 1 << 30,
  /** Duration of one measured transfer. */
  transferDurationMsMax: 600_000,
  /** Peers one link table tracks: one per member at most. */
  peersMax: limits.membersMax,
} as const
