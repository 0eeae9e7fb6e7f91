/**
 * Mode detector settings, each with its reason, and the limits that bound
 * links and groups. Thresholds are DESIGN §3's; bounds are strict as DESIGN
 * writes them ("RTT < 10 ms", "bandwidth > 1 Gbit/s").
 */
import { limits } from '../lib/limits.ts'
import { isMode, type Mode } from './mode.ts'

export interface ModeDetectorConfig {
  /** Datacenter needs a p50 round trip below this (DESIGN: < 10 ms): a Raft commit then fits its 100 ms deadline many times over. */
  readonly datacenterRttMsMax: number
  /** Datacenter needs bandwidth above this (DESIGN: > 1 Gbit/s): log replication and snapshots are not throttled by the link. */
  readonly datacenterBandwidthBitsPerSecondMin: number
  /** Datacenter needs one-way loss below this: beyond 1% Raft's round trips wait on resends often enough to miss the write deadline. Judged by a confidence interval (see `nextLossLevel`). */
  readonly datacenterLossRateMax: number
  /** Internet when the p50 round trip is above this (DESIGN: > 50 ms): one Raft round trip is half the write deadline. */
  readonly internetRttMsMin: number
  /** Internet when bandwidth is below this (DESIGN: < 1 Gbit/s). */
  readonly internetBandwidthBitsPerSecondMax: number
  /** Internet when one-way loss is above this, whatever the round trip: at 5% nearly every commit of a few messages waits for a resend. */
  readonly internetLossRateMin: number
  /**
   * Hysteresis as a fraction of each threshold: leaving a mode needs the
   * threshold passed by this much (with 0.2, datacenter is left above 12 ms
   * and entered from hybrid below 8.3 ms), so noise of ±20% around a
   * threshold cannot move the mode.
   */
  readonly marginRatio: number
  /**
   * Consecutive measurements outside the current mode before it changes: one
   * outlier is not a change. 2, so a change is decided at the second probe
   * interval after it, one interval inside the 3 the issue allows.
   */
  readonly confirmSamples: number
  /** Measurements behind fewer probes are skipped: the median of one or two round trips is noise. */
  readonly samplesMin: number
  /**
   * Below this many probes in the loss window the loss level does not move.
   * The Wilson interval is looked at after every probe of a growing window,
   * and its coverage is poorest for few probes and few losses: with 20, two
   * lost probes (one in a hundred links at 1% loss) would clear 1.2% at z = 3.
   * 100 probes (10 s) keep a link at 0.5% loss low with a margin of about 4
   * standard deviations.
   */
  readonly lossSamplesMin: number
  /**
   * Standard deviations of the loss interval (one side): a loss level moves
   * only when the interval clears a threshold by the margin. 3 (99.87% one
   * sided) rather than 2, because the interval is looked at once per probe
   * interval on every link of every node: at z = 2 one link in a dozen at
   * 0.5% loss would leave datacenter by chance within 30 s.
   */
  readonly lossConfidenceZ: number
  /** The mode before any measurement: not datacenter, so nothing counts on Raft's fast path before a link has shown it. */
  readonly initialMode: Mode
}

export const defaultModeDetectorConfig: ModeDetectorConfig = {
  datacenterRttMsMax: 10,
  datacenterBandwidthBitsPerSecondMin: 1e9,
  datacenterLossRateMax: 0.01,
  internetRttMsMin: 50,
  internetBandwidthBitsPerSecondMax: 1e9,
  internetLossRateMin: 0.05,
  marginRatio: 0.2,
  confirmSamples: 2,
  samplesMin: 3,
  lossSamplesMin: 100,
  lossConfidenceZ: 3,
  initialMode: 'hybrid',
}

export const modeLimits = {
  /** The bound: a real change is detected within 3 probe intervals, at one measurement per interval. */
  confirmSamplesMax: 3,
  /** More standard deviations than this and a loss level would need far more probes than a window holds to move at all. */
  lossConfidenceZMax: 6,
  /** A margin this wide would keep a link in datacenter mode at several times the internet threshold. */
  marginRatioMax: 1,
  /** Links one detector tracks: one per peer, so as many as a cluster has members. */
  linksMax: limits.membersMax,
  /** Groups one detector tracks (home groups of namespaces, the PBFT group). */
  groupsMax: 1024,
  /** Links of one group: one per other member of the largest group DWCP runs (PBFT's 31 replicas). */
  groupLinksMax: 31,
} as const

/** Throws a RangeError naming the first setting that is out of range or inconsistent with another. */
export function validateModeDetectorConfig(config: ModeDetectorConfig): void {
  const positive = ['datacenterRttMsMax', 'datacenterBandwidthBitsPerSecondMin', 'internetRttMsMin', 'internetBandwidthBitsPerSecondMax'] as const
  for (const name of positive) {
    if (!(Number.isFinite(config[name]) && config[name] > 0)) throw new RangeError(`mode config ${name} must be a finite number > 0, got ${config[name]}`)
  }
  for (const name of ['datacenterLossRateMax', 'internetLossRateMin'] as const) {
    if (!(config[name] >= 0 && config[name] <= 1)) throw new RangeError(`mode config ${name} must be in [0, 1], got ${config[name]}`)
  }
  // Datacenter and internet must not overlap even with the margin applied, or one measurement could be both.
  if (config.datacenterRttMsMax > config.internetRttMsMin) throw new RangeError('mode config datacenterRttMsMax must be at most internetRttMsMin')
  if (config.datacenterBandwidthBitsPerSecondMin < config.internetBandwidthBitsPerSecondMax) {
    throw new RangeError('mode config datacenterBandwidthBitsPerSecondMin must be at least internetBandwidthBitsPerSecondMax')
  }
  if (config.datacenterLossRateMax > config.internetLossRateMin) throw new RangeError('mode config datacenterLossRateMax must be at most internetLossRateMin')
  if (!(config.marginRatio >= 0 && config.marginRatio <= modeLimits.marginRatioMax)) {
    throw new RangeError(`mode config marginRatio must be in [0, ${modeLimits.marginRatioMax}], got ${config.marginRatio}`)
  }
  if (!(Number.isInteger(config.confirmSamples) && config.confirmSamples >= 1 && config.confirmSamples <= modeLimits.confirmSamplesMax)) {
    throw new RangeError(`mode config confirmSamples must be an integer in [1, ${modeLimits.confirmSamplesMax}] (detection within 3 probe intervals), got ${config.confirmSamples}`)
  }
  for (const name of ['samplesMin', 'lossSamplesMin'] as const) {
    if (!(Number.isSafeInteger(config[name]) && config[name] >= 1)) throw new RangeError(`mode config ${name} must be an integer >= 1, got ${config[name]}`)
  }
  if (!(Number.isFinite(config.lossConfidenceZ) && config.lossConfidenceZ > 0 && config.lossConfidenceZ <= modeLimits.lossConfidenceZMax)) {
    throw new RangeError(`mode config lossConfidenceZ must be in (0, ${modeLimits.lossConfidenceZMax}], got ${config.lossConfidenceZ}`)
  }
  if (!isMode(config.initialMode)) throw new RangeError(`mode config initialMode must be datacenter, hybrid or internet, got ${String(config.initialMode)}`)
}
