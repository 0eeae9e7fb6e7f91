/**
 * What a replica puts into the Raft and PBFT logs, and what applying it answers.
 *
 *   command := uint8 kind, id origin, stamp, ...
 *     put     text key, text value
 *     delete  text key
 *     policy  id namespace, policy
 *     auto    text key, text value        (a hybrid-path write; its stamp is its LWW timestamp)
 *     configuration  configuration      (the whole next cluster configuration, clusterConfiguration.ts)
 *   stamp   := varuint wallMs, varuint logical   (the origin's hybrid clock: unique per origin, increasing)
 *   reply   := uint8 outcome, [varuint version | text code, text message]
 *
 * The stamp identifies a proposal: a non-auto command whose stamp its origin
 * already had applied is answered `duplicate` and changes nothing, so a
 * proposal that reaches the log twice (a duplicated forward) is applied once.
 */
import type * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import { decodeWith, encodeWith } from '../codec/envelope.ts'
import { readId, readText, readUint, writeId, writeText, writeUint } from '../codec/fields.ts'
import { readHlc, writeHlc, type Hlc } from '../crdt/hlc.ts'
import { limits } from '../lib/limits.ts'
import type { DecodeError } from '../codec/decodeError.ts'
import type { Result } from '../lib/result.ts'
import { readConfiguration, writeConfiguration, type ClusterConfiguration } from './clusterConfiguration.ts'
import { policyLimits, readPolicy, writePolicy, type Policy } from './policy.ts'

export const logCommandLimits = {
  /**
   * A value in a command: a put's value (at most limits.valueBytesMax) or, on
   * the auto path, the register's tagged form of it (registerValue.ts), one byte more.
   */
  valueBytesMax: limits.valueBytesMax + 1,
  messageBytesMax: 128,
} as const

interface CommandHead {
  readonly origin: string
  readonly stamp: Hlc
}

export type LogCommand =
  | (CommandHead & { readonly kind: 'put'; readonly key: string; readonly value: string })
  | (CommandHead & { readonly kind: 'delete'; readonly key: string })
  | (CommandHead & { readonly kind: 'policy'; readonly namespace: string; readonly policy: Policy })
  | (CommandHead & { readonly kind: 'auto'; readonly key: string; readonly value: string })
  /**
   * The next cluster configuration, whole (not a change to apply): it applies
   * only onto the version just below it, so two changes proposed from one
   * version cannot both apply, and a joiner that starts from a later version
   * than the log's first skips the ones it has.
   */
  | (CommandHead & { readonly kind: 'configuration'; readonly configuration: ClusterConfiguration })

const kinds = ['put', 'delete', 'policy', 'auto', 'configuration'] as const

export type LogReply =
  /** Applied; `version` counts every write the state machine applied, so it orders publications of one key (a configuration's: its own version). */
  | { readonly outcome: 'applied'; readonly version: number }
  /** The same proposal was applied before (it reached the log twice): applied once, and this is not a failure. */
  | { readonly outcome: 'duplicate' }
  | { readonly outcome: 'refused'; readonly code: string; readonly message: string }

const outcomes = ['applied', 'duplicate', 'refused'] as const

export function writeLogCommand(encoder: encoding.Encoder, command: LogCommand): void {
  writeUint(encoder, kinds.indexOf(command.kind))
  writeId(encoder, command.origin)
  writeHlc(encoder, command.stamp)
  switch (command.kind) {
    case 'put':
    case 'auto':
      writeText(encoder, command.key)
      writeText(encoder, command.value)
      return
    case 'delete':
      writeText(encoder, command.key)
      return
    case 'policy':
      writeId(encoder, command.namespace)
      writePolicy(encoder, command.policy)
      return
    case 'configuration':
      writeConfiguration(encoder, command.configuration)
  }
}

export function readLogCommand(decoder: decoding.Decoder): LogCommand {
  const kind = kinds[readUint(decoder, kinds.length - 1, 'command kind')]!
  const origin = readId(decoder, 'origin')
  const stamp = readHlc(decoder)
  switch (kind) {
    case 'put':
    case 'auto': {
      const key = readText(decoder, policyLimits.keyBytesMax, 'key')
      return { kind, origin, stamp, key, value: readText(decoder, logCommandLimits.valueBytesMax, 'value') }
    }
    case 'delete':
      return { kind, origin, stamp, key: readText(decoder, policyLimits.keyBytesMax, 'key') }
    case 'policy':
      return { kind, origin, stamp, namespace: readId(decoder, 'namespace'), policy: readPolicy(decoder) }
    case 'configuration':
      return { kind, origin, stamp, configuration: readConfiguration(decoder) }
  }
}

export function encodeLogCommand(command: LogCommand): Uint8Array {
  return encodeWith(command, writeLogCommand)
}

export function decodeLogCommand(bytes: Uint8Array): Result<LogCommand, DecodeError> {
  return decodeWith(bytes, readLogCommand, 'log command')
}

export function writeLogReply(encoder: encoding.Encoder, reply: LogReply): void {
  writeUint(encoder, outcomes.indexOf(reply.outcome))
  if (reply.outcome === 'applied') writeUint(encoder, reply.version)
  if (reply.outcome === 'refused') {
    writeText(encoder, reply.code)
    writeText(encoder, reply.message)
  }
}

export function readLogReply(decoder: decoding.Decoder): LogReply {
  const outcome = outcomes[readUint(decoder, outcomes.length - 1, 'outcome')]!
  if (outcome === 'applied') return { outcome, version: readUint(decoder, Number.MAX_SAFE_INTEGER, 'version') }
  if (outcome === 'duplicate') return { outcome }
  return { outcome, code: readText(decoder, logCommandLimits.messageBytesMax, 'code'), message: readText(decoder, logCommandLimits.messageBytesMax, 'message') }
}

export function encodeLogReply(reply: LogReply): Uint8Array {
  return encodeWith(reply, writeLogReply)
}

export function decodeLogReply(bytes: Uint8Array): Result<LogReply, DecodeError> {
  return decodeWith(bytes, readLogReply, 'log reply')
}

/** A read of one key: the query is the key, the answer its value (null: absent) and the version that wrote it. */
export interface KeyValue {
  readonly value: string | null
  readonly version: number
}

export function writeKeyValue(encoder: encoding.Encoder, held: KeyValue): void {
  writeUint(encoder, held.value === null ? 0 : 1)
  if (held.value !== null) writeText(encoder, held.value)
  writeUint(encoder, held.version)
}

export function readKeyValue(decoder: decoding.Decoder): KeyValue {
  const value = readUint(decoder, 1, 'present flag') === 1 ? readText(decoder, logCommandLimits.valueBytesMax, 'value') : null
  return { value, version: readUint(decoder, Number.MAX_SAFE_INTEGER, 'version') }
}
