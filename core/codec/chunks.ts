/**
 * Messages larger than one frame. A message whose frame would pass
 * frameBytesMax is encoded as one "message frame" (the same envelope, its body
 * up to messageBytesMax), cut into pieces of chunkPieceBytes, and each piece
 * sent in a chunk frame of its own: an envelope whose engine is `chunk`.
 *
 *   chunk body := varuint messageId   the sender's number for the message (not reused while chunks may be in flight)
 *                 varuint index       0 ≤ index < count
 *                 varuint count       ceil(messageBytes / chunkPieceBytes), 2 ≤ count ≤ chunksPerMessageMax
 *                 varuint messageBytes  the whole message frame's length, ≤ messageBytesMax
 *                 uint32  checksum    FNV-1a of the whole message frame
 *                 bytes   piece       chunkPieceBytes bytes (the last piece: the rest)
 *
 * The receiver (ChunkReassembler) keeps partial messages per sender and
 * message id in a bounded buffer: at most reassemblyMessagesMax of them and
 * reassemblyBytesMax reserved bytes (a partial reserves its whole declared
 * size on its first chunk, since that is what it allocates). A new message
 * that does not fit evicts the oldest partials; one that could never fit is
 * refused. Duplicated chunks are ignored, reordered ones are placed, a chunk
 * whose header disagrees with its message's drops the message, and a whole
 * message is handed over only when its checksum matches and its envelope names
 * the same cluster, sender and receiver as its chunks. A lost chunk leaves a
 * partial that the oldest-first eviction removes: the engines above recover
 * from a lost message as they do from any loss.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { assertFailed } from '../lib/assert.ts'
import { fnv1a32Bytes } from '../lib/hash.ts'
import { limits } from '../lib/limits.ts'
import { err, ok, type Result } from '../lib/result.ts'
import { fail, type DecodeError } from './decodeError.ts'
import type { DecodedMessage, EngineCodec, FrameAddress } from './engineCodec.ts'
import { engineIds } from './engineIds.ts'
import { decodeFrame, decodeWith, encodeFrame, encodeWith, protocolVersion, readEnvelope, writeEnvelope, type Envelope } from './envelope.ts'
import { expectEnd, readBytes, readUint, readVarUint, writeBytes, writeUint } from './fields.ts'
import { withScratchEncoder, writtenBytes } from './scratch.ts'

/** Bytes of a message frame carried by one chunk: a frame with its envelope and chunk header (≤ 256 bytes) stays under frameBytesMax. */
const chunkPieceBytes = limits.frameBytesMax - 1024

export const chunkLimits = {
  chunkPieceBytes,
  /** Chunks of one message: enough for messageBytesMax. */
  chunksPerMessageMax: Math.ceil(limits.messageBytesMax / chunkPieceBytes),
  /** Bytes reserved by partial messages at one receiver: one largest message and room beside it. */
  reassemblyBytesMax: limits.messageBytesMax + 16 * 1024 * 1024,
  /** Partial messages held at one receiver; a new one beyond it evicts the oldest. */
  reassemblyMessagesMax: 64,
  /** Messages completed recently whose late (duplicated) chunks are dropped instead of opening a partial. */
  completedRememberedMax: 256,
} as const

/** The frames that carry `message`: one frame, or chunk frames when its frame would pass frameBytesMax. */
export function writeMessageFrames<M>(codec: EngineCodec<M>, address: FrameAddress, message: M, messageId: number): Uint8Array[] {
  return withScratchEncoder((bodyEncoder) => {
    codec.writeBody(bodyEncoder, message)
    const envelope: Envelope = { version: protocolVersion, ...pickAddress(address), engine: codec.engine, type: codec.typeOf(message), body: writtenBytes(bodyEncoder) }
    if (envelope.body.length <= limits.bodyBytesMax) {
      const frame = encodeEnvelope(envelope, limits.bodyBytesMax)
      if (frame.length <= limits.frameBytesMax) return [frame]
    }
    const whole = encodeEnvelope(envelope, limits.messageBytesMax)
    if (whole.length > limits.messageBytesMax) assertFailed(`a message of ${whole.length} bytes is above messageBytesMax=${limits.messageBytesMax}`)
    return writeChunkFrames(address, whole, messageId)
  })
}

function pickAddress(address: FrameAddress): FrameAddress {
  return { clusterId: address.clusterId, from: address.from, to: address.to }
}

function encodeEnvelope(envelope: Envelope, bodyBytesMax: number): Uint8Array {
  return encodeWith(envelope, (encoder, held) => writeEnvelope(encoder, held, bodyBytesMax))
}

export interface Chunk {
  readonly messageId: number
  readonly index: number
  readonly count: number
  readonly messageBytes: number
  readonly checksum: number
  readonly piece: Uint8Array
}

export function writeChunk(encoder: encoding.Encoder, chunk: Chunk): void {
  writeUint(encoder, chunk.messageId)
  writeUint(encoder, chunk.index)
  writeUint(encoder, chunk.count)
  writeUint(encoder, chunk.messageBytes)
  encoding.writeUint32(encoder, chunk.checksum)
  writeBytes(encoder, chunk.piece)
}

export function readChunk(decoder: decoding.Decoder): Chunk {
  const messageId = readUint(decoder, Number.MAX_SAFE_INTEGER, 'message id')
  const index = readUint(decoder, chunkLimits.chunksPerMessageMax - 1, 'chunk index')
  const count = readVarUint(decoder, 'chunk count')
  const messageBytes = readVarUint(decoder, 'message bytes')
  if (messageBytes > limits.messageBytesMax) fail('oversized', `a message of ${messageBytes} bytes; messageBytesMax is ${limits.messageBytesMax}`)
  if (count > chunkLimits.chunksPerMessageMax) fail('oversized', `a message in ${count} chunks; chunksPerMessageMax is ${chunkLimits.chunksPerMessageMax}`)
  if (decoder.arr.length - decoder.pos < 4) fail('truncated', 'chunk checksum is cut short')
  const checksum = decoding.readUint32(decoder)
  const piece = readBytes(decoder, chunkPieceBytes, 'chunk piece')
  if (count !== Math.ceil(messageBytes / chunkPieceBytes) || count < 2) fail('invalidField', `chunk count ${count} does not fit a message of ${messageBytes} bytes`)
  if (index >= count) fail('invalidField', `chunk index ${index} of ${count}`)
  const expected = index < count - 1 ? chunkPieceBytes : messageBytes - (count - 1) * chunkPieceBytes
  if (piece.length !== expected) fail('invalidField', `chunk ${index} of ${count} has ${piece.length} bytes, expected ${expected}`)
  return { messageId, index, count, messageBytes, checksum, piece }
}

/** Cuts one message frame into chunk frames addressed as the message is. */
export function writeChunkFrames(address: FrameAddress, whole: Uint8Array, messageId: number): Uint8Array[] {
  const count = Math.ceil(whole.length / chunkPieceBytes)
  if (count < 2 || count > chunkLimits.chunksPerMessageMax) assertFailed(`a message of ${whole.length} bytes makes ${count} chunks`)
  const checksum = fnv1a32Bytes(whole)
  const frames: Uint8Array[] = []
  for (let index = 0; index < count; index++) {
    const piece = whole.subarray(index * chunkPieceBytes, Math.min(whole.length, (index + 1) * chunkPieceBytes))
    const body = withScratchEncoder((encoder) => {
      writeChunk(encoder, { messageId, index, count, messageBytes: whole.length, checksum, piece })
      return encoding.toUint8Array(encoder)
    })
    frames.push(encodeFrame({ version: protocolVersion, ...pickAddress(address), engine: engineIds.chunk, type: 0, body }))
  }
  return frames
}

export interface ReassemblyMetrics {
  /** Chunk frames taken. */
  chunks: number
  /** Messages handed over whole. */
  reassembled: number
  /** Chunks already held, or of a message already handed over. */
  duplicates: number
  /** Chunks or messages refused: malformed, disagreeing with their message, a bad checksum or address, or larger than the buffer. */
  refused: number
  /** Partial messages evicted, oldest first, to make room. */
  evicted: number
}

interface Partial {
  readonly key: string
  readonly address: FrameAddress
  readonly count: number
  readonly checksum: number
  readonly bytes: Uint8Array
  readonly received: Uint8Array
  receivedCount: number
}

/** A receiver's bounded buffer of partial messages; one per node (its state is lost with the node, as in-flight messages are). */
export class ChunkReassembler {
  readonly metrics: ReassemblyMetrics = { chunks: 0, reassembled: 0, duplicates: 0, refused: 0, evicted: 0 }
  /** In arrival order of their first chunk: the first is the oldest. */
  private readonly partials = new Map<string, Partial>()
  private readonly completed = new Set<string>()
  private reservedBytes = 0

  /** Partial messages held now and the bytes they reserve. */
  get held(): { readonly messages: number; readonly bytes: number } {
    return { messages: this.partials.size, bytes: this.reservedBytes }
  }

  /**
   * Takes a chunk frame's envelope: the whole message frame when this chunk
   * completes it, null while it is incomplete (or the chunk was a duplicate), or
   * why the chunk or its message was refused.
   */
  accept(envelope: Envelope): Result<Uint8Array | null, DecodeError> {
    this.metrics.chunks++
    const decoded = decodeWith(envelope.body, readChunk, 'chunk')
    if (!decoded.ok) return this.refuse(decoded.error)
    const chunk = decoded.value
    const key = `${envelope.from}>${envelope.to}/${chunk.messageId}`
    if (this.completed.has(key)) {
      this.metrics.duplicates++
      return ok(null)
    }
    let partial = this.partials.get(key)
    if (partial === undefined) {
      if (chunk.messageBytes > chunkLimits.reassemblyBytesMax) return this.refuse({ code: 'oversized', message: `a message of ${chunk.messageBytes} bytes, reassemblyBytesMax=${chunkLimits.reassemblyBytesMax}` })
      while (this.partials.size > 0 && (this.partials.size >= chunkLimits.reassemblyMessagesMax || this.reservedBytes + chunk.messageBytes > chunkLimits.reassemblyBytesMax)) {
        this.drop(this.partials.values().next().value!)
        this.metrics.evicted++
      }
      partial = {
        key,
        address: { clusterId: envelope.clusterId, from: envelope.from, to: envelope.to },
        count: chunk.count,
        checksum: chunk.checksum,
        bytes: new Uint8Array(chunk.messageBytes),
        received: new Uint8Array(chunk.count),
        receivedCount: 0,
      }
      this.partials.set(key, partial)
      this.reservedBytes += chunk.messageBytes
    } else if (partial.count !== chunk.count || partial.bytes.length !== chunk.messageBytes || partial.checksum !== chunk.checksum || partial.address.clusterId !== envelope.clusterId) {
      this.drop(partial)
      return this.refuse({ code: 'invalidField', message: `chunk ${chunk.index} of message ${chunk.messageId} disagrees with the chunks before it` })
    }
    if (partial.received[chunk.index] === 1) {
      this.metrics.duplicates++
      return ok(null)
    }
    partial.received[chunk.index] = 1
    partial.receivedCount++
    partial.bytes.set(chunk.piece, chunk.index * chunkPieceBytes)
    if (partial.receivedCount < partial.count) return ok(null)
    this.drop(partial)
    this.remember(key)
    if (fnv1a32Bytes(partial.bytes) !== partial.checksum) return this.refuse({ code: 'invalidField', message: `message ${chunk.messageId} from ${envelope.from} fails its checksum` })
    this.metrics.reassembled++
    return ok(partial.bytes)
  }

  private drop(partial: Partial): void {
    this.partials.delete(partial.key)
    this.reservedBytes -= partial.bytes.length
  }

  private remember(key: string): void {
    if (this.completed.size >= chunkLimits.completedRememberedMax) this.completed.delete(this.completed.values().next().value!)
    this.completed.add(key)
  }

  private refuse(error: DecodeError): Result<never, DecodeError> {
    this.metrics.refused++
    return err(error)
  }
}

/**
 * A node's receiving side of the wire: whole frames are decoded at once, chunk
 * frames go through its reassembler and the message comes out with the last
 * one. Never throws.
 */
export class FrameReceiver<M> {
  readonly reassembler = new ChunkReassembler()
  private readonly codec: EngineCodec<M>

  constructor(codec: EngineCodec<M>) {
    this.codec = codec
  }

  /** The message a frame completes, null while chunks are missing, or why the frame was refused. */
  receive(frame: Uint8Array): Result<DecodedMessage<M> | null, DecodeError> {
    const envelope = decodeFrame(frame)
    if (!envelope.ok) return envelope
    if (envelope.value.engine !== engineIds.chunk) return this.decodeMessage(envelope.value)
    const whole = this.reassembler.accept(envelope.value)
    if (!whole.ok || whole.value === null) return whole as Result<null, DecodeError>
    const inner = decodeWith(whole.value, (decoder) => readEnvelope(decoder, limits.messageBytesMax), 'message frame')
    if (!inner.ok) return inner
    const { clusterId, from, to, engine } = inner.value
    if (engine === engineIds.chunk || clusterId !== envelope.value.clusterId || from !== envelope.value.from || to !== envelope.value.to) {
      return err({ code: 'invalidField', message: `a reassembled message names ${engine === engineIds.chunk ? 'a chunk' : `${from}>${to} in ${clusterId}`}, its chunks ${envelope.value.from}>${envelope.value.to}` })
    }
    return this.decodeMessage(inner.value)
  }

  private decodeMessage(envelope: Envelope): Result<DecodedMessage<M>, DecodeError> {
    const { clusterId, from, to, engine, type, body } = envelope
    if (engine !== this.codec.engine) return err({ code: 'unknownEngine', message: `frame for engine ${engine}, expected ${this.codec.engine}` })
    const message = decodeWith(body, (decoder) => this.codec.readBody(type, decoder), 'body')
    if (!message.ok) return message
    return ok({ clusterId, from, to, message: message.value })
  }
}

/** For tests and tools: the chunk frame's chunk, or undefined when the frame is not a well-formed chunk. */
export function peekChunk(frame: Uint8Array): Chunk | undefined {
  const envelope = decodeFrame(frame)
  if (!envelope.ok || envelope.value.engine !== engineIds.chunk) return undefined
  try {
    const decoder = decoding.createDecoder(envelope.value.body)
    const chunk = readChunk(decoder)
    expectEnd(decoder, 'chunk')
    return chunk
  } catch {
    return undefined
  }
}
