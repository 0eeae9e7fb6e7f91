/**
 * Wire messages of the CRDT engine (delta-state anti-entropy with a digest
 * fallback). Entry lists travel as one compressed payload.
 *
 *   delta  (0)  varuint fromSeq, varuint toSeq, payload(entries)
 *               "the deltas of my interval [fromSeq, toSeq)"; answered by ack(toSeq)
 *   ack    (1)  varuint seq            "I have joined everything of yours before seq"
 *   digest (2)  varuint seq, store digest, [key, digest]*
 *               "this is what I hold (as of my seq)"; answered by state
 *   state  (3)  varuint ackSeq, varuint echoSeq, payload(entries), [requested key]*
 *               full values of keys that differ, and a request for the receiver's
 *               values of `requested`. Once the receiver has joined the entries it
 *               acknowledges ackSeq (0: nothing); it answers a request with a state
 *               whose ackSeq is this message's echoSeq (the seq of its own digest)
 *   awareness (4)  text key, bytes update
 *               a y-protocols awareness update of document `key` (see awareness.ts):
 *               relayed to every peer, never stored, never acknowledged
 *
 * entries := varuint count, (text key, delta)*
 */
import * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import { fail } from '../codec/decodeError.ts'
import { decodeWith, encodeWith } from '../codec/envelope.ts'
import { readBytes, readText, readUint, writeBytes, writeText, writeUint } from '../codec/fields.ts'
import { readCompressedFrame, writeCompressedFrame } from '../compression.ts'
import type { DecodeError } from '../codec/decodeError.ts'
import { limits } from '../lib/limits.ts'
import type { Result } from '../lib/result.ts'
import { readDelta, writeDelta, type Delta } from './value.ts'
import { awarenessLimits } from './awareness.ts'

export const crdtMessageLimits = {
  /** Keys in one digest and one entries list (a store's keysMax must not exceed it). */
  keysMax: 4096,
  /** A key's UTF-8 length: with keysMax, a whole-store digest stays inside one frame. */
  keyBytesMax: 192,
  /**
   * Compressed payload of one message, with room for the envelope: a message
   * always takes one entry, and one entry may be a document of docBytesMax;
   * above a frame it travels chunked (core/codec/chunks.ts).
   */
  payloadBytesMax: limits.docBytesMax + 64 * 1024,
  /**
   * Uncompressed entries the engine puts in one delta or state message. Well
   * under the frame limit, so a message fits even when compression gains nothing.
   */
  entriesBytesMax: 256 * 1024,
  digestHexLength: 16,
} as const

export interface Entry {
  readonly key: string
  readonly delta: Delta
}

export type CrdtMessage =
  | { readonly type: 'delta'; readonly fromSeq: number; readonly toSeq: number; readonly payload: Uint8Array }
  | { readonly type: 'ack'; readonly seq: number }
  | { readonly type: 'digest'; readonly seq: number; readonly storeDigest: string; readonly keys: readonly (readonly [string, string])[] }
  | { readonly type: 'state'; readonly ackSeq: number; readonly echoSeq: number; readonly payload: Uint8Array; readonly requested: readonly string[] }
  | { readonly type: 'awareness'; readonly key: string; readonly update: Uint8Array }

const typeNumbers = { delta: 0, ack: 1, digest: 2, state: 3, awareness: 4 } as const

export function crdtMessageType(message: CrdtMessage): number {
  return typeNumbers[message.type]
}

export function writeCrdtBody(encoder: encoding.Encoder, message: CrdtMessage): void {
  switch (message.type) {
    case 'delta':
      writeUint(encoder, message.fromSeq)
      writeUint(encoder, message.toSeq)
      return writeBytes(encoder, message.payload)
    case 'ack':
      return writeUint(encoder, message.seq)
    case 'digest':
      writeUint(encoder, message.seq)
      writeText(encoder, message.storeDigest)
      writeUint(encoder, message.keys.length)
      for (const [key, digest] of message.keys) {
        writeText(encoder, key)
        writeText(encoder, digest)
      }
      return
    case 'state':
      writeUint(encoder, message.ackSeq)
      writeUint(encoder, message.echoSeq)
      writeBytes(encoder, message.payload)
      writeUint(encoder, message.requested.length)
      for (const key of message.requested) writeText(encoder, key)
      return
    case 'awareness':
      writeText(encoder, message.key)
      return writeBytes(encoder, message.update)
  }
}

export function readCrdtBody(type: number, decoder: decoding.Decoder): CrdtMessage {
  const seqMax = Number.MAX_SAFE_INTEGER
  switch (type) {
    case typeNumbers.delta: {
      const fromSeq = readUint(decoder, seqMax, 'fromSeq')
      const toSeq = readUint(decoder, seqMax, 'toSeq')
      if (toSeq <= fromSeq) fail('invalidField', `delta interval [${fromSeq}, ${toSeq}) is empty`)
      return { type: 'delta', fromSeq, toSeq, payload: readBytes(decoder, crdtMessageLimits.payloadBytesMax, 'delta payload') }
    }
    case typeNumbers.ack:
      return { type: 'ack', seq: readUint(decoder, seqMax, 'ack seq') }
    case typeNumbers.digest: {
      const seq = readUint(decoder, seqMax, 'digest seq')
      const storeDigest = readDigest(decoder)
      const count = readUint(decoder, crdtMessageLimits.keysMax, 'digest keys')
      const keys: [string, string][] = []
      for (let index = 0; index < count; index++) keys.push([readText(decoder, crdtMessageLimits.keyBytesMax, 'key'), readDigest(decoder)])
      return { type: 'digest', seq, storeDigest, keys }
    }
    case typeNumbers.state: {
      const ackSeq = readUint(decoder, seqMax, 'state ackSeq')
      const echoSeq = readUint(decoder, seqMax, 'state echoSeq')
      const payload = readBytes(decoder, crdtMessageLimits.payloadBytesMax, 'state payload')
      const count = readUint(decoder, crdtMessageLimits.keysMax, 'requested keys')
      const requested: string[] = []
      for (let index = 0; index < count; index++) requested.push(readText(decoder, crdtMessageLimits.keyBytesMax, 'requested key'))
      return { type: 'state', ackSeq, echoSeq, payload, requested }
    }
    case typeNumbers.awareness: {
      const key = readText(decoder, crdtMessageLimits.keyBytesMax, 'awareness key')
      return { type: 'awareness', key, update: readBytes(decoder, awarenessLimits.awarenessBytesMax, 'awareness update') }
    }
    default:
      return fail('unknownType', `crdt has no message type ${type}`)
  }
}

function readDigest(decoder: decoding.Decoder): string {
  const digest = readText(decoder, crdtMessageLimits.digestHexLength, 'digest')
  if (!/^[0-9a-f]{16}$/.test(digest)) fail('invalidField', 'a digest is 16 hex digits')
  return digest
}

/** Encodes an entry list, uncompressed. */
export function encodeEntries(entries: readonly Entry[]): Uint8Array {
  return encodeWith(entries, (encoder, list) => {
    writeUint(encoder, list.length)
    for (const { key, delta } of list) {
      writeText(encoder, key)
      writeDelta(encoder, delta)
    }
  })
}

/** Encodes and compresses an entry list (the payload of delta and state messages). */
export function writeEntries(entries: readonly Entry[]): Uint8Array {
  return writeCompressedFrame(encodeEntries(entries))
}

export function readEntries(payload: Uint8Array): Result<Entry[], DecodeError> {
  const raw = readCompressedFrame(payload)
  if (!raw.ok) return raw
  return decodeWith(
    raw.value,
    (decoder) => {
      const count = readUint(decoder, crdtMessageLimits.keysMax, 'entries')
      const entries: Entry[] = []
      for (let index = 0; index < count; index++) entries.push({ key: readText(decoder, crdtMessageLimits.keyBytesMax, 'key'), delta: readDelta(decoder) })
      return entries
    },
    'entries',
  )
}

export function describeCrdtMessage(message: CrdtMessage): string {
  switch (message.type) {
    case 'delta':
      return `delta [${message.fromSeq},${message.toSeq}) ${message.payload.length}B`
    case 'ack':
      return `ack ${message.seq}`
    case 'digest':
      return `digest seq=${message.seq} ${message.keys.length} keys`
    case 'state':
      return `state ackSeq=${message.ackSeq} echoSeq=${message.echoSeq} ${message.payload.length}B requested=${message.requested.length}`
    case 'awareness':
      return `awareness ${message.key} ${message.update.length}B`
  }
}
