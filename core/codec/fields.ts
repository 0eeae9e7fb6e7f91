/**
 * Strict field readers and their writers, side by side. Each readX checks
 * bounds and limits before it trusts a length, so a hostile length prefix can
 * neither allocate nor read past the frame.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as string from 'lib0/string'
import { isIdCharCode, limits } from '../lib/limits.ts'
import { fail } from './decodeError.ts'

export function writeUint(encoder: encoding.Encoder, value: number): void {
  encoding.writeVarUint(encoder, value)
}

/** Bytes `writeUint` writes for `value` (sizes stand beside their writers, for metrics that must not encode). */
export function uintBytes(value: number): number {
  let bytes = 1
  while (value >= 0x80) {
    value = Math.floor(value / 0x80)
    bytes++
  }
  return bytes
}

/**
 * writeUint straight into `out` at `at`, an array sized with uintBytes (for
 * records written on every commit: no encoder, no copy); the same bytes.
 * Returns the position after it.
 */
export function putUint(out: Uint8Array, at: number, value: number): number {
  while (value >= 0x80) {
    out[at++] = (value & 0x7f) | 0x80
    value = Math.floor(value / 0x80)
  }
  out[at++] = value
  return at
}

/**
 * A varuint (lib0's layout: 7 bits a byte, low first) in its shortest form.
 * Overlong forms are refused, so every value has exactly one encoding and a
 * decoded frame re-encodes to the same bytes (signatures rely on that).
 */
export function readVarUint(decoder: decoding.Decoder, what: string): number {
  const bytes = decoder.arr
  let value = 0
  let multiplier = 1
  for (let index = 0; ; index++) {
    if (decoder.pos >= bytes.length) fail('truncated', `input ended inside ${what}`)
    const byte = bytes[decoder.pos++]!
    value += (byte & 0x7f) * multiplier
    if (byte < 0x80) {
      if (byte === 0 && index > 0) fail('invalidField', `${what} is not in its shortest encoding`)
      if (value > Number.MAX_SAFE_INTEGER) fail('invalidField', `${what} is above 2^53 - 1`)
      return value
    }
    multiplier *= 128
    if (index >= 7) fail('invalidField', `${what} is longer than 8 bytes`)
  }
}

/** A varuint no larger than `max` (inclusive). */
export function readUint(decoder: decoding.Decoder, max: number, what: string): number {
  const value = readVarUint(decoder, what)
  if (value > max) fail('invalidField', `${what} ${value} is above its limit ${max}`)
  return value
}

/** Ids are ASCII tokens, so they are written as raw bytes behind a length. */
export function writeId(encoder: encoding.Encoder, id: string): void {
  encoding.writeVarUint(encoder, id.length)
  for (let i = 0; i < id.length; i++) encoding.writeUint8(encoder, id.charCodeAt(i))
}

export function idBytes(id: string): number {
  return uintBytes(id.length) + id.length
}

export function readId(decoder: decoding.Decoder, what: string): string {
  const length = readVarUint(decoder, what)
  if (length === 0) fail('invalidField', `${what} is empty`)
  if (length > limits.idBytesMax) fail('oversized', `${what} is ${length} bytes, limit idBytesMax=${limits.idBytesMax}`)
  if (length > remaining(decoder)) fail('truncated', `${what} runs past the end of the input`)
  let id = ''
  for (let i = 0; i < length; i++) {
    const code = decoder.arr[decoder.pos + i]!
    if (!isIdCharCode(code)) fail('invalidField', `${what} has byte 0x${code.toString(16)} outside [A-Za-z0-9._-]`)
    id += String.fromCharCode(code)
  }
  decoder.pos += length
  return id
}

export function writeBytes(encoder: encoding.Encoder, bytes: Uint8Array): void {
  encoding.writeVarUint(encoder, bytes.length)
  // Straight into the current buffer when it fits: lib0's writeUint8Array makes a view of `bytes` on every call.
  if (encoder.cbuf.length - encoder.cpos >= bytes.length) {
    encoder.cbuf.set(bytes, encoder.cpos)
    encoder.cpos += bytes.length
  } else encoding.writeUint8Array(encoder, bytes)
}

export function bytesBytes(bytes: Uint8Array): number {
  return uintBytes(bytes.length) + bytes.length
}

/** writeBytes straight into a sized array (see putUint). */
export function putBytes(out: Uint8Array, at: number, bytes: Uint8Array): number {
  const from = putUint(out, at, bytes.length)
  out.set(bytes, from)
  return from + bytes.length
}

/** Length-prefixed bytes of at most `bytesMax`; returns a copy, never a view into the frame. */
export function readBytes(decoder: decoding.Decoder, bytesMax: number, what: string): Uint8Array {
  const length = readVarUint(decoder, what)
  if (length > bytesMax) fail('oversized', `${what} is ${length} bytes, limit ${bytesMax}`)
  if (length > remaining(decoder)) fail('truncated', `${what} runs past the end of the input`)
  const bytes = decoder.arr.slice(decoder.pos, decoder.pos + length)
  decoder.pos += length
  return bytes
}

/** UTF-8 text behind a byte length. */
export function writeText(encoder: encoding.Encoder, text: string): void {
  // lib0's writeVarString writes the same bytes (length, then UTF-8) without allocating for short strings.
  encoding.writeVarString(encoder, text)
}

export function textBytes(text: string): number {
  const length = utf8Length(text)
  return uintBytes(length) + length
}

/** UTF-8 bytes of `text` (without the length prefix `textBytes` counts too): what readText's bytesMax bounds. */
export function utf8Length(text: string): number {
  let length = 0
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index)
    if (code < 0x80) length += 1
    else if (code < 0x800) length += 2
    else if (code >= 0xd800 && code <= 0xdbff && index + 1 < text.length && (text.charCodeAt(index + 1) & 0xfc00) === 0xdc00) {
      length += 4 // a surrogate pair: one code point of four bytes
      index++
    } else length += 3 // the rest of the BMP, and lone surrogates (encoded as U+FFFD)
  }
  return length
}

export function readText(decoder: decoding.Decoder, bytesMax: number, what: string): string {
  const length = readVarUint(decoder, what)
  if (length > bytesMax) fail('oversized', `${what} is ${length} bytes, limit ${bytesMax}`)
  if (length > remaining(decoder)) fail('truncated', `${what} runs past the end of the input`)
  const text = length <= asciiFastPathBytesMax ? decodeShort(decoder.arr, decoder.pos, length) : string.decodeUtf8(decoder.arr.subarray(decoder.pos, decoder.pos + length))
  decoder.pos += length
  return text
}

/** Short texts (ids, keys) are mostly ASCII: built from char codes, they skip TextDecoder's per-call cost. */
const asciiFastPathBytesMax = 64

function decodeShort(bytes: Uint8Array, start: number, length: number): string {
  let text = ''
  for (let index = start; index < start + length; index++) {
    const byte = bytes[index]!
    if (byte >= 0x80) return string.decodeUtf8(bytes.subarray(start, start + length))
    text += String.fromCharCode(byte)
  }
  return text
}

export function remaining(decoder: decoding.Decoder): number {
  return decoder.arr.length - decoder.pos
}

export function expectEnd(decoder: decoding.Decoder, what: string): void {
  const left = remaining(decoder)
  if (left !== 0) fail('trailingBytes', `${left} bytes after the end of ${what}`)
}

/** `parts` one after another in one array (transcripts that are signed or MACed). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}
