import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { holtForecast, holtUpdate, type HoltState } from '../../core/adaptive/holt.ts'
import { defaultLinkEstimatorConfig, linkLimits, type LinkEstimatorConfig } from '../../core/adaptive/linkConfig.ts'
import { LinkEstimator } from '../../core/adaptive/linkEstimator.ts'
import { meanAbsolutePercentageError, percentile, percentileOfSorted } from '../../core/adaptive/linkStats.ts'
import { LinkTable } from '../../core/adaptive/linkTable.ts'
import { Rng } from '../../core/lib/prng.ts'

const oneTo = (count: number) => Array.from({ length: count }, (_, i) => i + 1)

/** A probe outcome: a round trip in ms, or null for a lost probe. */
const probeArbitrary = fc.option(fc.double({ min: 0, max: 5000, noNaN: true }), { nil: null, freq: 5 })
const transferArbitrary = fc.record({ bytes: fc.integer({ min: 1, max: 1 << 24 }), durationMs: fc.double({ min: 0.01, max: 10_000, noNaN: true }) })

function smallConfig(overrides: Partial<LinkEstimatorConfig>): LinkEstimatorConfig {
  return { ...defaultLinkEstimatorConfig, ...overrides }
}

describe('percentile', () => {
  it('takes the nearest rank on known sequences', () => {
    const values = oneTo(100)
    expect(percentile(values, 0.5)).toBe(50)
    expect(percentile(values, 0.99)).toBe(99)
    expect(percentile(values, 1)).toBe(100)
    expect(percentile(values, 0)).toBe(1)
    // 0.07 · 100 is 7.000000000000001 in floating point: still rank 7.
    expect(percentile(values, 0.07)).toBe(7)
    expect(percentile([10, 20, 30, 40], 0.5)).toBe(20)
    expect(percentile([10, 20, 30, 40], 0.51)).toBe(30)
    expect(percentile([42], 0.99)).toBe(42)
    expect(percentile([], 0.5)).toBeNull()
  })

  it('sorts unsorted input numerically and leaves it as it was', () => {
    const values = [100, 9, 30, 2, 1000, 7]
    expect(percentile(values, 0.5)).toBe(9)
    expect(percentile(values, 0.99)).toBe(1000)
    expect(values).toEqual([100, 9, 30, 2, 1000, 7])
    expect(percentileOfSorted([1, 2, 3], 0.34)).toBe(2)
  })

  it('refuses a quantile outside [0, 1]', () => {
    expect(() => percentile([1], 1.5)).toThrow(/quantile/)
    expect(() => percentile([1], -0.1)).toThrow(/quantile/)
  })

  it('returns a sample with at least q of the samples at or below it, and fewer below it', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 200 }), fc.double({ min: 0, max: 1, noNaN: true }), (values, quantile) => {
        const result = percentile(values, quantile)!
        expect(values).toContain(result)
        const rank = Math.max(1, Math.ceil(quantile * values.length - 1e-9))
        expect(values.filter((value) => value <= result).length).toBeGreaterThanOrEqual(rank)
        expect(values.filter((value) => value < result).length).toBeLessThan(rank)
      }),
    )
  })
})

describe('meanAbsolutePercentageError', () => {
  it('is the mean of |predicted − actual| / actual in percent', () => {
    expect(meanAbsolutePercentageError([110, 90], [100, 100])).toBeCloseTo(10, 12)
    expect(meanAbsolutePercentageError([150, 10], [100, 20])).toBeCloseTo(50, 12)
    expect(meanAbsolutePercentageError([-5], [-10])).toBeCloseTo(50, 12)
  })

  it('ignores zero actuals, and says null when nothing is left', () => {
    expect(meanAbsolutePercentageError([5, 110, 3], [0, 100, 0])).toBeCloseTo(10, 12)
    expect(meanAbsolutePercentageError([5], [0])).toBeNull()
    expect(meanAbsolutePercentageError([], [])).toBeNull()
  })

  it('refuses mismatched lengths and non-finite values', () => {
    expect(() => meanAbsolutePercentageError([1, 2], [1])).toThrow(/as many/)
    expect(() => meanAbsolutePercentageError([Number.NaN], [1])).toThrow(/non-finite/)
    expect(() => meanAbsolutePercentageError([1], [Number.POSITIVE_INFINITY])).toThrow(/non-finite/)
  })

  it('is zero for a perfect forecast and never negative', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.double({ min: -1e6, max: 1e6, noNaN: true })), { maxLength: 50 }), (pairs) => {
        const actual = pairs.map(([, truth]) => truth)
        const mapeOfTruth = meanAbsolutePercentageError(actual, actual)
        expect(mapeOfTruth === null || mapeOfTruth === 0).toBe(true)
        const mape = meanAbsolutePercentageError(
          pairs.map(([guess]) => guess),
          actual,
        )
        expect(mape === null || mape >= 0).toBe(true)
        expect(mape === null).toBe(actual.every((truth) => truth === 0))
      }),
    )
  })
})

describe('Holt', () => {
  const smoothing = { alpha: 0.5, beta: 0.1 }

  it('starts flat at the first value and updates level and trend by the formula', () => {
    const first = holtUpdate(null, 10, smoothing)
    expect(first).toEqual({ level: 10, trend: 0, samples: 1 })
    expect(holtForecast(first, 5)).toBe(10)
    const state: HoltState = { level: 10, trend: 1, samples: 2 }
    const next = holtUpdate(state, 20, smoothing)
    // level = 0.5·20 + 0.5·(10 + 1) = 15.5; trend = 0.1·(15.5 − 10) + 0.9·1 = 1.45
    expect(next.level).toBeCloseTo(15.5, 12)
    expect(next.trend).toBeCloseTo(1.45, 12)
    expect(next.samples).toBe(3)
    expect(holtForecast(next, 0)).toBeCloseTo(15.5, 12)
    expect(holtForecast(next, 2)).toBeCloseTo(18.4, 12)
  })

  it('refuses non-finite values and fractional horizons', () => {
    expect(() => holtUpdate(null, Number.NaN, smoothing)).toThrow(/finite/)
    expect(() => holtForecast({ level: 1, trend: 0, samples: 1 }, 1.5)).toThrow(/horizon/)
  })
})

describe('LinkEstimator', () => {
  it('has nothing to say before any sample', () => {
    expect(new LinkEstimator().estimate()).toEqual({
      samples: 0,
      lossSamples: 0,
      transferSamples: 0,
      rttMsP50: null,
      rttMsP99: null,
      rttMsLast: null,
      lossRate: null,
      bandwidthBitsPerSecond: null,
      forecastRttMs: null,
    })
  })

  it('reports round-trip percentiles of a known window', () => {
    const link = new LinkEstimator()
    // 1..100 in a scrambled but fixed order: percentiles must not depend on arrival order.
    const rttsMs = oneTo(100).map((i) => ((i * 37) % 100) + 1)
    rttsMs.forEach((rttMs, i) => expect(link.recordProbe(i * 1000, rttMs)).toBeNull())
    const estimate = link.estimate()
    expect(estimate.samples).toBe(100)
    expect(estimate.rttMsP50).toBe(50)
    expect(estimate.rttMsP99).toBe(99)
    expect(estimate.rttMsLast).toBe(rttsMs[99])
    expect(estimate.lossRate).toBe(0)
  })

  it('counts lost probes in the loss rate and leaves them out of the percentiles', () => {
    const link = new LinkEstimator()
    const outcomes = [10, null, 20, 30, null, 40, null, 50, 60, 70]
    outcomes.forEach((rttMs, i) => link.recordProbe(i * 1000, rttMs))
    const estimate = link.estimate()
    expect(estimate.samples).toBe(10)
    expect(estimate.lossRate).toBeCloseTo(0.3, 12)
    expect(estimate.rttMsP50).toBe(40)
    expect(estimate.rttMsP99).toBe(70)
    expect(estimate.rttMsLast).toBe(70)

    const allLost = new LinkEstimator()
    for (let i = 0; i < 4; i++) allLost.recordProbe(i * 1000, null)
    expect(allLost.estimate()).toMatchObject({ samples: 4, lossRate: 1, rttMsP50: null, rttMsP99: null, forecastRttMs: null })
  })

  it('keeps only the last probeWindowSamples probe outcomes (and lossWindowSamples for the loss rate)', () => {
    const link = new LinkEstimator(smallConfig({ probeWindowSamples: 4, lossWindowSamples: 4 }))
    // Six lost probes, then four answers: the losses age out of the window.
    for (let i = 0; i < 6; i++) link.recordProbe(i * 1000, null)
    expect(link.estimate()).toMatchObject({ samples: 4, lossRate: 1 })
    ;[500, 1, 2, 3, 4].forEach((rttMs, i) => link.recordProbe((6 + i) * 1000, rttMs))
    expect(link.estimate()).toMatchObject({ samples: 4, lossRate: 0, rttMsP50: 2, rttMsP99: 4 })
  })

  it('keeps losses for the longer loss window after the round-trip window forgot them', () => {
    const link = new LinkEstimator(smallConfig({ probeWindowSamples: 4, lossWindowSamples: 10 }))
    for (let i = 0; i < 2; i++) link.recordProbe(i * 1000, null)
    for (let i = 2; i < 10; i++) link.recordProbe(i * 1000, 5)
    expect(link.estimate()).toMatchObject({ samples: 4, lossSamples: 10, lossRate: 0.2, rttMsP50: 5 })
    link.recordProbe(10_000, 5)
    expect(link.estimate()).toMatchObject({ lossSamples: 10, lossRate: 0.1 })
  })

  it('agrees with a plain recomputation over the last window of any probe sequence', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 40 }), fc.array(probeArbitrary, { maxLength: 100 }), (probeWindowSamples, lossWindowSamples, outcomes) => {
        const link = new LinkEstimator(smallConfig({ probeWindowSamples, lossWindowSamples }))
        outcomes.forEach((rttMs, i) => expect(link.recordProbe(i * 1000, rttMs)).toBeNull())
        const window = outcomes.slice(-probeWindowSamples)
        const answered = window.filter((rttMs): rttMs is number => rttMs !== null)
        const lossWindow = outcomes.slice(-lossWindowSamples)
        const estimate = link.estimate()
        expect(estimate.samples).toBe(window.length)
        expect(estimate.lossSamples).toBe(lossWindow.length)
        expect(estimate.lossRate).toBe(lossWindow.length === 0 ? null : lossWindow.filter((rttMs) => rttMs === null).length / lossWindow.length)
        expect(estimate.rttMsP50).toBe(percentile(answered, 0.5))
        expect(estimate.rttMsP99).toBe(percentile(answered, 0.99))
      }),
    )
  })

  it('estimates bandwidth as the best rate of the transfers in the window', () => {
    const link = new LinkEstimator(smallConfig({ transferWindowSamples: 3 }))
    // 1 MB in 8 ms is 1 Gbit/s.
    expect(link.recordTransfer(1_000_000, 8)).toBeNull()
    expect(link.estimate().bandwidthBitsPerSecond).toBeCloseTo(1e9, 3)
    // Small messages spend their time on latency: they do not pull the estimate down.
    expect(link.recordTransfer(1000, 2)).toBeNull()
    expect(link.recordTransfer(500, 1)).toBeNull()
    expect(link.estimate()).toMatchObject({ transferSamples: 3, bandwidthBitsPerSecond: 1e9 })
    // Once the fast transfer ages out, the estimate follows the link down: 125 kB in 10 ms is 100 Mbit/s.
    expect(link.recordTransfer(125_000, 10)).toBeNull()
    expect(link.estimate().bandwidthBitsPerSecond).toBeCloseTo(1e8, 3)
    expect(link.estimate().transferSamples).toBe(3)
  })

  it('bandwidth is the maximum rate over the last window of any transfer sequence', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(transferArbitrary, { minLength: 1, maxLength: 40 }), (transferWindowSamples, transfers) => {
        const link = new LinkEstimator(smallConfig({ transferWindowSamples }))
        for (const { bytes, durationMs } of transfers) expect(link.recordTransfer(bytes, durationMs)).toBeNull()
        const window = transfers.slice(-transferWindowSamples)
        const expected = Math.max(...window.map(({ bytes, durationMs }) => (bytes * 8 * 1000) / durationMs))
        expect(link.estimate().bandwidthBitsPerSecond).toBe(expected)
        expect(link.estimate().transferSamples).toBe(window.length)
      }),
    )
  })

  it('refuses samples it cannot use and changes nothing', () => {
    const link = new LinkEstimator()
    link.recordProbe(0, 10)
    link.recordTransfer(1000, 1)
    const before = link.estimate()
    expect(link.recordProbe(1000, -1)?.code).toBe('invalidRtt')
    expect(link.recordProbe(1000, Number.NaN)?.code).toBe('invalidRtt')
    expect(link.recordProbe(1000, linkLimits.rttMsMax + 1)?.code).toBe('invalidRtt')
    expect(link.recordProbe(Number.POSITIVE_INFINITY, 10)?.code).toBe('invalidTime')
    expect(link.recordProbe(-1, 10)?.code).toBe('invalidTime')
    expect(link.recordTransfer(0, 1)?.code).toBe('invalidBytes')
    expect(link.recordTransfer(1.5, 1)?.code).toBe('invalidBytes')
    expect(link.recordTransfer(linkLimits.transferBytesMax + 1, 1)?.code).toBe('invalidBytes')
    expect(link.recordTransfer(1000, 0)?.code).toBe('invalidDuration')
    expect(link.recordTransfer(1000, Number.NaN)?.code).toBe('invalidDuration')
    expect(link.recordTransfer(1000, linkLimits.transferDurationMsMax + 1)?.code).toBe('invalidDuration')
    expect(link.estimate()).toEqual(before)
    // The limits themselves are accepted.
    expect(link.recordProbe(1000, linkLimits.rttMsMax)).toBeNull()
    expect(link.recordProbe(2000, 0)).toBeNull()
  })

  it('refuses a config outside its limits', () => {
    expect(() => new LinkEstimator(smallConfig({ probeWindowSamples: 0 }))).toThrow(/probeWindowSamples/)
    expect(() => new LinkEstimator(smallConfig({ probeWindowSamples: linkLimits.probeWindowSamplesMax + 1 }))).toThrow(/probeWindowSamples/)
    expect(() => new LinkEstimator(smallConfig({ transferWindowSamples: 2.5 }))).toThrow(/transferWindowSamples/)
    expect(() => new LinkEstimator(smallConfig({ rttSmoothing: { alpha: 0, beta: 0.1 } }))).toThrow(/alpha/)
    expect(() => new LinkEstimator(smallConfig({ rttSmoothing: { alpha: 0.5, beta: 1.5 } }))).toThrow(/alpha/)
    expect(() => new LinkEstimator(smallConfig({ forecastHorizonSteps: linkLimits.forecastHorizonStepsMax + 1 }))).toThrow(/forecastHorizonSteps/)
    expect(() => new LinkEstimator().forecastRttMs(-1)).toThrow(/horizon/)
  })
})

describe('LinkEstimator forecast (Holt, default alpha 0.5, beta 0.1)', () => {
  /** One-step forecast errors (forecast − truth) for a sequence, one per probe after the first. */
  function forecastErrorsMs(rttsMs: readonly number[]): number[] {
    const link = new LinkEstimator()
    const errorsMs: number[] = []
    rttsMs.forEach((rttMs, i) => {
      const forecastMs = link.estimate().forecastRttMs
      if (forecastMs !== null) errorsMs.push(forecastMs - rttMs)
      link.recordProbe(i * 1000, rttMs)
    })
    return errorsMs
  }

  it('tracks a linear trend with a small error', () => {
    // 20 ms growing by 2 ms per probe. A smoother without a trend (EWMA, alpha 0.5) would lag by 4 ms for good.
    const rttsMs = Array.from({ length: 40 }, (_, t) => 20 + 2 * t)
    const errorsMs = forecastErrorsMs(rttsMs)
    // errorsMs[k] is the forecast for probe k + 1.
    for (let t = 16; t < 40; t++) expect(Math.abs(errorsMs[t - 1]!)).toBeLessThan(0.9)
    expect(Math.abs(errorsMs[38]!)).toBeLessThan(0.06)
    // Looking further ahead follows the same line: 3 probes ahead of probe 39 is 20 + 2·42 = 104 ms.
    const link = new LinkEstimator()
    rttsMs.forEach((rttMs, i) => link.recordProbe(i * 1000, rttMs))
    expect(link.forecastRttMs(3)).toBeGreaterThan(103.5)
    expect(link.forecastRttMs(3)).toBeLessThan(104.5)
  })

  it('tracks a noisy trend within a few percent', () => {
    const rng = Rng.fromSeed(7)
    const rttsMs = Array.from({ length: 200 }, (_, t) => 40 + 0.25 * t + (rng.float() * 2 - 1) * 2)
    const link = new LinkEstimator()
    const forecastsMs: number[] = []
    rttsMs.forEach((rttMs, i) => {
      forecastsMs.push(link.estimate().forecastRttMs ?? rttMs)
      link.recordProbe(i * 1000, rttMs)
    })
    // After a warm-up of 20 probes; the noise alone is ±2 ms on 45–90 ms (about 1.5% on average).
    const mape = meanAbsolutePercentageError(forecastsMs.slice(20), rttsMs.slice(20))!
    expect(mape).toBeGreaterThan(0.5)
    expect(mape).toBeLessThan(3)
  })

  it('adapts to a level shift within a few probes', () => {
    // Datacenter (2 ms) to internet (60 ms), with the mode detector's thresholds at 10 and 50 ms in mind.
    const link = new LinkEstimator()
    for (let t = 0; t < 30; t++) link.recordProbe(t * 1000, 2)
    expect(link.estimate().forecastRttMs).toBeCloseTo(2, 9)
    const forecastsMs: number[] = []
    for (let t = 30; t < 45; t++) {
      link.recordProbe(t * 1000, 60)
      forecastsMs.push(link.estimate().forecastRttMs!)
    }
    expect(forecastsMs[0]).toBeGreaterThan(30)
    // Past 50 ms after two probes, within 1% of 60 ms after three.
    expect(forecastsMs[1]).toBeGreaterThan(50)
    expect(Math.abs(forecastsMs[2]! - 60) / 60).toBeLessThan(0.01)
    // The trend overshoots (beta 0.1: at most 13%) and decays.
    for (const forecastMs of forecastsMs.slice(2)) expect(Math.abs(forecastMs - 60) / 60).toBeLessThan(0.13)
    expect(Math.abs(forecastsMs[14]! - 60) / 60).toBeLessThan(0.06)
  })

  it('never forecasts a negative round trip', () => {
    const link = new LinkEstimator()
    for (let t = 0; t < 10; t++) link.recordProbe(t * 1000, 100 - 10 * t)
    expect(link.forecastRttMs(0)).toBeGreaterThan(0)
    expect(link.forecastRttMs(linkLimits.forecastHorizonStepsMax)).toBe(0)
  })

  it('forecasts in send order: a late answer to an older probe counts in the window only', () => {
    const inOrder = new LinkEstimator()
    const late = new LinkEstimator()
    for (let t = 0; t < 10; t++) {
      inOrder.recordProbe(t * 1000, 20)
      late.recordProbe(t * 1000, 20)
    }
    // The answer to a probe sent at 5 s arrives after the one sent at 9 s.
    late.recordProbe(5000, 900)
    expect(late.estimate().forecastRttMs).toBe(inOrder.estimate().forecastRttMs)
    expect(late.estimate()).toMatchObject({ samples: 11, rttMsP99: 900, rttMsLast: 900 })
  })
})

describe('LinkEstimator determinism', () => {
  const stepArbitrary = fc.oneof(
    fc.record({ kind: fc.constant('probe' as const), sentAtMs: fc.integer({ min: 0, max: 1e9 }), rttMs: probeArbitrary }),
    fc.record({ kind: fc.constant('transfer' as const), bytes: fc.integer({ min: 1, max: 1 << 24 }), durationMs: fc.double({ min: 0.01, max: 10_000, noNaN: true }) }),
  )

  it('gives the same estimate for the same samples, however often it is asked', () => {
    fc.assert(
      fc.property(fc.array(stepArbitrary, { maxLength: 300 }), (steps) => {
        const run = () => {
          const link = new LinkEstimator(smallConfig({ probeWindowSamples: 32, transferWindowSamples: 4 }))
          const estimates = []
          for (const step of steps) {
            if (step.kind === 'probe') link.recordProbe(step.sentAtMs, step.rttMs)
            else link.recordTransfer(step.bytes, step.durationMs)
            estimates.push(link.estimate(), link.estimate())
          }
          return estimates
        }
        const first = run()
        expect(run()).toEqual(first)
        for (let i = 0; i < first.length; i += 2) expect(first[i + 1]).toEqual(first[i])
      }),
    )
  })
})

describe('LinkTable', () => {
  it('keeps one estimator per peer', () => {
    const table = new LinkTable()
    expect(table.recordProbe('n1', 0, 5)).toBeNull()
    expect(table.recordProbe('n2', 0, 80)).toBeNull()
    expect(table.recordProbe('n1', 1000, null)).toBeNull()
    expect(table.recordTransfer('n2', 1_000_000, 80)).toBeNull()
    expect(table.estimate('n1')).toMatchObject({ samples: 2, lossRate: 0.5, rttMsP50: 5 })
    expect(table.estimate('n2')).toMatchObject({ samples: 1, rttMsP50: 80, bandwidthBitsPerSecond: 1e8 })
    expect(table.estimate('n3')).toBeNull()
    expect(table.get('n1')?.forecastRttMs(2)).toBe(5)
    expect(table.peers()).toEqual(['n1', 'n2'])
    expect(table.size).toBe(2)
  })

  it('refuses a peer beyond peersMax until one is forgotten', () => {
    const table = new LinkTable({ peersMax: 2 })
    expect(table.recordProbe('a', 0, 1)).toBeNull()
    expect(table.recordProbe('b', 0, 1)).toBeNull()
    expect(table.recordProbe('c', 0, 1)?.code).toBe('tooManyPeers')
    expect(table.recordTransfer('c', 100, 1)?.code).toBe('tooManyPeers')
    // Known peers still record.
    expect(table.recordProbe('a', 1000, 2)).toBeNull()
    expect(table.peers()).toEqual(['a', 'b'])
    expect(table.forget('a')).toBe(true)
    expect(table.forget('a')).toBe(false)
    expect(table.estimate('a')).toBeNull()
    expect(table.recordProbe('c', 0, 1)).toBeNull()
    expect(table.peers()).toEqual(['b', 'c'])
    // A forgotten peer that comes back starts from nothing.
    table.forget('b')
    expect(table.recordProbe('b', 5000, 7)).toBeNull()
    expect(table.estimate('b')).toMatchObject({ samples: 1, rttMsP50: 7 })
  })

  it('adds no peer for a refused sample', () => {
    const table = new LinkTable({ peersMax: 1 })
    expect(table.recordProbe('a', 0, -5)?.code).toBe('invalidRtt')
    expect(table.recordTransfer('a', 10, 0)?.code).toBe('invalidDuration')
    expect(table.size).toBe(0)
    expect(table.recordProbe('b', 0, 5)).toBeNull()
    expect(table.peers()).toEqual(['b'])
  })

  it('refuses a peersMax outside its limit', () => {
    expect(() => new LinkTable({ peersMax: 0 })).toThrow(/peersMax/)
    expect(() => new LinkTable({ peersMax: linkLimits.peersMax + 1 })).toThrow(/peersMax/)
  })
})
