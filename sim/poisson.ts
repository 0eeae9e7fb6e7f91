import type { Rng } from '../core/lib/prng.ts'

/** The next time of a Poisson process with mean gap `meanUs`: at least 1 µs after `nowUs`. */
export function poissonNextUs(rng: Rng, nowUs: number, meanUs: number): number {
  return nowUs + Math.floor(-Math.log(1 - rng.float()) * meanUs) + 1
}
