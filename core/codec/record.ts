/**
 * Stored records that survive torn writes.
 *
 * A checksummed record is its body followed by an FNV-1a checksum of the
 * body: a write torn by a crash fails the check and reads as absent.
 *
 * A record kept in two slots is written to them in turn, each write carrying
 * a sequence number; recovery takes the valid slot with the higher number. A
 * torn write then destroys only the slot being written, never the last value
 * that was synced, which lives in the other slot.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { fnv1a32Bytes, fnv1a32Prefix } from '../lib/hash.ts'
import type { Result } from '../lib/result.ts'
import type { StorageReader, StorageWrite } from '../ports.ts'
import { fail, type DecodeError } from './decodeError.ts'
import { decodeWith } from './envelope.ts'
import { readUint, writeUint } from './fields.ts'
import { copyWrittenBytes, releaseScratchEncoder, takeScratchEncoder, writtenBytes } from './scratch.ts'

export function writeChecksummed<T>(value: T, writeBody: (encoder: encoding.Encoder, value: T) => void): Uint8Array {
  const encoder = takeScratchEncoder()
  try {
    writeBody(encoder, value)
    encoding.writeUint32(encoder, encoder.bufs.length === 0 ? fnv1a32Prefix(encoder.cbuf, encoder.cpos) : fnv1a32Bytes(writtenBytes(encoder)))
    return copyWrittenBytes(encoder)
  } finally {
    releaseScratchEncoder(encoder)
  }
}

export function readChecksummed<T>(bytes: Uint8Array, readBody: (decoder: decoding.Decoder) => T, what: string): Result<T, DecodeError> {
  return decodeWith(
    bytes,
    (decoder) => {
      const value = readBody(decoder)
      const bodyBytes = decoder.pos
      if (decoding.readUint32(decoder) !== fnv1a32Prefix(bytes, bodyBytes)) fail('invalidField', `${what} checksum mismatch (torn write)`)
      return value
    },
    what,
  )
}

export class TwoSlotRecord<T> {
  private readonly keys: readonly [string, string]
  private readonly writeBody: (encoder: encoding.Encoder, value: T) => void
  private readonly readBody: (decoder: decoding.Decoder) => T
  private readonly what: string
  private sequence = 0

  constructor(options: { keys: readonly [string, string]; writeBody: (encoder: encoding.Encoder, value: T) => void; readBody: (decoder: decoding.Decoder) => T; what: string }) {
    this.keys = options.keys
    this.writeBody = options.writeBody
    this.readBody = options.readBody
    this.what = options.what
  }

  /** The newest valid value in storage (and the sequence to continue from), or undefined. */
  load(storage: StorageReader): T | undefined {
    let newest: { sequence: number; value: T } | undefined
    for (const key of this.keys) {
      const bytes = storage.get(key)
      if (bytes === undefined) continue
      const record = readChecksummed(bytes, (decoder) => ({ sequence: readUint(decoder, Number.MAX_SAFE_INTEGER, 'sequence'), value: this.readBody(decoder) }), this.what)
      if (record.ok && (newest === undefined || record.value.sequence > newest.sequence)) newest = record.value
    }
    this.sequence = newest?.sequence ?? 0
    return newest?.value
  }

  /** The write that stores `value` in the slot not holding the newest one. */
  write(value: T): StorageWrite {
    this.sequence++
    const sequence = this.sequence
    return {
      key: this.keys[sequence % 2]!,
      value: writeChecksummed(value, (encoder, held) => {
        writeUint(encoder, sequence)
        this.writeBody(encoder, held)
      }),
    }
  }
}
