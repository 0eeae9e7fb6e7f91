import fc from 'fast-check'
import { deflateSync } from 'fflate'
import * as encoding from 'lib0/encoding'
import { describe, expect, it } from 'vitest'
import type { DecodeErrorCode } from '../../core/codec/decodeError.ts'
import { chooseCompression, compressionLimits, compressionRatio, compressPayload, entropyBitsPerByte, readCompressedFrame, writeCompressedFrame } from '../../core/compression.ts'

const decodeErrorCodes: readonly DecodeErrorCode[] = ['truncated', 'oversized', 'unsupportedVersion', 'unknownEngine', 'unknownType', 'invalidField', 'trailingBytes']

/** Deterministic incompressible bytes: a 32-bit LCG (Numerical Recipes constants), top byte of each state. */
function lcgBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length)
  let state = seed >>> 0
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    bytes[i] = state >>> 24
  }
  return bytes
}

/** Repetitive JSON-like text of exactly `length` bytes, as ASCII. */
function jsonLikeBytes(length: number): Uint8Array {
  let text = ''
  for (let i = 0; text.length < length; i++) {
    text += `{"key":"config/region-${i % 7}","value":${i % 13},"kind":"counter","node":"n${i % 3}"},`
  }
  const bytes = new Uint8Array(length)
  for (let i = 0; i < length; i++) bytes[i] = text.charCodeAt(i)
  return bytes
}

/** A deflate frame written by hand, so tests can lie about the raw length. */
function deflateFrame(methodByte: number, rawLength: number, deflated: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeUint8(encoder, methodByte)
  encoding.writeVarUint(encoder, rawLength)
  encoding.writeUint8Array(encoder, deflated)
  return encoding.toUint8Array(encoder)
}

function expectError(frame: Uint8Array, code: DecodeErrorCode): void {
  const result = readCompressedFrame(frame)
  expect(result.ok).toBe(false)
  if (!result.ok) expect(result.error.code).toBe(code)
}

describe('entropyBitsPerByte', () => {
  it('is 0 for empty and constant input and near 8 for random bytes', () => {
    expect(entropyBitsPerByte(new Uint8Array(0))).toBe(0)
    expect(entropyBitsPerByte(new Uint8Array(1000).fill(7))).toBe(0)
    expect(entropyBitsPerByte(lcgBytes(4096, 1))).toBeGreaterThan(7.9)
  })

  it('looks only at the first 4096 bytes', () => {
    const bytes = new Uint8Array(8192)
    bytes.set(lcgBytes(4096, 2), 4096)
    expect(entropyBitsPerByte(bytes)).toBe(0)
  })
})

describe('compression choice', () => {
  it('sends small payloads as they are', () => {
    const small = jsonLikeBytes(compressionLimits.compressBytesMin - 1)
    expect(chooseCompression(small)).toBe('none')
    const compressed = compressPayload(small)
    expect(compressed.method).toBe('none')
    expect(compressed.bytes).toEqual(small)
    expect(compressionRatio(compressed)).toBe(1)
  })

  it('sends 64 KiB of random bytes as they are', () => {
    const random = lcgBytes(64 * 1024, 42)
    expect(chooseCompression(random)).toBe('none')
    const frame = writeCompressedFrame(random)
    expect(frame[0]).toBe(0)
    expect(frame.length).toBe(random.length + 1)
  })

  it('deflates a repetitive 4 KiB JSON-like payload fast, to less than half', () => {
    const payload = jsonLikeBytes(4096)
    expect(chooseCompression(payload)).toBe('deflate-fast')
    const compressed = compressPayload(payload)
    expect(compressed.method).toBe('deflate-fast')
    expect(compressed.rawBytes).toBe(4096)
    expect(compressionRatio(compressed)).toBeLessThan(0.5)
  })

  it('deflates a repetitive 64 KiB payload at the maximum level', () => {
    const payload = jsonLikeBytes(64 * 1024)
    expect(chooseCompression(payload)).toBe('deflate-max')
    const compressed = compressPayload(payload)
    expect(compressed.method).toBe('deflate-max')
    expect(compressionRatio(compressed)).toBeLessThan(0.1)
    const frame = writeCompressedFrame(payload)
    expect(frame[0]).toBe(2)
    const result = readCompressedFrame(frame)
    expect(result.ok && result.value).toEqual(payload)
  })

  it('falls back to none when deflate does not shrink the payload', () => {
    // 180 symbols at random: entropy ~6.9 bits, under the max, yet Huffman tables cost more than they save.
    const payload = lcgBytes(300, 7).map((byte) => byte % 180)
    expect(entropyBitsPerByte(payload)).toBeLessThan(compressionLimits.entropyBitsPerByteMax)
    expect(chooseCompression(payload)).toBe('deflate-fast')
    const compressed = compressPayload(payload)
    expect(compressed.method).toBe('none')
    expect(compressed.bytes).toBe(payload)
    expect(writeCompressedFrame(payload)[0]).toBe(0)
  })
})

describe('compressed frames', () => {
  it('round-trip arbitrary payloads', () => {
    const payloads = fc.oneof(
      fc.uint8Array({ maxLength: 2048 }),
      fc.tuple(fc.string({ maxLength: 40 }), fc.integer({ min: 1, max: 400 })).map(([unit, times]) => {
        const text = unit.repeat(times)
        return Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff)
      }),
    )
    fc.assert(
      fc.property(payloads, (payload) => {
        const result = readCompressedFrame(writeCompressedFrame(payload))
        expect(result.ok).toBe(true)
        if (result.ok) expect(result.value).toEqual(payload)
      }),
    )
  })

  it('never throws on arbitrary bytes: always a payload or a typed error', () => {
    const frames = fc.oneof(
      fc.uint8Array({ maxLength: 256 }),
      // Well-formed headers in front of garbage, to reach the inflater.
      fc.tuple(fc.integer({ min: 0, max: 3 }), fc.nat({ max: 100_000 }), fc.uint8Array({ maxLength: 256 })).map(([method, rawLength, rest]) => deflateFrame(method, rawLength, rest)),
    )
    fc.assert(
      fc.property(frames, (frame) => {
        const result = readCompressedFrame(frame)
        if (!result.ok) {
          expect(decodeErrorCodes).toContain(result.error.code)
          expect(result.error.message.length).toBeGreaterThan(0)
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('refuses an empty frame as truncated and an unknown method as invalid', () => {
    expectError(new Uint8Array(0), 'truncated')
    expectError(Uint8Array.of(3, 1, 2, 3), 'invalidField')
    expectError(Uint8Array.of(1), 'truncated')
  })

  it('refuses a declared raw length above inflatedBytesMax as oversized, before inflating', () => {
    const deflated = deflateSync(new Uint8Array(1000))
    expectError(deflateFrame(1, compressionLimits.inflatedBytesMax + 1, deflated), 'oversized')
    expectError(deflateFrame(2, Number.MAX_SAFE_INTEGER, deflated), 'oversized')
  })

  it('refuses a declared raw length deflate could not produce from so few bytes', () => {
    expectError(deflateFrame(1, compressionLimits.inflatedBytesMax, Uint8Array.of(3, 0)), 'invalidField')
  })

  it('refuses a frame whose declared raw length does not match what it inflates to', () => {
    const payload = jsonLikeBytes(4096)
    const deflated = deflateSync(payload, { level: 1 })
    expect(readCompressedFrame(deflateFrame(1, payload.length, deflated))).toEqual({ ok: true, value: payload })
    expectError(deflateFrame(1, payload.length - 1, deflated), 'invalidField')
    expectError(deflateFrame(1, payload.length + 1, deflated), 'invalidField')
    expectError(deflateFrame(1, 0, deflated), 'invalidField')
  })

  it('refuses a corrupt or cut deflate stream', () => {
    const payload = jsonLikeBytes(4096)
    const deflated = deflateSync(payload, { level: 1 })
    expectError(deflateFrame(1, payload.length, deflated.subarray(0, deflated.length >> 1)), 'invalidField')
    expectError(deflateFrame(1, payload.length, Uint8Array.of(0xff, 0xff, 0xff, 0xff)), 'invalidField')
  })
})
