/**
 * Holt's linear method (double exponential smoothing): a level and a trend,
 * each smoothed exponentially, forecast as a straight line from the level.
 * It follows a drifting round trip with a few multiplications per sample and
 * no history, which suits a per-peer estimator over thousands of peers.
 *
 *   level_t = α·y_t + (1 − α)·(level_{t−1} + trend_{t−1})
 *   trend_t = β·(level_t − level_{t−1}) + (1 − β)·trend_{t−1}
 *   forecast_{t+h} = level_t + h·trend_t
 */
import { assert } from '../lib/assert.ts'

export interface HoltSmoothing {
  /** Weight of a new sample in the level, in (0, 1]: higher follows faster and passes on more noise. */
  readonly alpha: number
  /** Weight of the newest level change in the trend, in (0, 1]: higher turns faster and overshoots more. */
  readonly beta: number
}

export interface HoltState {
  readonly level: number
  /** Change of the level per sample. */
  readonly trend: number
  readonly samples: number
}

export function isValidHoltSmoothing(smoothing: HoltSmoothing): boolean {
  const { alpha, beta } = smoothing
  return alpha > 0 && alpha <= 1 && beta > 0 && beta <= 1
}

/**
 * The state after `value`. The first sample sets the level and a flat trend:
 * one point says nothing about a slope, and a slope from the first two noisy
 * samples would be worse than none.
 */
export function holtUpdate(state: HoltState | null, value: number, smoothing: HoltSmoothing): HoltState {
  assert(Number.isFinite(value), 'Holt smooths finite values')
  if (state === null) return { level: value, trend: 0, samples: 1 }
  const { alpha, beta } = smoothing
  const level = alpha * value + (1 - alpha) * (state.level + state.trend)
  const trend = beta * (level - state.level) + (1 - beta) * state.trend
  return { level, trend, samples: state.samples + 1 }
}

/** The value forecast `horizonSteps` samples after the last one (0 is the smoothed present). */
export function holtForecast(state: HoltState, horizonSteps: number): number {
  assert(Number.isInteger(horizonSteps) && horizonSteps >= 0, 'a forecast horizon is a whole number of steps')
  return state.level + horizonSteps * state.trend
}
