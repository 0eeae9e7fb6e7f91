/**
 * The peer frame: a versioned envelope around one engine message.
 *
 *   varuint  protocol version   (protocolVersion)
 *   id       cluster id         (length-prefixed ASCII, see isValidId)
 *   id       from               node id of the sender
 *   id       to                 node id of the receiver
 *   varuint  engine             see engineIds
 *   varuint  type               engine-defined, < messageTypesMax
 *   bytes    body               length-prefixed, <= bodyBytesMax, engine-defined
 *
 * Nothing may follow the body. A message whose frame would pass frameBytesMax
 * is encoded the same way with a body up to messageBytesMax and travels as
 * chunk frames (chunks.ts). Authentication (a MAC or signature over the
 * frame) is the transport's job and wraps the frame; it is not part of it.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { assert, assertFailed } from '../lib/assert.ts'
import { isValidId, limits } from '../lib/limits.ts'
import { ok, type Result } from '../lib/result.ts'
import { decodeErr, fail, type DecodeError } from './decodeError.ts'
import { engineName, type EngineId } from './engineIds.ts'
import { copyWrittenBytes, releaseScratchEncoder, takeScratchEncoder } from './scratch.ts'
import { expectEnd, readBytes, readId, readUint, readVarUint, writeBytes, writeId, writeUint } from './fields.ts'

export const protocolVersion = 1

export interface Envelope {
  readonly version: number
  readonly clusterId: string
  readonly from: string
  readonly to: string
  readonly engine: EngineId
  readonly type: number
  readonly body: Uint8Array
}

export function writeEnvelope(encoder: encoding.Encoder, envelope: Envelope, bodyBytesMax: number = limits.bodyBytesMax): void {
  // Assert on the sending side too: a frame we could not decode must never leave.
  if (envelope.version !== protocolVersion) assertFailed(`envelope version ${envelope.version} is not ${protocolVersion}`)
  if (!isValidId(envelope.clusterId)) assertFailed(`invalid cluster id ${JSON.stringify(envelope.clusterId)}`)
  assert(isValidId(envelope.from) && isValidId(envelope.to), 'invalid node id in envelope')
  if (engineName(envelope.engine) === undefined) assertFailed(`unknown engine ${envelope.engine}`)
  if (envelope.type < 0 || envelope.type >= limits.messageTypesMax) assertFailed(`message type ${envelope.type} out of range`)
  if (envelope.body.length > bodyBytesMax) assertFailed(`body of ${envelope.body.length} bytes above ${bodyBytesMax === limits.bodyBytesMax ? 'bodyBytesMax' : 'messageBytesMax'}`)
  writeUint(encoder, envelope.version)
  writeId(encoder, envelope.clusterId)
  writeId(encoder, envelope.from)
  writeId(encoder, envelope.to)
  writeUint(encoder, envelope.engine)
  writeUint(encoder, envelope.type)
  writeBytes(encoder, envelope.body)
}

/** Reads an envelope; `bodyBytesMax` is raised to messageBytesMax for a message reassembled from chunks. */
export function readEnvelope(decoder: decoding.Decoder, bodyBytesMax: number = limits.bodyBytesMax): Envelope {
  const version = readVarUint(decoder, 'protocol version')
  if (version !== protocolVersion) fail('unsupportedVersion', `protocol version ${version}, this build speaks ${protocolVersion}`)
  const clusterId = readId(decoder, 'cluster id')
  const from = readId(decoder, 'from')
  const to = readId(decoder, 'to')
  const engineNumber = readVarUint(decoder, 'engine')
  if (engineName(engineNumber) === undefined) fail('unknownEngine', `engine ${engineNumber} is not known`)
  const type = readUint(decoder, limits.messageTypesMax - 1, 'message type')
  const body = readBytes(decoder, bodyBytesMax, 'body')
  return { version, clusterId, from, to, engine: engineNumber as EngineId, type, body }
}

export function encodeFrame(envelope: Envelope): Uint8Array {
  const frame = encodeWith(envelope, writeEnvelope)
  if (frame.length > limits.frameBytesMax) assertFailed(`frame of ${frame.length} bytes above frameBytesMax`)
  return frame
}

/** Decodes one whole frame. Never throws; never returns a partial envelope. */
export function decodeFrame(frame: Uint8Array): Result<Envelope, DecodeError> {
  if (frame.length > limits.frameBytesMax) {
    return { ok: false, error: { code: 'oversized', message: `frame of ${frame.length} bytes, limit frameBytesMax=${limits.frameBytesMax}` } }
  }
  return decodeWith(frame, readEnvelope, 'frame')
}

/** Runs a strict reader over a whole input; the shared entry point for every body decoder. */
export function decodeWith<T>(bytes: Uint8Array, read: (decoder: decoding.Decoder) => T, what: string): Result<T, DecodeError> {
  try {
    const decoder = decoding.createDecoder(bytes)
    const value = read(decoder)
    expectEnd(decoder, what)
    return ok(value)
  } catch (thrown) {
    return decodeErr(thrown)
  }
}

/** Encodes with a writer into a fresh byte array of exactly the written length; the twin of `decodeWith`. */
export function encodeWith<T>(value: T, write: (encoder: encoding.Encoder, value: T) => void): Uint8Array {
  const encoder = takeScratchEncoder()
  try {
    write(encoder, value)
    return copyWrittenBytes(encoder)
  } finally {
    releaseScratchEncoder(encoder)
  }
}
