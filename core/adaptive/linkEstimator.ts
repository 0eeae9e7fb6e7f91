/**
 * What one peer's link looks like, from the probes and transfers the host
 * measured: round-trip percentiles, loss, bandwidth and a short forecast of
 * the round trip. Sans-IO: times are numbers the caller passes in.
 */
import { assert } from '../lib/assert.ts'
import type { Refusal } from '../ready.ts'
import { holtForecast, holtUpdate, isValidHoltSmoothing, type HoltState } from './holt.ts'
import { defaultLinkEstimatorConfig, linkLimits, type LinkEstimatorConfig } from './linkConfig.ts'
import { percentileOfSorted } from './linkStats.ts'

/** A link as measured over the current windows. Null means no sample to say. */
export interface LinkEstimate {
  /** Probe outcomes in the round-trip window, lost ones included. */
  readonly samples: number
  /** Probe outcomes in the loss window (`lossWindowSamples`), which the loss rate is over. */
  readonly lossSamples: number
  /** Transfers in the window. */
  readonly transferSamples: number
  readonly rttMsP50: number | null
  readonly rttMsP99: number | null
  /** The most recently recorded round trip: the freshest sign of a change. */
  readonly rttMsLast: number | null
  /** Lost probes over probes in the loss window, in [0, 1]. */
  readonly lossRate: number | null
  /** The best rate of the transfers in the window (see `recordTransfer`). */
  readonly bandwidthBitsPerSecond: number | null
  /** Holt's forecast `forecastHorizonSteps` answered probes ahead, never below 0. */
  readonly forecastRttMs: number | null
}

/** A lost probe in the probe window. */
const lost = Number.NaN

export class LinkEstimator {
  private readonly config: LinkEstimatorConfig
  /** Ring of probe round trips in ms, `lost` for lost probes; `probeCount` valid entries end before `probeNext`. */
  private readonly rttMs: Float64Array
  private probeNext = 0
  private probeCount = 0
  /** Ring of probe outcomes for the loss rate, 1 for lost; `lossCount` valid entries, `lostCount` of them lost. */
  private readonly lostFlags: Uint8Array
  private lossNext = 0
  private lossCount = 0
  private lostCount = 0
  /** Ring of transfer rates in bits per second. */
  private readonly transferBitsPerSecond: Float64Array
  private transferNext = 0
  private transferCount = 0
  private holt: HoltState | null = null
  /** Send time of the newest probe Holt has absorbed: an older answer arriving late does not rewind the trend. */
  private holtSentAtMs = -Infinity
  private rttMsLast: number | null = null

  constructor(config: LinkEstimatorConfig = defaultLinkEstimatorConfig) {
    const { probeWindowSamples, lossWindowSamples, transferWindowSamples, rttSmoothing, forecastHorizonSteps } = config
    assert(Number.isInteger(probeWindowSamples) && probeWindowSamples >= 1 && probeWindowSamples <= linkLimits.probeWindowSamplesMax, 'link config needs probeWindowSamples in [1, probeWindowSamplesMax]')
    assert(Number.isInteger(lossWindowSamples) && lossWindowSamples >= 1 && lossWindowSamples <= linkLimits.probeWindowSamplesMax, 'link config needs lossWindowSamples in [1, probeWindowSamplesMax]')
    assert(Number.isInteger(transferWindowSamples) && transferWindowSamples >= 1 && transferWindowSamples <= linkLimits.transferWindowSamplesMax, 'link config needs transferWindowSamples in [1, transferWindowSamplesMax]')
    assert(isValidHoltSmoothing(rttSmoothing), 'link config needs Holt alpha and beta in (0, 1]')
    assert(Number.isInteger(forecastHorizonSteps) && forecastHorizonSteps >= 0 && forecastHorizonSteps <= linkLimits.forecastHorizonStepsMax, 'link config needs forecastHorizonSteps in [0, forecastHorizonStepsMax]')
    this.config = config
    this.rttMs = new Float64Array(probeWindowSamples)
    this.lostFlags = new Uint8Array(lossWindowSamples)
    this.transferBitsPerSecond = new Float64Array(transferWindowSamples)
  }

  /**
   * A probe sent at `sentAtMs` came back after `rttMs`, or was lost (null).
   * Outcomes may be recorded in any order (a loss is known only at its
   * timeout, after later probes have answered); the windows count them as they
   * come, the forecast only in send order.
   */
  recordProbe(sentAtMs: number, rttMs: number | null): Refusal | null {
    if (!Number.isFinite(sentAtMs) || sentAtMs < 0) return { code: 'invalidTime', message: `a probe's send time is a finite number of ms >= 0, got ${sentAtMs}` }
    if (rttMs !== null && !(rttMs >= 0 && rttMs <= linkLimits.rttMsMax)) {
      return { code: 'invalidRtt', message: `a round trip is in [0, rttMsMax=${linkLimits.rttMsMax}] ms, got ${rttMs}; record a later reply as lost` }
    }
    this.rttMs[this.probeNext] = rttMs ?? lost
    this.probeNext = (this.probeNext + 1) % this.rttMs.length
    this.probeCount = Math.min(this.probeCount + 1, this.rttMs.length)
    const isLost = rttMs === null ? 1 : 0
    if (this.lossCount === this.lostFlags.length) this.lostCount -= this.lostFlags[this.lossNext]!
    this.lostFlags[this.lossNext] = isLost
    this.lostCount += isLost
    this.lossNext = (this.lossNext + 1) % this.lostFlags.length
    this.lossCount = Math.min(this.lossCount + 1, this.lostFlags.length)
    if (rttMs !== null) {
      this.rttMsLast = rttMs
      if (sentAtMs >= this.holtSentAtMs) {
        this.holt = holtUpdate(this.holt, rttMs, this.config.rttSmoothing)
        this.holtSentAtMs = sentAtMs
      }
    }
    return null
  }

  /**
   * `bytes` reached the peer in `durationMs`. Bandwidth is the best rate of the
   * transfers in the window, not an average: a transfer's rate can fall short
   * of the link's (small messages spend their time on latency, a sender may
   * have had nothing more to send) but cannot exceed it, so the maximum is the
   * estimate least biased by the traffic; the short window bounds how long a
   * rate the link no longer has survives (BBR filters delivery rate the same way).
   */
  recordTransfer(bytes: number, durationMs: number): Refusal | null {
    if (!Number.isSafeInteger(bytes) || bytes < 1 || bytes > linkLimits.transferBytesMax) {
      return { code: 'invalidBytes', message: `a transfer is 1 to transferBytesMax=${linkLimits.transferBytesMax} bytes, got ${bytes}` }
    }
    // Zero time would be an infinite rate: a clock too coarse for this transfer cannot measure it.
    if (!(durationMs > 0 && durationMs <= linkLimits.transferDurationMsMax)) {
      return { code: 'invalidDuration', message: `a transfer takes (0, transferDurationMsMax=${linkLimits.transferDurationMsMax}] ms, got ${durationMs}` }
    }
    this.transferBitsPerSecond[this.transferNext] = (bytes * 8 * 1000) / durationMs
    this.transferNext = (this.transferNext + 1) % this.transferBitsPerSecond.length
    this.transferCount = Math.min(this.transferCount + 1, this.transferBitsPerSecond.length)
    return null
  }

  estimate(): LinkEstimate {
    const answered = this.answeredRttMsSorted()
    return {
      samples: this.probeCount,
      lossSamples: this.lossCount,
      transferSamples: this.transferCount,
      rttMsP50: percentileOfSorted(answered, 0.5),
      rttMsP99: percentileOfSorted(answered, 0.99),
      rttMsLast: this.rttMsLast,
      lossRate: this.lossCount === 0 ? null : this.lostCount / this.lossCount,
      bandwidthBitsPerSecond: this.bandwidthBitsPerSecond(),
      forecastRttMs: this.forecastRttMs(this.config.forecastHorizonSteps),
    }
  }

  /** Holt's round-trip forecast `horizonSteps` answered probes ahead; null before the first answer. */
  forecastRttMs(horizonSteps: number): number | null {
    assert(Number.isInteger(horizonSteps) && horizonSteps >= 0 && horizonSteps <= linkLimits.forecastHorizonStepsMax, 'a forecast horizon is in [0, forecastHorizonStepsMax] steps')
    if (this.holt === null) return null
    // A falling trend extrapolated far enough goes negative; no round trip does.
    return Math.max(0, holtForecast(this.holt, horizonSteps))
  }

  /** The last `count` answered round trips, newest last (fewer when fewer were answered in the window). */
  recentRttMs(count: number): number[] {
    const recent: number[] = []
    for (let back = 1; back <= this.probeCount && recent.length < count; back++) {
      const rttMs = this.rttMs[(this.probeNext - back + this.rttMs.length) % this.rttMs.length]!
      if (!Number.isNaN(rttMs)) recent.push(rttMs)
    }
    return recent.reverse()
  }

  private answeredRttMsSorted(): Float64Array {
    const answered = new Float64Array(this.probeCount)
    let count = 0
    for (let i = 0; i < this.probeCount; i++) {
      const rttMs = this.rttMs[i]!
      if (!Number.isNaN(rttMs)) answered[count++] = rttMs
    }
    return answered.subarray(0, count).sort()
  }

  private bandwidthBitsPerSecond(): number | null {
    if (this.transferCount === 0) return null
    let best = 0
    for (let i = 0; i < this.transferCount; i++) best = Math.max(best, this.transferBitsPerSecond[i]!)
    return best
  }
}
