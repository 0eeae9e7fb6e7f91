/**
 * Small statistics over windows of link samples: percentiles for the link
 * estimator, and forecast error for whoever checks the forecast (the
 * simulator, against the latency it injected).
 */
import { assert, assertFailed } from '../lib/assert.ts'

/**
 * The `quantile`-th percentile of `sorted` (ascending), by nearest rank: the
 * smallest sample with at least `quantile` of the samples at or below it.
 * Nearest rank returns a latency that was actually observed and never
 * interpolates a p99 below the worst of the top 1%. Null for no samples.
 */
export function percentileOfSorted(sorted: ArrayLike<number>, quantile: number): number | null {
  assert(quantile >= 0 && quantile <= 1, 'a quantile is in [0, 1]')
  const count = sorted.length
  if (count === 0) return null
  // The epsilon keeps float products such as 0.07 · 100 = 7.000000000000001 on their intended rank.
  const rank = Math.ceil(quantile * count - 1e-9)
  return sorted[Math.min(count, Math.max(1, rank)) - 1]!
}

/** `percentileOfSorted` of unsorted `values` (left as they are). */
export function percentile(values: ArrayLike<number>, quantile: number): number | null {
  const sorted = Float64Array.from(values).sort()
  return percentileOfSorted(sorted, quantile)
}

/**
 * Mean absolute percentage error of `predicted` against `actual`, in percent:
 * mean of |predicted − actual| / |actual| · 100. Pairs whose actual is zero are
 * left out (their percentage error is undefined); null when no pair is left.
 */
export function meanAbsolutePercentageError(predicted: readonly number[], actual: readonly number[]): number | null {
  if (predicted.length !== actual.length) assertFailed(`MAPE needs as many predictions as actuals, got ${predicted.length} and ${actual.length}`)
  let errorSum = 0
  let pairs = 0
  for (let i = 0; i < actual.length; i++) {
    const truth = actual[i]!
    const guess = predicted[i]!
    if (!Number.isFinite(truth) || !Number.isFinite(guess)) assertFailed(`MAPE of non-finite values at ${i}: ${guess} against ${truth}`)
    if (truth === 0) continue
    errorSum += Math.abs(guess - truth) / Math.abs(truth)
    pairs++
  }
  return pairs === 0 ? null : (errorSum / pairs) * 100
}

/**
 * The Wilson score interval of a proportion: `successes` of `trials`, at
 * `z` standard deviations (one side's confidence: z = 3 is 99.87%). Unlike
 * the plain p ± z·√(p(1−p)/n) it stays inside [0, 1] and is not empty at 0
 * or all successes, which is where loss rates live: 0 lost of 128 gives an
 * upper bound of z²/(n + z²), 6.6% at z = 3, not 0. Trials must be >= 1.
 */
export function wilsonInterval(successes: number, trials: number, z: number): { readonly lower: number; readonly upper: number } {
  assert(Number.isSafeInteger(trials) && trials >= 1, 'a Wilson interval needs at least one trial')
  assert(Number.isSafeInteger(successes) && successes >= 0 && successes <= trials, 'successes are an integer in [0, trials]')
  assert(Number.isFinite(z) && z >= 0, 'z is a finite number >= 0')
  const share = successes / trials
  const zz = z * z
  const centre = share + zz / (2 * trials)
  const halfWidth = z * Math.sqrt((share * (1 - share)) / trials + zz / (4 * trials * trials))
  const scale = 1 + zz / trials
  return { lower: Math.max(0, (centre - halfWidth) / scale), upper: Math.min(1, (centre + halfWidth) / scale) }
}
