import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Awareness } from '../../core/gossip/awareness.ts'

describe('Lifeguard local health (memberlist awareness)', () => {
  it('starts healthy: timeouts are not stretched', () => {
    expect(new Awareness(8).status()).toEqual({ score: 0, max: 8, timeoutMultiplier: 1 })
  })

  it('rises with signs of being the slow one, falls with successful probes, and stretches timeouts by score + 1', () => {
    const awareness = new Awareness(8)
    awareness.applyDelta(1)
    awareness.applyDelta(1)
    expect(awareness.healthScore).toBe(2)
    expect(awareness.timeoutMultiplier).toBe(3)
    awareness.applyDelta(-1)
    expect(awareness.status()).toEqual({ score: 1, max: 8, timeoutMultiplier: 2 })
  })

  it('stays within [0, max - 1] whatever the deltas', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16 }), fc.array(fc.integer({ min: -3, max: 3 }), { maxLength: 60 }), (max, deltas) => {
        const awareness = new Awareness(max)
        let expected = 0
        for (const delta of deltas) {
          awareness.applyDelta(delta)
          expected = Math.min(max - 1, Math.max(0, expected + delta))
          expect(awareness.healthScore).toBe(expected)
        }
        expect(awareness.timeoutMultiplier).toBeLessThanOrEqual(max)
      }),
    )
  })

  it('at max 1 never moves: timeouts stay as configured', () => {
    const awareness = new Awareness(1)
    for (let index = 0; index < 5; index++) awareness.applyDelta(1)
    expect(awareness.timeoutMultiplier).toBe(1)
  })
})
