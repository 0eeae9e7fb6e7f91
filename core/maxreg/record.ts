/**
 * The stored form of a max-register value:
 *
 *   varuint  sequence   orders the two acknowledged slots
 *   varuint  value
 *   uint32   checksum   FNV-1a of the bytes before it
 *
 * A torn write (a crash in the middle of an unsynced write) fails the checksum
 * and the record is ignored on recovery.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { fail } from '../codec/decodeError.ts'
import { readUint, writeUint } from '../codec/fields.ts'
import { decodeWith, encodeWith } from '../codec/envelope.ts'
import { writtenBytes } from '../codec/scratch.ts'
import { fnv1a32Bytes } from '../lib/hash.ts'
import type { Result } from '../lib/result.ts'
import type { DecodeError } from '../codec/decodeError.ts'
import { maxRegValueMax } from './config.ts'

export interface MaxRegRecord {
  readonly sequence: number
  readonly value: number
}

export function writeMaxRegRecord(record: MaxRegRecord): Uint8Array {
  return encodeWith(record, (encoder, { sequence, value }) => {
    writeUint(encoder, sequence)
    writeUint(encoder, value)
    encoding.writeUint32(encoder, fnv1a32Bytes(writtenBytes(encoder)))
  })
}

export function readMaxRegRecord(bytes: Uint8Array): Result<MaxRegRecord, DecodeError> {
  return decodeWith(
    bytes,
    (decoder) => {
      const sequence = readUint(decoder, Number.MAX_SAFE_INTEGER, 'sequence')
      const value = readUint(decoder, maxRegValueMax, 'value')
      const payloadBytes = decoder.pos
      const checksum = decoding.readUint32(decoder)
      if (checksum !== fnv1a32Bytes(bytes.subarray(0, payloadBytes))) fail('invalidField', 'record checksum mismatch (torn write)')
      return { sequence, value }
    },
    'maxreg record',
  )
}
