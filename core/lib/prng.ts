import { assert, assertFailed } from './assert.ts'
import { fnv1a32String, mix32 } from './hash.ts'

/**
 * Seeded pseudo-random numbers (sfc32: small, fast, passes PractRand to 2^40+).
 *
 * The core never calls Math.random: hosts create an Rng from a seed and pass
 * it in. `split(label)` derives an independent stream from the seed and a label
 * without consuming the parent's stream, so adding a node or a fault source to a
 * scenario does not shift the numbers every other component sees.
 */
export class Rng {
  private a: number
  private b: number
  private c: number
  private d: number
  /** The four words this stream started from: the root of every split. */
  private readonly key: readonly [number, number, number, number]

  private constructor(key: readonly [number, number, number, number]) {
    this.key = key
    this.a = key[0]
    this.b = key[1]
    this.c = key[2]
    this.d = key[3]
    // Discard the first outputs: sfc32 needs a few rounds to mix a fresh state.
    for (let i = 0; i < 12; i++) this.nextU32()
  }

  /** A stream from an integer seed (any safe integer; negative and large seeds are fine). */
  static fromSeed(seed: number): Rng {
    if (!Number.isSafeInteger(seed)) assertFailed(`seed must be a safe integer, got ${seed}`)
    const low = seed >>> 0
    const high = Math.floor(seed / 0x1_0000_0000) >>> 0
    return new Rng([mix32(low ^ 0x9e3779b9), mix32(high ^ 0x85ebca6b), mix32(low + 0x27d4eb2f), mix32(high + 0x165667b1)])
  }

  /** An independent stream named by `label`, derived from this stream's seed. */
  split(label: string | number): Rng {
    const tag = typeof label === 'number' ? mix32(label ^ 0x5bd1e995) : fnv1a32String(label)
    const [k0, k1, k2, k3] = this.key
    return new Rng([mix32(k0 ^ tag), mix32(k1 + tag), mix32(k2 ^ mix32(tag)), mix32(k3 + 0x9e3779b9 + tag)])
  }

  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  /** A float in [0, 1) with 32 bits of randomness. */
  float(): number {
    return this.nextU32() / 0x1_0000_0000
  }

  /** An integer in [0, maxExclusive). */
  int(maxExclusive: number): number {
    if (!(Number.isInteger(maxExclusive) && maxExclusive > 0 && maxExclusive <= 0x1_0000_0000)) assertFailed(`int(${maxExclusive}) needs 0 < max <= 2^32`)
    return Math.floor(this.float() * maxExclusive)
  }

  /** An integer in [min, max], both inclusive. */
  intBetween(min: number, max: number): number {
    if (min > max) assertFailed(`intBetween(${min}, ${max}) needs min <= max`)
    return min + this.int(max - min + 1)
  }

  /** True with probability `p` (0 never draws a number, so it costs nothing and shifts nothing). */
  chance(p: number): boolean {
    if (p <= 0) return false
    if (p >= 1) return true
    return this.float() < p
  }

  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, 'pick from an empty list')
    return items[this.int(items.length)]!
  }

  /** Fisher–Yates shuffle in place; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      const held = items[i]!
      items[i] = items[j]!
      items[j] = held
    }
    return items
  }
}
