/**
 * Wire messages of the max-register engine.
 *
 *   push  (type 0)  varuint value   "this is my value; answer if yours is higher"
 *   reply (type 1)  varuint value   the answer to a push; never answered itself
 */
import type * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import { fail } from '../codec/decodeError.ts'
import { readUint, writeUint } from '../codec/fields.ts'
import { maxRegValueMax } from './config.ts'

export type MaxRegMessage = { readonly type: 'push'; readonly value: number } | { readonly type: 'reply'; readonly value: number }

const typeNumbers = { push: 0, reply: 1 } as const

export function maxRegMessageType(message: MaxRegMessage): number {
  return typeNumbers[message.type]
}

export function writeMaxRegBody(encoder: encoding.Encoder, message: MaxRegMessage): void {
  writeUint(encoder, message.value)
}

export function readMaxRegBody(type: number, decoder: decoding.Decoder): MaxRegMessage {
  const value = readUint(decoder, maxRegValueMax, 'value')
  if (type === typeNumbers.push) return { type: 'push', value }
  if (type === typeNumbers.reply) return { type: 'reply', value }
  return fail('unknownType', `maxreg has no message type ${type}`)
}
