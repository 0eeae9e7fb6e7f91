/**
 * From what the link estimator knows to what the mode detector decides on.
 * The estimator's median spans its whole probe window (128 probes): right for
 * reporting, far too slow for detection, where a step change must be seen
 * within 3 probe intervals. So the measurement's median is over the last
 * `detectionProbes` answered probes; the p99 and bandwidth keep the
 * window's longer view, and loss the loss window's still longer one (loss
 * needs many probes to mean anything): `samples` counts the probes behind
 * the loss rate.
 */
import type { LinkEstimator } from './linkEstimator.ts'
import { percentile } from './linkStats.ts'
import type { LinkMeasurement } from './measurement.ts'

/** Answered probes whose median decides the mode: 3 lets one outlier pass and still follows a step by the 2nd probe. */
export const detectionProbes = 3

/** The measurement to hand the mode detector, or null before any probe was answered. */
export function measurementOf(estimator: LinkEstimator, probes = detectionProbes): LinkMeasurement | null {
  const estimate = estimator.estimate()
  const recent = estimator.recentRttMs(probes)
  const rttMsP50 = percentile(recent, 0.5)
  if (rttMsP50 === null || estimate.rttMsP99 === null || estimate.lossRate === null) return null
  return {
    rttMsP50,
    rttMsP99: Math.max(estimate.rttMsP99, rttMsP50),
    lossRate: estimate.lossRate,
    bandwidthBitsPerSecond: estimate.bandwidthBitsPerSecond,
    samples: estimate.lossSamples,
  }
}
