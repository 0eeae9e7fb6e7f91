import { describe, expect, it } from 'vitest'
import { LinkEstimator } from '../../core/adaptive/linkEstimator.ts'
import { measurementOf } from '../../core/adaptive/linkMeasurement.ts'
import { LinkModeDetector } from '../../core/adaptive/linkModeDetector.ts'
import { Rng } from '../../core/lib/prng.ts'

const probeIntervalMs = 1000

/** Feeds one probe per interval to an estimator and the detector; returns the probe index of each mode change. */
function detect(rttsMs: readonly (number | null)[]): { atProbe: number; to: string }[] {
  const estimator = new LinkEstimator()
  const detector = new LinkModeDetector('peer')
  const changes: { atProbe: number; to: string }[] = []
  rttsMs.forEach((rttMs, index) => {
    const nowMs = index * probeIntervalMs
    expect(estimator.recordProbe(nowMs, rttMs)).toBeNull()
    const measurement = measurementOf(estimator)
    if (measurement === null) return
    const observed = detector.observe(measurement, nowMs + (rttMs ?? 0))
    if (!observed.ok) throw new Error(observed.error.message)
    if (observed.value !== null) changes.push({ atProbe: index, to: observed.value.to })
  })
  return changes
}

describe('link measurements for the mode detector', () => {
  it('is null before a probe was answered', () => {
    const estimator = new LinkEstimator()
    expect(measurementOf(estimator)).toBeNull()
    estimator.recordProbe(0, null)
    expect(measurementOf(estimator)).toBeNull()
    estimator.recordProbe(1000, 4)
    expect(measurementOf(estimator)).toMatchObject({ rttMsP50: 4, rttMsP99: 4, lossRate: 0.5, samples: 2, bandwidthBitsPerSecond: null })
  })

  it('takes its median over the last answered probes, so a step after a long quiet window is decided within 3 probe intervals', () => {
    const stepAt = 100
    const rtts = [...Array.from({ length: stepAt }, () => 1), ...Array.from({ length: 20 }, () => 80), ...Array.from({ length: 20 }, () => 1)]
    const changes = detect(rtts)
    const toInternet = changes.find((change) => change.to === 'internet')!
    const backToDatacenter = changes.find((change) => change.to === 'datacenter' && change.atProbe > stepAt)!
    expect(toInternet.atProbe - stepAt).toBeLessThan(3)
    expect(backToDatacenter.atProbe - (stepAt + 20)).toBeLessThan(3)
  })

  it('does not flap on a noisy link whose median sits near a threshold, nor on one outlier in three', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rng = Rng.fromSeed(seed)
      // Around 5 ms with jitter, and every third probe an outlier of 20 to 200 ms: never more than one in any three.
      const rtts = Array.from({ length: 500 }, (_, index) => (index % 3 === 0 ? 20 + rng.float() * 180 : 4 + rng.float() * 2))
      const changes = detect(rtts)
      expect(changes.length, `seed ${seed}: ${JSON.stringify(changes)}`).toBeLessThanOrEqual(1)
    }
  })
})
