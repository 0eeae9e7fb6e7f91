import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { suspicionTimeoutTicks, Suspicions, type SuspicionTimeout } from '../../core/gossip/suspicion.ts'

/** memberlist's defaults at 5 members and 20 ticks per probe: min 4·log10(5)·20 ≈ 56 ticks, max 6 times that, 3 confirmations expected. */
const minTicks = 4 * Math.log10(5) * 20
const lifeguard: SuspicionTimeout = { minTicks, maxTicks: 6 * minTicks, confirmationsExpected: 3 }
const plain: SuspicionTimeout = { ...lifeguard, maxTicks: minTicks }

describe('suspicion timeout (memberlist remainingSuspicionTime)', () => {
  it('starts at the maximum, shrinks on a log scale with confirmations, and stops at the minimum', () => {
    const timeouts = [0, 1, 2, 3, 4].map((confirmations) => suspicionTimeoutTicks(confirmations, lifeguard))
    expect(timeouts[0]).toBe(Math.floor(6 * minTicks))
    // max - (max - min) · log(c + 1) / log(4): each confirmation takes off less than the one before.
    expect(timeouts[1]).toBe(Math.floor(6 * minTicks - (5 * minTicks * Math.log(2)) / Math.log(4)))
    expect(timeouts[0]! - timeouts[1]!).toBeGreaterThan(timeouts[1]! - timeouts[2]!)
    expect(timeouts[3]).toBe(minTicks)
    expect(timeouts[4]).toBe(minTicks)
  })

  it('is the minimum without Lifeguard (max = min) and when no confirmation can be expected', () => {
    for (const confirmations of [0, 1, 5]) expect(suspicionTimeoutTicks(confirmations, plain)).toBe(minTicks)
    expect(suspicionTimeoutTicks(0, { ...lifeguard, confirmationsExpected: 0 })).toBe(minTicks)
  })

  it('never goes below the minimum nor above the maximum', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 10 }), fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 20 }), (min, mult, expected, confirmations) => {
        const timeout = { minTicks: min, maxTicks: min * mult, confirmationsExpected: expected }
        const ticks = suspicionTimeoutTicks(confirmations, timeout)
        expect(ticks).toBeGreaterThanOrEqual(min)
        expect(ticks).toBeLessThanOrEqual(min * mult)
      }),
    )
  })
})

describe('suspicions in progress', () => {
  it('declares a suspect due at its deadline, not a tick before', () => {
    const suspicions = new Suspicions()
    suspicions.start('c', 'a', 100, lifeguard)
    const deadline = 100 + Math.floor(6 * minTicks)
    expect(suspicions.status()).toEqual([{ member: 'c', accusers: ['a'], startTick: 100, deadlineTick: deadline }])
    expect(suspicions.expire(deadline - 1)).toEqual([])
    expect(suspicions.size).toBe(1)
    expect(suspicions.expire(deadline)).toEqual(['c'])
    expect(suspicions.size).toBe(0)
    expect(suspicions.expire(deadline + 1000)).toEqual([])
  })

  it('moves the deadline earlier for each independent confirmation, up to the expected count, and ignores repeats', () => {
    const suspicions = new Suspicions()
    suspicions.start('c', 'a', 0, lifeguard)
    expect(suspicions.confirm('c', 'a', lifeguard)).toBe(false) // the accuser itself
    expect(suspicions.confirm('c', 'b', lifeguard)).toBe(true)
    expect(suspicions.confirm('c', 'b', lifeguard)).toBe(false)
    expect(suspicions.status()[0]!.deadlineTick).toBe(suspicionTimeoutTicks(1, lifeguard))
    expect(suspicions.confirm('c', 'd', lifeguard)).toBe(true)
    expect(suspicions.confirm('c', 'e', lifeguard)).toBe(true)
    expect(suspicions.confirm('c', 'f', lifeguard)).toBe(false) // past the 3 expected: would not shorten it further
    expect(suspicions.status()).toEqual([{ member: 'c', accusers: ['a', 'b', 'd', 'e'], startTick: 0, deadlineTick: minTicks }])
    expect(suspicions.confirm('x', 'b', lifeguard)).toBe(false) // no suspicion of x
  })

  it('finds a deadline that a confirmation moved earlier than every other', () => {
    const suspicions = new Suspicions()
    suspicions.start('c', 'a', 0, lifeguard)
    suspicions.start('d', 'a', 0, lifeguard)
    // Only at tick 0 is nothing due; the earliest-deadline shortcut must not skip d's shortened one.
    expect(suspicions.expire(1)).toEqual([])
    for (const confirmer of ['b', 'e', 'f']) suspicions.confirm('d', confirmer, lifeguard)
    expect(suspicions.expire(Math.ceil(minTicks))).toEqual(['d'])
    expect(suspicions.status().map((suspicion) => suspicion.member)).toEqual(['c'])
  })

  it('returns due members oldest suspicion first, and forgets a dropped one', () => {
    const suspicions = new Suspicions()
    suspicions.start('c', 'a', 0, plain)
    suspicions.start('d', 'a', 5, plain)
    suspicions.start('e', 'a', 10, plain)
    suspicions.delete('d')
    expect(suspicions.expire(1000)).toEqual(['c', 'e'])
  })

  it('restarts a suspicion raised again, keeping its place in the order', () => {
    const suspicions = new Suspicions()
    suspicions.start('c', 'a', 0, plain)
    suspicions.start('d', 'a', 0, plain)
    suspicions.start('c', 'b', 50, plain)
    expect(suspicions.status().map(({ member, accusers, startTick }) => ({ member, accusers, startTick }))).toEqual([
      { member: 'c', accusers: ['b'], startTick: 50 },
      { member: 'd', accusers: ['a'], startTick: 0 },
    ])
    expect(suspicions.expire(Math.ceil(minTicks))).toEqual(['d'])
  })

  it('hands out copies: changing a status changes nothing held', () => {
    const suspicions = new Suspicions()
    suspicions.start('c', 'a', 0, lifeguard)
    const status = suspicions.status()
    ;(status[0]!.accusers as string[]).push('z')
    expect(suspicions.confirm('c', 'z', lifeguard)).toBe(true)
  })
})
