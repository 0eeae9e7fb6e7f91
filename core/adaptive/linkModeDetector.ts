/**
 * The mode of one link, from the measurements of it passed in one at a time
 * (one per probe interval), with hysteresis and a manual override.
 *
 * Hysteresis has two parts. Margins: a measurement counts against the current
 * mode only once it passes a threshold by `marginRatio` (see `classifyFrom`).
 * Confirmation: the mode changes after `confirmSamples` consecutive
 * measurements that count against it, to the classification of the last of
 * them (a link sliding from datacenter through hybrid to internet need not
 * show the same new mode twice to leave). A measurement that fits the current
 * mode resets the count. With one measurement per probe interval a change is
 * decided `confirmSamples` intervals after the measurements first show it.
 *
 * Loss is not a measurement-by-measurement matter: each measurement first
 * moves the link's loss level (`nextLossLevel`: a confidence interval over
 * the loss window, with its own hysteresis), and the classification takes
 * the level as it is.
 */
import { err, ok, type Result } from '../lib/result.ts'
import type { Refusal } from '../ready.ts'
import { measurementProblem, type LinkMeasurement, type TimedMeasurement } from './measurement.ts'
import { classifyFrom, isMode, nextLossLevel, type LossLevel, type Mode } from './mode.ts'
import { defaultModeDetectorConfig, validateModeDetectorConfig, type ModeDetectorConfig } from './modeConfig.ts'
import type { LinkModeChanged } from './modeEvents.ts'

export interface LinkModeSnapshot {
  readonly id: string
  /** The reported mode: the override while one is set, else the detected mode. */
  readonly mode: Mode
  readonly detectedMode: Mode
  readonly override: Mode | null
  /** The loss level the detected mode stands on (see `nextLossLevel`). */
  readonly lossLevel: LossLevel
  /** Consecutive measurements so far against the detected mode, oldest first. */
  readonly pending: readonly TimedMeasurement[]
  readonly last: TimedMeasurement | null
  /** Measurements skipped for having fewer than `samplesMin` probes behind them. */
  readonly skipped: number
}

export class LinkModeDetector {
  readonly id: string
  private readonly config: ModeDetectorConfig
  private detected: Mode
  private override: Mode | null = null
  private loss: LossLevel = 'low'
  private pending: TimedMeasurement[] = []
  private last: TimedMeasurement | null = null
  private lastAtMs = -Infinity
  private skipped = 0

  constructor(id: string, config: ModeDetectorConfig = defaultModeDetectorConfig) {
    validateModeDetectorConfig(config)
    this.id = id
    this.config = config
    this.detected = config.initialMode
  }

  get mode(): Mode {
    return this.override ?? this.detected
  }

  get detectedMode(): Mode {
    return this.detected
  }

  get lossLevel(): LossLevel {
    return this.loss
  }

  get lastMeasurement(): TimedMeasurement | null {
    return this.last
  }

  /** One measurement of the link at `nowMs`; returns the change it completed, if the reported mode changed. */
  observe(measurement: LinkMeasurement, nowMs: number): Result<LinkModeChanged | null, Refusal> {
    const timeRefusal = this.checkTime(nowMs)
    if (timeRefusal !== null) return err(timeRefusal)
    const problem = measurementProblem(measurement)
    if (problem !== null) return err({ code: 'invalidMeasurement', message: `link ${this.id}: ${problem}` })
    this.lastAtMs = nowMs
    // A copy of the five fields: events outlive the caller's object, which may be reused or carry more.
    const { rttMsP50, rttMsP99, lossRate, bandwidthBitsPerSecond, samples } = measurement
    const timed: TimedMeasurement = { linkId: this.id, atMs: nowMs, measurement: { rttMsP50, rttMsP99, lossRate, bandwidthBitsPerSecond, samples } }
    this.last = timed
    if (samples < this.config.samplesMin) {
      // Too few probes to say anything: neither counts against the mode nor for it.
      this.skipped++
      return ok(null)
    }
    this.loss = nextLossLevel(this.loss, timed.measurement, this.config)
    const next = classifyFrom(this.detected, timed.measurement, this.config, this.loss)
    if (next === this.detected) {
      this.pending = []
      return ok(null)
    }
    this.pending.push(timed)
    if (this.pending.length < this.config.confirmSamples) return ok(null)
    const evidence = this.pending
    this.pending = []
    const from = this.mode
    this.detected = next
    // Under an override detection goes on silently; clearing it reports the mode detected by then.
    if (this.mode === from) return ok(null)
    return ok(this.event(from, 'detected', evidence, nowMs))
  }

  /** Sets (a mode) or clears (null) the manual override; returns the change if the reported mode changed. */
  setOverride(mode: Mode | null, nowMs: number): Result<LinkModeChanged | null, Refusal> {
    const timeRefusal = this.checkTime(nowMs)
    if (timeRefusal !== null) return err(timeRefusal)
    if (mode !== null && !isMode(mode)) return err({ code: 'invalidMode', message: `link ${this.id}: a mode is datacenter, hybrid or internet, got ${String(mode)}` })
    this.lastAtMs = nowMs
    const from = this.mode
    this.override = mode
    if (this.mode === from) return ok(null)
    return ok(this.event(from, mode === null ? 'overrideCleared' : 'override', this.last === null ? [] : [this.last], nowMs))
  }

  snapshot(): LinkModeSnapshot {
    return { id: this.id, mode: this.mode, detectedMode: this.detected, override: this.override, lossLevel: this.loss, pending: [...this.pending], last: this.last, skipped: this.skipped }
  }

  private event(from: Mode, reason: LinkModeChanged['reason'], measurements: readonly TimedMeasurement[], atMs: number): LinkModeChanged {
    return { kind: 'modeChanged', scope: 'link', id: this.id, from, to: this.mode, atMs, reason, lossLevel: this.loss, measurements }
  }

  private checkTime(nowMs: number): Refusal | null {
    if (!Number.isFinite(nowMs)) return { code: 'invalidTime', message: `link ${this.id}: nowMs must be finite, got ${nowMs}` }
    if (nowMs < this.lastAtMs) return { code: 'timeWentBack', message: `link ${this.id}: nowMs ${nowMs} is before the previous input's ${this.lastAtMs}` }
    return null
  }
}
