/**
 * Probe wire messages: how a node measures the round trip to a peer.
 *
 *   probe    (0) seq, sentAtMs     "answer me"; answered by probeAck
 *   probeAck (1) seq, sentAtMs     the probe's fields echoed unchanged
 *
 * sentAtMs is the prober's clock in whole ms. It travels only so the prober
 * can check an answer against the probe it sent; the round trip is measured
 * from the send time the prober kept, never from what a peer sends back.
 */
import type * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import { fail } from '../codec/decodeError.ts'
import { decodeWith, encodeWith } from '../codec/envelope.ts'
import { readUint, writeUint } from '../codec/fields.ts'
import type { DecodeError } from '../codec/decodeError.ts'
import { assertFailed } from '../lib/assert.ts'
import type { Result } from '../lib/result.ts'

export interface ProbeMessage {
  readonly type: 'probe' | 'probeAck'
  readonly seq: number
  readonly sentAtMs: number
}

export const probeMessageTypes = { probe: 0, probeAck: 1 } as const satisfies Record<ProbeMessage['type'], number>

export const probeMessageLimits = {
  /** Sequence numbers count probes: 2^53 - 1 lasts millennia at any probe rate. */
  seqMax: Number.MAX_SAFE_INTEGER,
  /** Any epoch-ms time fits a varuint of at most 8 bytes. */
  sentAtMsMax: Number.MAX_SAFE_INTEGER,
} as const

export function probeMessageType(message: ProbeMessage): number {
  return probeMessageTypes[message.type]
}

/** The body (the type goes in the envelope). Asserts on the sending side too: a body the reader would refuse must never leave. */
export function writeProbeMessage(encoder: encoding.Encoder, message: ProbeMessage): void {
  if (!isWireUint(message.seq, probeMessageLimits.seqMax)) assertFailed(`probe seq ${message.seq} is not an integer in [0, seqMax]`)
  if (!isWireUint(message.sentAtMs, probeMessageLimits.sentAtMsMax)) assertFailed(`probe sentAtMs ${message.sentAtMs} is not an integer in [0, sentAtMsMax]`)
  writeUint(encoder, message.seq)
  writeUint(encoder, message.sentAtMs)
}

export function readProbeMessage(decoder: decoding.Decoder, type: number): ProbeMessage {
  if (type !== probeMessageTypes.probe && type !== probeMessageTypes.probeAck) return fail('unknownType', `probing has no message type ${type}`)
  const seq = readUint(decoder, probeMessageLimits.seqMax, 'probe seq')
  const sentAtMs = readUint(decoder, probeMessageLimits.sentAtMsMax, 'probe sentAtMs')
  return { type: type === probeMessageTypes.probe ? 'probe' : 'probeAck', seq, sentAtMs }
}

export function encodeProbeMessage(message: ProbeMessage): Uint8Array {
  return encodeWith(message, writeProbeMessage)
}

/** Decodes one whole body of the given type. Never throws. */
export function decodeProbeMessage(body: Uint8Array, type: number): Result<ProbeMessage, DecodeError> {
  return decodeWith(body, (decoder) => readProbeMessage(decoder, type), 'probe message')
}

/** Whether the fields of `message` could have come off the wire: what `handleMessage` accepts from a host that skipped the codec. */
export function isWellFormedProbeMessage(message: ProbeMessage): boolean {
  return (message.type === 'probe' || message.type === 'probeAck') && isWireUint(message.seq, probeMessageLimits.seqMax) && isWireUint(message.sentAtMs, probeMessageLimits.sentAtMsMax)
}

export function describeProbeMessage(message: ProbeMessage): string {
  return `${message.type} #${message.seq} sent@${message.sentAtMs}ms`
}

function isWireUint(value: number, max: number): boolean {
  return Number.isSafeInteger(value) && value >= 0 && value <= max
}
