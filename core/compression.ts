/**
 * Payload compression for peer payloads: whether to deflate, how hard, and the
 * small frame that says which was chosen.
 *
 *   uint8    method             0 none, 1 deflate-fast, 2 deflate-max
 *   varuint  raw length         deflate methods only, <= inflatedBytesMax
 *   bytes    payload            to the end: raw bytes, or raw DEFLATE (no zlib header)
 *
 * The declared raw length lets the reader allocate exactly once and refuse a
 * decompression bomb before inflating it.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { deflateSync, inflateSync } from 'fflate'
import { assertFailed } from './lib/assert.ts'
import type { Result } from './lib/result.ts'
import { fail, type DecodeError } from './codec/decodeError.ts'
import { decodeWith, encodeWith } from './codec/envelope.ts'
import { readVarUint, remaining } from './codec/fields.ts'

export type CompressionMethod = 'none' | 'deflate-fast' | 'deflate-max'

export const compressionLimits = {
  /** Below this, deflate's header and Huffman tables cost more than they save; sent as they are. */
  compressBytesMin: 256,
  /** Above this, data is likely already compressed or encrypted; deflating it wastes CPU. */
  entropyBitsPerByteMax: 7.5,
  /** From this size level 9's extra CPU buys enough bytes to pay for itself. */
  deflateMaxBytesMin: 16 * 1024,
  /** Largest payload after inflating: refuses decompression bombs before they allocate; a CRDT message's payload (a whole document) fits. */
  inflatedBytesMax: 16 * 1024 * 1024 + 64 * 1024,
} as const

/** Only a prefix is histogrammed: enough to judge compressibility, and O(1) on large payloads. */
const entropySampleBytesMax = 4096

/**
 * DEFLATE's best case is 258 bytes from one ~2-bit length/distance pair, so
 * any honest stream inflates to at most ~1032 times its size (plus a header).
 * A larger declared length is a lie; refusing it stops a tiny frame from
 * making us allocate inflatedBytesMax.
 */
const inflateRatioMax = 1032
const inflateSlackBytes = 1024

const methodByte = { none: 0, 'deflate-fast': 1, 'deflate-max': 2 } as const satisfies Record<CompressionMethod, number>
const methodOfByte: readonly CompressionMethod[] = ['none', 'deflate-fast', 'deflate-max']

/** Shannon entropy of the byte histogram of the first `entropySampleBytesMax` bytes, in [0, 8]. */
export function entropyBitsPerByte(bytes: Uint8Array): number {
  const sampleBytes = Math.min(bytes.length, entropySampleBytesMax)
  if (sampleBytes === 0) return 0
  const counts = new Uint32Array(256)
  for (let i = 0; i < sampleBytes; i++) counts[bytes[i]!]!++
  let bits = 0
  for (let symbol = 0; symbol < 256; symbol++) {
    const count = counts[symbol]!
    if (count === 0) continue
    const p = count / sampleBytes
    bits -= p * Math.log2(p)
  }
  return bits
}

/**
 * How hard a link wants its payloads compressed (adaptive/linkCompression.ts
 * picks one from the link's mode): 'off' never; 'fast' deflate-fast only;
 * 'best' deflate-max for any payload worth deflating. Without a level
 * ('auto') the payload's size alone decides.
 */
export type CompressionLevel = 'off' | 'fast' | 'best'

export function chooseCompression(bytes: Uint8Array, level: CompressionLevel | 'auto' = 'auto'): CompressionMethod {
  if (level === 'off') return 'none'
  if (bytes.length < compressionLimits.compressBytesMin) return 'none'
  if (entropyBitsPerByte(bytes) > compressionLimits.entropyBitsPerByteMax) return 'none'
  if (level === 'fast') return 'deflate-fast'
  if (level === 'best') return 'deflate-max'
  return bytes.length >= compressionLimits.deflateMaxBytesMin ? 'deflate-max' : 'deflate-fast'
}

export interface Compressed {
  method: CompressionMethod
  bytes: Uint8Array
  rawBytes: number
}

export function compressPayload(bytes: Uint8Array, level: CompressionLevel | 'auto' = 'auto'): Compressed {
  const method = chooseCompression(bytes, level)
  if (method === 'none') return { method, bytes, rawBytes: bytes.length }
  const deflated = deflateSync(bytes, { level: method === 'deflate-max' ? 9 : 1 })
  // The entropy estimate samples a prefix and can be wrong; never send more than the raw bytes.
  if (deflated.length >= bytes.length) return { method: 'none', bytes, rawBytes: bytes.length }
  return { method, bytes: deflated, rawBytes: bytes.length }
}

/** Compressed size over raw size: below 1 means compression paid. */
export function compressionRatio(c: Compressed): number {
  return c.rawBytes === 0 ? 1 : c.bytes.length / c.rawBytes
}

function writeCompressed(encoder: encoding.Encoder, compressed: Compressed): void {
  encoding.writeUint8(encoder, methodByte[compressed.method])
  if (compressed.method !== 'none') encoding.writeVarUint(encoder, compressed.rawBytes)
  encoding.writeUint8Array(encoder, compressed.bytes)
}

function readCompressed(decoder: decoding.Decoder): Uint8Array {
  if (remaining(decoder) === 0) fail('truncated', 'compressed frame is empty')
  const byte = decoder.arr[decoder.pos++]!
  const method = methodOfByte[byte]
  if (method === undefined) fail('invalidField', `compression method ${byte} is not known`)
  if (method === 'none') return takeRest(decoder, compressionLimits.inflatedBytesMax, 'uncompressed payload')
  const rawLength = readVarUint(decoder, 'raw length')
  if (rawLength > compressionLimits.inflatedBytesMax) {
    fail('oversized', `raw length ${rawLength} above inflatedBytesMax=${compressionLimits.inflatedBytesMax}`)
  }
  // A view, not a copy: inflating reads it once and the output is fresh.
  const deflated = decoder.arr.subarray(decoder.pos)
  decoder.pos = decoder.arr.length
  if (rawLength > deflated.length * inflateRatioMax + inflateSlackBytes) {
    fail('invalidField', `raw length ${rawLength} is more than deflate can produce from ${deflated.length} bytes`)
  }
  return inflateExactly(deflated, rawLength)
}

/** Inflates to exactly `rawLength` bytes, or fails; never throws anything but a DecodeFailure. */
function inflateExactly(deflated: Uint8Array, rawLength: number): Uint8Array {
  // One spare byte: fflate silently truncates at the end of `out`, so a stream
  // longer than declared fills it and shows up as a length mismatch.
  let inflated: Uint8Array
  try {
    inflated = inflateSync(deflated, { out: new Uint8Array(rawLength + 1) })
  } catch (thrown) {
    const text = thrown instanceof Error ? thrown.message : String(thrown)
    return fail('invalidField', `deflated payload is corrupt: ${text}`)
  }
  if (inflated.length > rawLength) fail('invalidField', `payload inflates to more than its declared ${rawLength} bytes`)
  if (inflated.length < rawLength) fail('invalidField', `payload inflates to ${inflated.length} bytes, declared ${rawLength}`)
  return inflated.subarray(0, rawLength)
}

/** The rest of the input as a copy, never a view into the frame. */
function takeRest(decoder: decoding.Decoder, bytesMax: number, what: string): Uint8Array {
  const length = remaining(decoder)
  if (length > bytesMax) fail('oversized', `${what} is ${length} bytes, limit ${bytesMax}`)
  const bytes = decoder.arr.slice(decoder.pos)
  decoder.pos += length
  return bytes
}

/** Compresses as `chooseCompression` decides at `level` and frames the result. */
export function writeCompressedFrame(payload: Uint8Array, level: CompressionLevel | 'auto' = 'auto'): Uint8Array {
  // Assert on the sending side too: a frame the reader would refuse must never leave.
  if (payload.length > compressionLimits.inflatedBytesMax) {
    assertFailed(`payload of ${payload.length} bytes above inflatedBytesMax=${compressionLimits.inflatedBytesMax}`)
  }
  return encodeWith(compressPayload(payload, level), writeCompressed)
}

/** Decodes one whole compressed frame. Never throws; returns the raw payload or a typed error. */
export function readCompressedFrame(frame: Uint8Array): Result<Uint8Array, DecodeError> {
  return decodeWith(frame, readCompressed, 'compressed frame')
}
