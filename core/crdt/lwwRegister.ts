/**
 * Last-writer-wins register: the write with the greatest hybrid logical
 * timestamp wins, the replica id breaking ties. A write's delta is the new
 * register itself.
 */
import type * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import { readId, readText, readUint, writeId, writeText, writeUint } from '../codec/fields.ts'
import { limits } from '../lib/limits.ts'
import { compareHlc, readHlc, writeHlc, type Hlc } from './hlc.ts'

export type LwwRegister = { readonly written: false } | { readonly written: true; readonly value: string; readonly timestamp: Hlc; readonly replica: string }

export const emptyLwwRegister: LwwRegister = { written: false }

export function lwwWrite(value: string, timestamp: Hlc, replica: string): LwwRegister {
  return { written: true, value, timestamp, replica }
}

/** Positive when `a` wins over `b`. */
export function compareLww(a: LwwRegister, b: LwwRegister): number {
  if (!a.written || !b.written) return (a.written ? 1 : 0) - (b.written ? 1 : 0)
  return compareHlc(a.timestamp, b.timestamp) || (a.replica < b.replica ? -1 : a.replica > b.replica ? 1 : 0)
}

export function joinLww(a: LwwRegister, b: LwwRegister): LwwRegister {
  return compareLww(a, b) >= 0 ? a : b
}

export function writeLwwRegister(encoder: encoding.Encoder, register: LwwRegister): void {
  writeUint(encoder, register.written ? 1 : 0)
  if (!register.written) return
  writeHlc(encoder, register.timestamp)
  writeId(encoder, register.replica)
  writeText(encoder, register.value)
}

export const lwwRegisterLimits = {
  /** A register's value: a put's value (limits.valueBytesMax) with its one-byte tag (core/replica/registerValue.ts). */
  valueBytesMax: limits.valueBytesMax + 1,
} as const

export function readLwwRegister(decoder: decoding.Decoder): LwwRegister {
  const written = readUint(decoder, 1, 'register written flag')
  if (written === 0) return emptyLwwRegister
  const timestamp = readHlc(decoder)
  const replica = readId(decoder, 'register replica')
  const value = readText(decoder, lwwRegisterLimits.valueBytesMax, 'register value')
  return { written: true, value, timestamp, replica }
}
