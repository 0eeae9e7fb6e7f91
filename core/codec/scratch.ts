/**
 * Reusable lib0 encoders. A fresh lib0 Encoder allocates a 100-byte buffer,
 * which dominated the cost of encoding small peer messages; these are reset
 * and reused instead. Nested use (a writer that encodes inside a writer) takes
 * another encoder from the pool, so reuse is always safe.
 */
import * as encoding from 'lib0/encoding'

/** Encoders kept for reuse, and the largest buffer one may keep (a huge frame's buffer is let go). */
const scratchPoolMax = 8
const scratchBufferBytesMax = 64 * 1024

const pool: encoding.Encoder[] = []

/** Runs `use` with an empty encoder; the encoder goes back to the pool afterwards. */
export function withScratchEncoder<R>(use: (encoder: encoding.Encoder) => R): R {
  const encoder = takeScratchEncoder()
  try {
    return use(encoder)
  } finally {
    releaseScratchEncoder(encoder)
  }
}

/** An empty encoder from the pool; give it back with `releaseScratchEncoder` (in a finally). For hot paths, where the closure of `withScratchEncoder` is a cost. */
export function takeScratchEncoder(): encoding.Encoder {
  return pool.pop() ?? encoding.createEncoder()
}

export function releaseScratchEncoder(encoder: encoding.Encoder): void {
  encoder.cpos = 0
  if (encoder.bufs.length > 0) encoder.bufs = []
  if (pool.length < scratchPoolMax && encoder.cbuf.length <= scratchBufferBytesMax) pool.push(encoder)
}

/**
 * The bytes written so far, without copying when they fit in the current
 * buffer: valid only until the encoder is written to or released.
 */
export function writtenBytes(encoder: encoding.Encoder): Uint8Array {
  return encoder.bufs.length === 0 ? encoder.cbuf.subarray(0, encoder.cpos) : encoding.toUint8Array(encoder)
}

/** A copy of the bytes written so far, of exactly their length (one allocation when they fit in the current buffer). */
export function copyWrittenBytes(encoder: encoding.Encoder): Uint8Array {
  return encoder.bufs.length === 0 ? encoder.cbuf.slice(0, encoder.cpos) : encoding.toUint8Array(encoder)
}
