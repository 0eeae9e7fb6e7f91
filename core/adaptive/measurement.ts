/**
 * One link as measured at one moment: what the link estimator produces and
 * the mode detector consumes. Plain data, so that a mode change event can
 * carry the measurements behind it to a host or the TUI unchanged.
 */

export interface LinkMeasurement {
  /** Median probe round trip: what a typical commit waits for on this link, and what modes are decided by. */
  readonly rttMsP50: number
  /** 99th percentile round trip: carried for the record (events, TUI); one slow probe in a hundred decides nothing. */
  readonly rttMsP99: number
  /** Lost probes over probes behind this measurement, in [0, 1]. */
  readonly lossRate: number
  /**
   * Estimated bandwidth; null until a transfer has been measured: probes alone
   * cannot say, and a made-up number would decide the mode by itself.
   */
  readonly bandwidthBitsPerSecond: number | null
  /** Probe outcomes (answered or lost) behind the figures above: how much to trust them. */
  readonly samples: number
}

/** A measurement and when it was taken, as mode change events carry it. */
export interface TimedMeasurement {
  readonly linkId: string
  readonly atMs: number
  readonly measurement: LinkMeasurement
}

/** What is wrong with `measurement`, or null when it is well-formed. */
export function measurementProblem(measurement: LinkMeasurement): string | null {
  const { rttMsP50, rttMsP99, lossRate, bandwidthBitsPerSecond, samples } = measurement
  if (!(Number.isFinite(rttMsP50) && rttMsP50 >= 0)) return `rttMsP50 must be a finite number >= 0, got ${rttMsP50}`
  if (!(Number.isFinite(rttMsP99) && rttMsP99 >= rttMsP50)) return `rttMsP99 must be finite and >= rttMsP50 (${rttMsP50}), got ${rttMsP99}`
  if (!(lossRate >= 0 && lossRate <= 1)) return `lossRate must be in [0, 1], got ${lossRate}`
  if (bandwidthBitsPerSecond !== null && !(Number.isFinite(bandwidthBitsPerSecond) && bandwidthBitsPerSecond >= 0)) {
    return `bandwidthBitsPerSecond must be null or a finite number >= 0, got ${bandwidthBitsPerSecond}`
  }
  if (!(Number.isSafeInteger(samples) && samples >= 0)) return `samples must be an integer >= 0, got ${samples}`
  return null
}
