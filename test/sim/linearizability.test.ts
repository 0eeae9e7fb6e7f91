import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { checkLinearizable, linearizabilityLimits, withoutUnobservedTimeouts, type RegisterOp } from '../../sim/checkers/linearizability.ts'

function write(client: string, value: string, invokeUs: number, returnUs: number | null, key = 'k'): RegisterOp {
  return { client, key, kind: 'write', value, invokeUs, returnUs }
}

function read(client: string, value: string | null, invokeUs: number, returnUs: number | null, key = 'k'): RegisterOp {
  return { client, key, kind: 'read', value, invokeUs, returnUs }
}

describe('checkLinearizable on hand-written histories', () => {
  it('accepts an empty history', () => {
    expect(checkLinearizable([])).toEqual({ ok: true })
  })

  it('accepts a sequential history', () => {
    const history = [read('a', null, 0, 5), write('a', 'x', 10, 20), read('b', 'x', 30, 40), write('b', 'y', 50, 60), read('a', 'y', 70, 80)]
    expect(checkLinearizable(history)).toEqual({ ok: true })
  })

  it('accepts a read concurrent with a write seeing either the old or the new value', () => {
    const before = [write('a', 'x', 0, 10)]
    expect(checkLinearizable([...before, write('a', 'y', 20, 50), read('b', 'x', 30, 40)])).toEqual({ ok: true })
    expect(checkLinearizable([...before, write('a', 'y', 20, 50), read('b', 'y', 30, 40)])).toEqual({ ok: true })
  })

  it('accepts a read whose interval contains a whole write, seeing either side of it', () => {
    const history = [write('a', 'x', 0, 10), read('b', 'x', 20, 100), write('a', 'y', 30, 40), read('c', 'y', 50, 60)]
    expect(checkLinearizable(history)).toEqual({ ok: true })
  })

  it('refuses a stale read after a completed write, naming the key and the read', () => {
    const history = [write('a', 'x', 0, 10), write('a', 'y', 20, 30), read('b', 'x', 40, 50)]
    const result = checkLinearizable(history)
    expect(result.ok).toBe(false)
    if (result.ok !== false) return
    expect(result.key).toBe('k')
    expect(result.reason).toContain('"k"')
    expect(result.reason).toContain('read "x" by b [40 us..50 us]')
  })

  it('refuses two reads seeing the new value and then the old one', () => {
    const history = [
      write('a', 'x', 0, 10),
      write('a', 'y', 20, 100),
      read('b', 'y', 30, 40),
      read('c', 'x', 50, 60), // invoked after b's read returned y: x is gone for good
    ]
    expect(checkLinearizable(history).ok).toBe(false)
  })

  it('accepts two overlapping reads seeing the new value and the old one', () => {
    const history = [write('a', 'x', 0, 10), write('a', 'y', 20, 100), read('b', 'y', 30, 55), read('c', 'x', 50, 60)]
    expect(checkLinearizable(history)).toEqual({ ok: true })
  })

  it('accepts a timed-out write that a later read sees', () => {
    const history = [write('a', 'x', 0, 10), write('a', 'y', 20, null), read('b', 'y', 1000, 1010)]
    expect(checkLinearizable(history)).toEqual({ ok: true })
  })

  it('accepts a timed-out write that takes effect late, between two reads', () => {
    const history = [write('a', 'y', 20, null), read('b', null, 30, 40), read('b', 'y', 1000, 1010), read('c', 'y', 2000, 2010)]
    expect(checkLinearizable(history)).toEqual({ ok: true })
  })

  it('accepts a timed-out write that no read ever sees', () => {
    const history = [write('a', 'x', 0, 10), write('a', 'y', 20, null), read('b', 'x', 1000, 1010), read('b', 'x', 2000, 2010)]
    expect(checkLinearizable(history)).toEqual({ ok: true })
  })

  it('refuses a timed-out write seen and then unseen', () => {
    const history = [write('a', 'x', 0, 10), write('a', 'y', 20, null), read('b', 'y', 1000, 1010), read('b', 'x', 2000, 2010)]
    expect(checkLinearizable(history).ok).toBe(false)
  })

  it('refuses a timed-out write seen before it was invoked', () => {
    const history = [read('b', 'y', 0, 10), write('a', 'y', 20, null)]
    expect(checkLinearizable(history).ok).toBe(false)
  })

  it('ignores a read that never returned', () => {
    const history = [write('a', 'x', 0, 10), read('b', 'nonsense', 20, null), read('b', null, 30, null)]
    expect(checkLinearizable(history)).toEqual({ ok: true })
  })

  it('refuses a null read after a completed write', () => {
    const history = [write('a', 'x', 0, 10), read('b', null, 20, 30)]
    const result = checkLinearizable(history)
    expect(result.ok).toBe(false)
    if (result.ok === false) expect(result.reason).toContain('read null by b [20 us..30 us]')
  })

  it('accepts a null read concurrent with the first write', () => {
    expect(checkLinearizable([write('a', 'x', 0, 30), read('b', null, 10, 20)])).toEqual({ ok: true })
  })

  it('refuses a read of a value never written', () => {
    const result = checkLinearizable([write('a', 'x', 0, 10), read('b', 'z', 20, 30)])
    expect(result.ok).toBe(false)
    if (result.ok === false) expect(result.reason).toContain('no write on this key wrote')
  })

  it('counts equal timestamps as concurrent', () => {
    // b's read is invoked at the very microsecond a's write returns: either order is allowed.
    expect(checkLinearizable([write('a', 'x', 0, 10), read('b', null, 10, 20)])).toEqual({ ok: true })
  })

  it('checks keys independently and names the broken one', () => {
    const history = [
      write('a', 'x', 0, 10, 'k1'),
      write('a', 'x', 0, 10, 'k2'),
      read('b', 'x', 20, 30, 'k1'),
      read('b', null, 20, 30, 'k2'), // k2 was written: null is stale
      read('c', null, 20, 30, 'k3'),
    ]
    const result = checkLinearizable(history)
    expect(result).toMatchObject({ ok: false, key: 'k2' })
  })

  it('refuses a malformed history', () => {
    expect(() => checkLinearizable([write('a', 'x', 10, 5)])).toThrow(/returnUs is before invokeUs/)
    expect(() => checkLinearizable([write('a', 'x', Number.NaN, 5)])).toThrow(/invokeUs is not finite/)
    expect(() => checkLinearizable([write('a', 'x', 0, Number.POSITIVE_INFINITY)])).toThrow(/returnUs is not finite/)
  })
})

describe('checkLinearizable limits', () => {
  /** Many concurrent writes, then two reads that no single last write explains: every subset gets explored. */
  function pathological(writesCount: number, key = 'k'): RegisterOp[] {
    const writes = Array.from({ length: writesCount }, (_, i) => write(`w${i}`, `v${i}`, 0, 100, key))
    return [...writes, read('r', 'v0', 200, 210, key), read('r', 'v1', 220, 230, key)]
  }

  it('answers unknown when the search runs out of steps', () => {
    const result = checkLinearizable(pathological(14), { searchStepsMax: 50 })
    expect(result.ok).toBe('unknown')
    if (result.ok === 'unknown') expect(result.reason).toContain('searchStepsMax (50)')
  })

  it('decides 12 concurrent writes with the default budget, as memoized states collapse their orders', () => {
    expect(checkLinearizable(pathological(12)).ok).toBe(false)
  })

  it('prefers a definite violation on a later key to an unknown on an earlier one', () => {
    const history = [...pathological(14, 'slow'), write('a', 'x', 0, 10, 'bad'), read('b', null, 20, 30, 'bad')]
    expect(checkLinearizable(history, { searchStepsMax: 50 })).toMatchObject({ ok: false, key: 'bad' })
  })

  /**
   * 20 writes on one key that timed out and that no read saw, among acknowledged writes and reads that
   * saw those: each timed-out write could take effect anywhere after its invoke, so kept in, they double
   * the states to search 20 times over (kept in, the search gives up on the stale read at 1,000,000 steps).
   */
  function manyUnobservedTimeouts(staleRead: boolean): RegisterOp[] {
    const timedOut = Array.from({ length: 20 }, (_, i) => write(`t${i}`, `lost${i}`, i * 10, null))
    const seen: RegisterOp[] = []
    for (let i = 0; i < 30; i++) {
      seen.push(write('w', `v${i}`, 1000 + i * 100, 1000 + i * 100 + 20))
      seen.push(read('r', `v${i}`, 1000 + i * 100 + 30, 1000 + i * 100 + 40))
    }
    // A read after v29 was acknowledged that still sees v28: stale whatever the timed-out writes did.
    if (staleRead) seen.push(read('r2', 'v28', 5000, 5010))
    return [...timedOut, ...seen]
  }

  it('decides a key with 20 timed-out writes no read observed: they are dropped before the search', () => {
    expect(checkLinearizable(manyUnobservedTimeouts(false))).toEqual({ ok: true })
  })

  it('still refuses a stale read on a key with 20 unobserved timed-out writes', () => {
    expect(checkLinearizable(manyUnobservedTimeouts(true))).toMatchObject({ ok: false, key: 'k' })
  })

  it('keeps a timed-out write that a read observed', () => {
    const history = [write('t', 'late', 0, null), read('r', 'late', 50, 60), read('r', null, 70, 80)]
    expect(withoutUnobservedTimeouts(history)).toEqual(history)
    expect(checkLinearizable(history).ok).toBe(false)
  })

  it('answers unknown beyond opsPerKeyMax ops on one key', () => {
    const count = linearizabilityLimits.opsPerKeyMax + 1
    const history = Array.from({ length: count }, (_, i) => write('a', `v${i}`, i * 10, i * 10 + 5))
    const result = checkLinearizable(history)
    expect(result.ok).toBe('unknown')
    if (result.ok === 'unknown') expect(result.reason).toContain('opsPerKeyMax')
    expect(checkLinearizable(history.slice(0, linearizabilityLimits.opsPerKeyMax))).toEqual({ ok: true })
  })
})

/**
 * On failure fast-check's message carries `{ seed, path }`; pass both back in the assert options to replay it.
 *
 * Histories from a real register per key: each op takes effect at its own point in time (points strictly increase),
 * and its interval is stretched a random amount to either side, so it overlaps its neighbours.
 */
interface ModelStep {
  readonly keyIndex: number
  readonly isWrite: boolean
  readonly gapUs: number
  readonly leadUs: number
  readonly lagUs: number
  readonly timedOut: boolean
  /** For a timed-out write: whether it took effect anyway. */
  readonly tookEffect: boolean
}

const modelStepArb = (keysCount: number, spreadUs: number): fc.Arbitrary<ModelStep> =>
  fc.record({
    keyIndex: fc.nat({ max: keysCount - 1 }),
    isWrite: fc.boolean(),
    gapUs: fc.integer({ min: 1, max: 20 }),
    leadUs: fc.nat({ max: spreadUs }),
    lagUs: fc.nat({ max: spreadUs }),
    timedOut: fc.nat({ max: 7 }).map((roll) => roll === 0),
    tookEffect: fc.boolean(),
  })

const modelArb: fc.Arbitrary<readonly ModelStep[]> = fc
  .record({ keysCount: fc.integer({ min: 1, max: 3 }), spreadUs: fc.integer({ min: 0, max: 120 }) })
  .chain(({ keysCount, spreadUs }) => fc.array(modelStepArb(keysCount, spreadUs), { minLength: 1, maxLength: 80 }))

function historyOf(steps: readonly ModelStep[]): RegisterOp[] {
  const registers = new Map<string, string>()
  let pointUs = 0
  return steps.map((step, i) => {
    pointUs += step.gapUs
    const key = `k${step.keyIndex}`
    const client = `c${i % 5}`
    const invokeUs = pointUs - step.leadUs
    const returnUs = step.timedOut ? null : pointUs + step.lagUs
    if (!step.isWrite) return { client, key, kind: 'read', value: registers.get(key) ?? null, invokeUs, returnUs }
    const value = `v${i}`
    if (!step.timedOut || step.tookEffect) registers.set(key, value)
    return { client, key, kind: 'write', value, invokeUs, returnUs }
  })
}

describe('checkLinearizable on histories of a real register', () => {
  it('accepts a full-size history with dozens of ops in flight at once, within the default budget', () => {
    // A fixed linear congruential sequence, the same large history every run; its high bits, as the low ones cycle.
    let state = 12_345
    const next = (bound: number): number => {
      state = (state * 1_103_515_245 + 12_345) % 2_147_483_648
      return Math.floor((state / 2_147_483_648) * bound)
    }
    const steps: ModelStep[] = Array.from({ length: linearizabilityLimits.opsPerKeyMax }, () => ({
      keyIndex: 0,
      isWrite: next(2) === 0,
      gapUs: 10,
      leadUs: next(300),
      lagUs: next(300),
      timedOut: next(16) === 0,
      tookEffect: next(2) === 0,
    }))
    expect(checkLinearizable(historyOf(steps))).toEqual({ ok: true })
  })

  it('accepts every history a sequential register produces', () => {
    fc.assert(
      fc.property(modelArb, (steps) => {
        expect(checkLinearizable(historyOf(steps))).toEqual({ ok: true })
      }),
      { numRuns: 300 },
    )
  })

  it('refuses every such history once one read returns a value never written', () => {
    fc.assert(
      fc.property(modelArb, fc.nat(), (steps, pick) => {
        const history = historyOf(steps)
        const reads = history.flatMap((op, i) => (op.kind === 'read' && op.returnUs !== null ? [i] : []))
        fc.pre(reads.length > 0)
        const target = reads[pick % reads.length]!
        const mutated = history.map((op, i) => (i === target ? { ...op, value: 'never-written' } : op))
        expect(checkLinearizable(mutated)).toMatchObject({ ok: false, key: history[target]!.key })
      }),
      { numRuns: 300 },
    )
  })

  it('refuses every such history once one read returns a value written only after it returned', () => {
    fc.assert(
      fc.property(modelArb, fc.nat(), (steps, pick) => {
        const history = historyOf(steps)
        const pairs: [number, number][] = []
        history.forEach((readOp, r) => {
          if (readOp.kind !== 'read' || readOp.returnUs === null) return
          history.forEach((writeOp, w) => {
            if (writeOp.kind === 'write' && writeOp.key === readOp.key && writeOp.invokeUs > readOp.returnUs!) pairs.push([r, w])
          })
        })
        fc.pre(pairs.length > 0)
        const [target, source] = pairs[pick % pairs.length]!
        const mutated = history.map((op, i) => (i === target ? { ...op, value: history[source]!.value } : op))
        expect(checkLinearizable(mutated)).toMatchObject({ ok: false, key: history[target]!.key })
      }),
      { numRuns: 300 },
    )
  })
})
