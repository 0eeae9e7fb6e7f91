/**
 * How hard to compress what goes over a link, from the link's mode. Deflate
 * trades CPU time for bytes; whether that pays depends on which of the two
 * the link is short of.
 */
import type { CompressionLevel } from '../compression.ts'
import type { Mode } from './mode.ts'

export type { CompressionLevel } from '../compression.ts'

export function compressionLevelFor(mode: Mode): CompressionLevel {
  switch (mode) {
    // Over 1 Gbit/s and under 10 ms, bytes are cheap and the milliseconds deflate adds to each message are a large share of a commit.
    case 'datacenter':
      return 'off'
    // Neither bytes nor time plentiful: level 1 keeps most of deflate's saving at a fraction of level 9's CPU.
    case 'hybrid':
      return 'fast'
    // Round trips above 50 ms or a thin pipe: every byte saved is worth more than the CPU level 9 spends saving it.
    case 'internet':
      return 'best'
  }
}
