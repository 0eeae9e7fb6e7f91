/**
 * Modes and how one measurement is classified: DESIGN §3's thresholds, and
 * the same thresholds moved by the hysteresis margin in favour of the mode a
 * link is already in.
 */
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
 * DESIGN §3 as written: datacenter when p50 RTT < 10 ms, bandwidth > 1 Gbit/s
 * and loss < 1%; internet when p50 RTT > 50 ms, bandwidth < 1 Gbit/s or loss >
 * 5%; hybrid otherwise. Unknown bandwidth (null) and the loss rate of fewer
 * than `lossSamplesMin` probes leave their conditions out.
 */
export function classify(measurement: LinkMeasurement, config: ModeDetectorConfig): Mode {
  if (isDatacenter(measurement, config, 1)) return 'datacenter'
  if (isInternet(measurement, config, 1)) return 'internet'
  return 'hybrid'
}

/**
 * The classification with hysteresis: `current` stays while the measurement
 * lies in its region widened by the margin on every side; otherwise DESIGN's
 * plain classification, which then differs from `current`. So every change
 * crosses a threshold by the margin: datacenter is left above 10·(1+m) ms,
 * entered from hybrid below 10/(1+m) ms; internet entered above 50·(1+m) ms,
 * left below 50/(1+m) ms; bandwidth and loss alike.
 */
export function classifyFrom(current: Mode, measurement: LinkMeasurement, config: ModeDetectorConfig): Mode {
  const stretch = 1 + config.marginRatio
  const stays =
    current === 'datacenter' ? isDatacenter(measurement, config, stretch)
    : current === 'internet' ? isInternet(measurement, config, stretch)
    : !isDatacenter(measurement, config, 1 / stretch) && !isInternet(measurement, config, 1 / stretch)
  return stays ? current : classify(measurement, config)
}

/** In the datacenter region; `stretch` > 1 widens it (thresholds moved outwards), < 1 narrows it. */
function isDatacenter(measurement: LinkMeasurement, config: ModeDetectorConfig, stretch: number): boolean {
  const { rttMsP50, bandwidthBitsPerSecond } = measurement
  return (
    rttMsP50 < config.datacenterRttMsMax * stretch &&
    (bandwidthBitsPerSecond === null || bandwidthBitsPerSecond > config.datacenterBandwidthBitsPerSecondMin / stretch) &&
    (!lossCounts(measurement, config) || measurement.lossRate < config.datacenterLossRateMax * stretch)
  )
}

/** In the internet region; `stretch` > 1 widens it, < 1 narrows it. */
function isInternet(measurement: LinkMeasurement, config: ModeDetectorConfig, stretch: number): boolean {
  const { rttMsP50, bandwidthBitsPerSecond } = measurement
  return (
    rttMsP50 > config.internetRttMsMin / stretch ||
    (bandwidthBitsPerSecond !== null && bandwidthBitsPerSecond < config.internetBandwidthBitsPerSecondMax * stretch) ||
    (lossCounts(measurement, config) && measurement.lossRate > config.internetLossRateMin / stretch)
  )
}

function lossCounts(measurement: LinkMeasurement, config: ModeDetectorConfig): boolean {
  return measurement.samples >= config.lossSamplesMin
}
