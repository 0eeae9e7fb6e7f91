import { describe, expect, it } from 'vitest'
import { Rng } from '../../core/lib/prng.ts'

const draw = (rng: Rng, count: number) => Array.from({ length: count }, () => rng.nextU32())

describe('Rng', () => {
  it('gives the same stream for the same seed and different streams for different seeds', () => {
    expect(draw(Rng.fromSeed(42), 100)).toEqual(draw(Rng.fromSeed(42), 100))
    expect(draw(Rng.fromSeed(42), 100)).not.toEqual(draw(Rng.fromSeed(43), 100))
    expect(draw(Rng.fromSeed(-5), 10)).not.toEqual(draw(Rng.fromSeed(5), 10))
    expect(draw(Rng.fromSeed(2 ** 40), 10)).not.toEqual(draw(Rng.fromSeed(0), 10))
  })

  it('splits by label without consuming the parent stream', () => {
    const parent = Rng.fromSeed(7)
    const child = parent.split('node/n1')
    expect(draw(parent, 20)).toEqual(draw(Rng.fromSeed(7), 20))
    expect(draw(child, 20)).toEqual(draw(Rng.fromSeed(7).split('node/n1'), 20))
    expect(draw(Rng.fromSeed(7).split('node/n1'), 20)).not.toEqual(draw(Rng.fromSeed(7).split('node/n2'), 20))
    expect(draw(Rng.fromSeed(7).split(1), 20)).not.toEqual(draw(Rng.fromSeed(7).split(2), 20))
  })

  it('keeps int, intBetween and float in range and roughly uniform', () => {
    const rng = Rng.fromSeed(1)
    const counts = new Array<number>(10).fill(0)
    for (let i = 0; i < 100_000; i++) {
      const value = rng.int(10)
      expect(value).toBeGreaterThanOrEqual(0)
      expect(value).toBeLessThan(10)
      counts[value]!++
    }
    for (const count of counts) expect(Math.abs(count - 10_000)).toBeLessThan(600)
    for (let i = 0; i < 1000; i++) {
      const value = rng.intBetween(-3, 3)
      expect(value).toBeGreaterThanOrEqual(-3)
      expect(value).toBeLessThanOrEqual(3)
      const float = rng.float()
      expect(float).toBeGreaterThanOrEqual(0)
      expect(float).toBeLessThan(1)
    }
  })

  it('hits chance(p) at rate p and draws nothing for p = 0', () => {
    const rng = Rng.fromSeed(3)
    let hits = 0
    for (let i = 0; i < 100_000; i++) if (rng.chance(0.2)) hits++
    expect(Math.abs(hits - 20_000)).toBeLessThan(800)
    const a = Rng.fromSeed(9)
    const b = Rng.fromSeed(9)
    expect(a.chance(0)).toBe(false)
    expect(a.nextU32()).toBe(b.nextU32())
  })

  it('refuses bad arguments', () => {
    expect(() => Rng.fromSeed(1.5)).toThrow(/safe integer/)
    expect(() => Rng.fromSeed(1).int(0)).toThrow(/int\(0\)/)
    expect(() => Rng.fromSeed(1).pick([])).toThrow(/empty/)
  })
})
