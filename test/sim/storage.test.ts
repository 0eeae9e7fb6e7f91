import { describe, expect, it } from 'vitest'
import { Rng } from '../../core/lib/prng.ts'
import { SimStorage, storageLimits } from '../../sim/storage.ts'

const bytes = (...values: number[]) => new Uint8Array(values)

describe('simulated storage', () => {
  it('keeps synced writes and loses unsynced ones on a crash', () => {
    const storage = new SimStorage()
    storage.write({ key: 'a', value: bytes(1) })
    storage.write({ key: 'b', value: bytes(2) })
    storage.sync()
    storage.write({ key: 'c', value: bytes(3) })
    storage.write({ key: 'a', value: null })
    expect(storage.get('c')).toEqual(bytes(3)) // reads see unsynced writes before a crash
    storage.crash(Rng.fromSeed(1), { lostProbability: 1, tornProbability: 0 })
    expect(storage.get('a')).toEqual(bytes(1))
    expect(storage.get('b')).toEqual(bytes(2))
    expect(storage.get('c')).toBeUndefined()
    expect(storage.keys('')).toEqual(['a', 'b'])
    expect(storage.metrics).toMatchObject({ crashes: 1, unsyncedLost: 2, unsyncedKept: 0 })
  })

  it('tears unsynced writes into prefixes of the new value, never touching synced keys', () => {
    const storage = new SimStorage()
    storage.write({ key: 'synced', value: bytes(9, 9, 9) })
    storage.sync()
    const rng = Rng.fromSeed(2)
    let torn = 0
    for (let round = 0; round < 200; round++) {
      const value = bytes(1, 2, 3, 4, 5, 6, 7, 8)
      storage.write({ key: `k${round}`, value })
      storage.crash(rng, { lostProbability: 0, tornProbability: 0.5 })
      const after = storage.get(`k${round}`)!
      expect(value.subarray(0, after.length)).toEqual(after)
      if (after.length < value.length) torn++
    }
    expect(torn).toBe(storage.metrics.unsyncedTorn)
    expect(torn / 200).toBeCloseTo(0.5, 1)
    expect(storage.get('synced')).toEqual(bytes(9, 9, 9))
  })

  it('keeps every unsynced write when no fault is drawn', () => {
    const storage = new SimStorage()
    storage.write({ key: 'x', value: bytes(1) })
    storage.crash(Rng.fromSeed(3), { lostProbability: 0, tornProbability: 0 })
    expect(storage.get('x')).toEqual(bytes(1))
  })
})

describe('simulated storage writeback', () => {
  it('writes the oldest dirty write back once unsyncedWritesMax are pending, so it survives a crash', () => {
    const storage = new SimStorage()
    for (let index = 0; index <= storageLimits.unsyncedWritesMax; index++) storage.write({ key: `k${index}`, value: bytes(index & 0xff) })
    expect(storage.unsyncedCount).toBe(storageLimits.unsyncedWritesMax)
    expect(storage.metrics.writtenBack).toBe(1)
    storage.crash(Rng.fromSeed(1), { lostProbability: 1, tornProbability: 0 })
    expect(storage.keys('')).toEqual(['k0'])
  })
})
