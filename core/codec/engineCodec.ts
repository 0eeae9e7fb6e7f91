/**
 * How one engine's messages travel inside the envelope, and the two
 * functions every host uses to put them on the wire and take them off.
 */
import type * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import { err, ok, type Result } from '../lib/result.ts'
import type { DecodeError } from './decodeError.ts'
import type { EngineId } from './engineIds.ts'
import { decodeFrame, decodeWith, encodeFrame, protocolVersion, type Envelope } from './envelope.ts'
import { withScratchEncoder, writtenBytes } from './scratch.ts'

export interface EngineCodec<M> {
  readonly engine: EngineId
  typeOf(message: M): number
  writeBody(encoder: encoding.Encoder, message: M): void
  /** Reads a body of `type`; throws through `fail` for unknown types and bad fields. */
  readBody(type: number, decoder: decoding.Decoder): M
  /** One short line for traces and logs. */
  describe(message: M): string
}

export interface FrameAddress {
  readonly clusterId: string
  readonly from: string
  readonly to: string
}

export function writeMessageFrame<M>(codec: EngineCodec<M>, address: FrameAddress, message: M): Uint8Array {
  // The body is written into a scratch encoder and copied once, straight into the frame.
  return withScratchEncoder((bodyEncoder) => {
    codec.writeBody(bodyEncoder, message)
    const envelope: Envelope = {
      version: protocolVersion,
      clusterId: address.clusterId,
      from: address.from,
      to: address.to,
      engine: codec.engine,
      type: codec.typeOf(message),
      body: writtenBytes(bodyEncoder),
    }
    return encodeFrame(envelope)
  })
}

export interface DecodedMessage<M> extends FrameAddress {
  readonly message: M
}

/** Decodes a frame meant for `codec`'s engine; never throws. */
export function readMessageFrame<M>(codec: EngineCodec<M>, frame: Uint8Array): Result<DecodedMessage<M>, DecodeError> {
  const envelope = decodeFrame(frame)
  if (!envelope.ok) return envelope
  const { clusterId, from, to, engine, type, body } = envelope.value
  if (engine !== codec.engine) return err({ code: 'unknownEngine', message: `frame for engine ${engine}, expected ${codec.engine}` })
  const message = decodeWith(body, (decoder) => codec.readBody(type, decoder), 'body')
  if (!message.ok) return message
  return ok({ clusterId, from, to, message: message.value })
}
