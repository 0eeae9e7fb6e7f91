/**
 * Compression levels per link: the mode picks the level, and each level
 * bounds what `chooseCompression` may pick; without a level it decides as
 * before, by size alone.
 */
import { describe, expect, it } from 'vitest'
import { compressionLevelFor } from '../../core/adaptive/linkCompression.ts'
import { chooseCompression, compressionLimits, compressPayload, readCompressedFrame, writeCompressedFrame } from '../../core/compression.ts'

/** Compressible bytes: a short sentence repeated. */
function textBytes(length: number): Uint8Array {
  const unit = new TextEncoder().encode('the quick brown fox jumps over the lazy dog; ')
  const bytes = new Uint8Array(length)
  for (let i = 0; i < length; i++) bytes[i] = unit[i % unit.length]!
  return bytes
}

/** Incompressible bytes from a 32-bit LCG. */
function noiseBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length)
  let state = 12345
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    bytes[i] = state >>> 24
  }
  return bytes
}

const small = textBytes(compressionLimits.compressBytesMin - 1)
const medium = textBytes(1024)
const large = textBytes(compressionLimits.deflateMaxBytesMin + 1)
const noise = noiseBytes(32 * 1024)

describe('compression level per link mode', () => {
  it('turns compression off in the datacenter, fast for hybrid, best over the internet', () => {
    expect(compressionLevelFor('datacenter')).toBe('off')
    expect(compressionLevelFor('hybrid')).toBe('fast')
    expect(compressionLevelFor('internet')).toBe('best')
  })

  it("'off' never compresses", () => {
    for (const bytes of [small, medium, large, noise]) expect(chooseCompression(bytes, 'off')).toBe('none')
    expect(compressPayload(large, 'off')).toEqual({ method: 'none', bytes: large, rawBytes: large.length })
  })

  it("'fast' never picks deflate-max", () => {
    expect(chooseCompression(medium, 'fast')).toBe('deflate-fast')
    expect(chooseCompression(large, 'fast')).toBe('deflate-fast')
    expect(compressPayload(large, 'fast').method).toBe('deflate-fast')
  })

  it("'best' picks deflate-max for any payload that passes the size and entropy test", () => {
    expect(chooseCompression(medium, 'best')).toBe('deflate-max')
    expect(chooseCompression(large, 'best')).toBe('deflate-max')
    expect(compressPayload(medium, 'best').method).toBe('deflate-max')
    expect(compressPayload(large, 'best').bytes.length).toBeLessThanOrEqual(compressPayload(large, 'fast').bytes.length)
  })

  it('no level compresses small or high-entropy payloads', () => {
    for (const level of ['fast', 'best', 'auto', undefined] as const) {
      expect(chooseCompression(small, level)).toBe('none')
      expect(chooseCompression(noise, level)).toBe('none')
    }
  })

  it('without a level decides exactly as before (by size)', () => {
    expect(chooseCompression(medium)).toBe('deflate-fast')
    expect(chooseCompression(large)).toBe('deflate-max')
    for (const bytes of [small, medium, large, noise]) {
      expect(chooseCompression(bytes, 'auto')).toBe(chooseCompression(bytes))
      expect(writeCompressedFrame(bytes, 'auto')).toEqual(writeCompressedFrame(bytes))
    }
  })

  it('frames written at every level read back to the payload', () => {
    for (const level of ['off', 'fast', 'best'] as const) {
      for (const bytes of [small, medium, large, noise]) {
        expect(readCompressedFrame(writeCompressedFrame(bytes, level))).toEqual({ ok: true, value: bytes })
      }
    }
  })
})
