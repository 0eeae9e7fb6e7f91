/**
 * Modes and how one measurement is classified: DESIGN §3's thresholds, and
 * the same thresholds moved by the hysteresis margin in favour of the mode a
 * link is already in.
 */
import { wilsonInterval } from './linkStats.ts'
import type { LinkMeasurement } from './measurement.ts'
import type { ModeDetectorConfig } from './modeConfig.ts'

/** How a link or group behaves: datacenter (Raft's fast path), internet (CRDT), or hybrid between. */
export type Mode = 'datacenter' | 'hybrid' | 'internet'

/** Best first: the order in which a quorum picks its links. */
export const modes: readonly Mode[] = ['datacenter', 'hybrid', 'internet']

export function isMode(value: unknown): value is Mode {
  return value === 'datacenter' || value === 'hybrid' || value === 'internet'
}

/** 0 for datacenter, 1 hybrid, 2 internet. */
export function modeRank(mode: Mode): number {
  return mode === 'datacenter' ? 0 : mode === 'hybrid' ? 1 : 2
}

/**
 * How lossy a link is, as decided from a confidence interval over its loss
 * window: `low` (below DESIGN's datacenter loss threshold, 1%), `elevated`
 * (above it: not datacenter), `high` (above the internet threshold, 5%:
 * internet whatever the round trip). A level has its own hysteresis (see
 * `nextLossLevel`), so the mode classification below takes it as given.
 */
export type LossLevel = 'low' | 'elevated' | 'high'

export const lossLevels: readonly LossLevel[] = ['low', 'elevated', 'high']

/** 0 for low, 1 elevated, 2 high. */
export function lossLevelRank(level: LossLevel): number {
  return level === 'low' ? 0 : level === 'elevated' ? 1 : 2
}

/**
 * One-way loss from probe loss: a probe is lost when the probe or its answer
 * is, so q = 1 − (1 − p)² for a one-way loss p, and p = 1 − √(1 − q). DESIGN's
 * thresholds are one-way (what one Raft message risks), so they are compared
 * with p; the transform is monotone, so it carries interval bounds over.
 */
export function oneWayLoss(probeLossRate: number): number {
  return 1 - Math.sqrt(1 - probeLossRate)
}

/**
 * THE LOSS RULE. Loss is judged by the Wilson score interval
 * [lower, upper] of the probe loss over the loss window (lossWindowSamples
 * probes, at lossConfidenceZ), taken to one-way loss: never by the point
 * estimate, which over a few hundred probes cannot tell 0.8% from 1.2%.
 * With d = datacenterLossRateMax (1%), i = internetLossRateMin (5%) and
 * m = marginRatio (0.2):
 *
 * - a level rises only when the interval's LOWER bound clears a threshold by
 *   the margin: elevated when lower > d·(1+m) = 1.2%, high when lower >
 *   i·(1+m) = 6%;
 * - it falls only when the UPPER bound is below the threshold less the
 *   margin: below high when upper < i/(1+m) = 4.17%, back to low when upper
 *   < d/(1+m) = 0.833%;
 * - otherwise it stays; fewer than lossSamplesMin probes decide nothing.
 *
 * A link starts `low` (no loss shown). With the defaults (z = 3, one-sided
 * 99.87%; 1024-probe window, 102 s at 100 ms; at least 100 probes) a link
 * whose one-way loss is a constant p is, loss-wise, in:
 *
 * - p < 0.833%: low for ever (the lower bound would have to clear 1.2%; at
 *   p = 0.5% that takes at least 6 standard deviations of the lost count in
 *   any window of 100 to 1024 probes): loss never moves it out of datacenter;
 * - 0.833% ≤ p ≤ 1.2% (the band): where it is; from low it stays low unless
 *   chance clears the bound, and then stays elevated (it would need upper <
 *   0.833%, which p ≥ 0.833% does not give);
 * - 1.2% < p < 4.17%: elevated (not datacenter, so hybrid on a datacenter
 *   round trip) once the lower bound clears 1.2%. Over the full window that
 *   happens for p ≥ 1.95% with the expected count; nearer 1.2% it needs
 *   chance (1024 probes cannot resolve 1.2% from 1.5%), so it may never
 *   happen. It never returns while p stays: returning needs at most 4 lost
 *   of 1024 probes (one-way 0.2%);
 * - 4.17% ≤ p ≤ 6%: elevated as above, and high (internet) only by chance;
 * - p > 6%: elevated, then high (internet) once the lower bound clears 6%:
 *   over the full window for p ≥ 7.6%; at p = 10% after about 200 probes.
 *
 * So for constant loss the level only ever rises, at most twice, and the
 * mode it leads to (`classify`) never turns back: no flapping from loss.
 */
export function nextLossLevel(current: LossLevel, measurement: LinkMeasurement, config: ModeDetectorConfig): LossLevel {
  if (!lossCounts(measurement, config)) return current
  const lost = Math.round(measurement.lossRate * measurement.samples)
  const interval = wilsonInterval(lost, measurement.samples, config.lossConfidenceZ)
  const lower = oneWayLoss(interval.lower)
  const upper = oneWayLoss(interval.upper)
  const stretch = 1 + config.marginRatio
  const high = lower > config.internetLossRateMin * stretch || (current === 'high' && !(upper < config.internetLossRateMin / stretch))
  if (high) return 'high'
  const elevated = lower > config.datacenterLossRateMax * stretch || (current !== 'low' && !(upper < config.datacenterLossRateMax / stretch))
  return elevated ? 'elevated' : 'low'
}

/**
 * The loss levels a link whose one-way loss is a constant `oneWay` can be in
 * under `nextLossLevel`, starting low, lowest first: the rule above with the
 * chance moves included (in a band a level may move or not; above it, it
 * moves once the interval allows). What a simulation that injects loss
 * expects of its links.
 */
export function lossLevelsFor(oneWay: number, config: ModeDetectorConfig): readonly LossLevel[] {
  const stretch = 1 + config.marginRatio
  if (oneWay < config.datacenterLossRateMax / stretch) return ['low']
  if (oneWay < config.internetLossRateMin / stretch) return ['low', 'elevated']
  return ['low', 'elevated', 'high']
}

/**
 * DESIGN §3 as written: datacenter when p50 RTT < 10 ms, bandwidth > 1 Gbit/s
 * and loss < 1%; internet when p50 RTT > 50 ms, bandwidth < 1 Gbit/s or loss >
 * 5%; hybrid otherwise. Unknown bandwidth (null) leaves its condition out.
 * Loss enters as the link's loss level (`nextLossLevel`), which carries its
 * own hysteresis: datacenter needs it low, high makes the link internet.
 */
export function classify(measurement: LinkMeasurement, config: ModeDetectorConfig, lossLevel: LossLevel = 'low'): Mode {
  if (isDatacenter(measurement, config, 1, lossLevel)) return 'datacenter'
  if (isInternet(measurement, config, 1, lossLevel)) return 'internet'
  return 'hybrid'
}

/**
 * The classification with hysteresis: `current` stays while the measurement
 * lies in its region widened by the margin on every side; otherwise DESIGN's
 * plain classification, which then differs from `current`. So every change
 * crosses a threshold by the margin: datacenter is left above 10·(1+m) ms,
 * entered from hybrid below 10/(1+m) ms; internet entered above 50·(1+m) ms,
 * left below 50/(1+m) ms; bandwidth alike. Loss moves by its level, whose
 * changes already cross the thresholds by the margin with confidence.
 */
export function classifyFrom(current: Mode, measurement: LinkMeasurement, config: ModeDetectorConfig, lossLevel: LossLevel = 'low'): Mode {
  const stretch = 1 + config.marginRatio
  const stays =
    current === 'datacenter'
      ? isDatacenter(measurement, config, stretch, lossLevel)
      : current === 'internet'
        ? isInternet(measurement, config, stretch, lossLevel)
        : !isDatacenter(measurement, config, 1 / stretch, lossLevel) && !isInternet(measurement, config, 1 / stretch, lossLevel)
  return stays ? current : classify(measurement, config, lossLevel)
}

/** In the datacenter region; `stretch` > 1 widens it (thresholds moved outwards), < 1 narrows it. */
function isDatacenter(measurement: LinkMeasurement, config: ModeDetectorConfig, stretch: number, lossLevel: LossLevel): boolean {
  const { rttMsP50, bandwidthBitsPerSecond } = measurement
  return rttMsP50 < config.datacenterRttMsMax * stretch && (bandwidthBitsPerSecond === null || bandwidthBitsPerSecond > config.datacenterBandwidthBitsPerSecondMin / stretch) && lossLevel === 'low'
}

/** In the internet region; `stretch` > 1 widens it, < 1 narrows it. */
function isInternet(measurement: LinkMeasurement, config: ModeDetectorConfig, stretch: number, lossLevel: LossLevel): boolean {
  const { rttMsP50, bandwidthBitsPerSecond } = measurement
  return rttMsP50 > config.internetRttMsMin / stretch || (bandwidthBitsPerSecond !== null && bandwidthBitsPerSecond < config.internetBandwidthBitsPerSecondMax * stretch) || lossLevel === 'high'
}

function lossCounts(measurement: LinkMeasurement, config: ModeDetectorConfig): boolean {
  return measurement.samples >= config.lossSamplesMin
}
