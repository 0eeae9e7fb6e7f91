import fc from 'fast-check'
import * as encoding from 'lib0/encoding'
import { describe, expect, it } from 'vitest'
import { chunkLimits, FrameReceiver, peekChunk, writeChunk, writeMessageFrames, type Chunk } from '../../core/codec/chunks.ts'
import { engineIds } from '../../core/codec/engineIds.ts'
import { encodeFrame, protocolVersion } from '../../core/codec/envelope.ts'
import { limits } from '../../core/lib/limits.ts'
import { Rng } from '../../core/lib/prng.ts'
import { replicaCodec } from '../../core/replica/codec.ts'
import type { ReplicaMessage } from '../../core/replica/messages.ts'

function text(bytes: number, seed: number): string {
  const rng = Rng.fromSeed(seed)
  let out = ''
  for (let index = 0; index < bytes; index++) out += String.fromCharCode(0x21 + rng.int(94))
  return out
}

function forward(value: string, requestId = 1): ReplicaMessage {
  return { engine: 'replica', message: { type: 'forward', requestId, boot: 1, command: { kind: 'put', origin: 'n1', stamp: { wallMs: 5, logical: 0 }, key: 'cfg/k', value } } }
}

function valueOf(message: ReplicaMessage | undefined): string | undefined {
  return message?.engine === 'replica' && message.message.type === 'forward' && message.message.command.kind === 'put' ? message.message.command.value : undefined
}

const address = { clusterId: 'c1', from: 'n1', to: 'n2' }
// A value of valueBytesMax: its message passes one frame by its head, so it takes 2 chunks.
const twoChunkValue = text(limits.valueBytesMax, 1)
const twoChunks = writeMessageFrames(replicaCodec, address, forward(twoChunkValue), 11)
const small = writeMessageFrames(replicaCodec, address, forward('small'), 12)

function chunkFrame(chunk: Chunk, from = 'n1'): Uint8Array {
  const encoder = encoding.createEncoder()
  writeChunk(encoder, chunk)
  return encodeFrame({ version: protocolVersion, clusterId: 'c1', from, to: 'n2', engine: engineIds.chunk, type: 0, body: encoding.toUint8Array(encoder) })
}

/** A first chunk declaring a message of `messageBytes` (the rest never comes). */
function firstChunkOf(messageId: number, messageBytes: number, from = 'n1'): Uint8Array {
  const count = Math.ceil(messageBytes / chunkLimits.chunkPieceBytes)
  return chunkFrame({ messageId, index: 0, count, messageBytes, checksum: 0, piece: new Uint8Array(chunkLimits.chunkPieceBytes) }, from)
}

describe('chunk frames', () => {
  it('sends a message within one frame as that frame, and a larger one as chunk frames each within frameBytesMax', () => {
    expect(small.length).toBe(1)
    expect(peekChunk(small[0]!)).toBeUndefined()
    expect(twoChunks.length).toBe(2)
    const snapshot: ReplicaMessage = { engine: 'raft', message: { type: 'snapshot', term: 1, snapshot: { index: 1, term: 1, membership: { voters: ['n1'], learners: [] }, data: new Uint8Array(2.5 * 1024 * 1024).fill(7) } } }
    const big = writeMessageFrames(replicaCodec, address, snapshot, 13)
    expect(big.length).toBe(3)
    const receiver = new FrameReceiver(replicaCodec)
    const results = [big[2]!, big[0]!, big[1]!].map((frame) => receiver.receive(frame))
    const whole = results[2]!
    expect(whole.ok && whole.value?.message.engine === 'raft' && whole.value.message.message.type === 'snapshot' && whole.value.message.message.snapshot.data.length).toBe(2.5 * 1024 * 1024)
    for (const frame of [...twoChunks, ...big]) expect(frame.length).toBeLessThanOrEqual(limits.frameBytesMax)
    expect(twoChunks.map((frame) => peekChunk(frame)?.index)).toEqual([0, 1])
    expect(peekChunk(twoChunks[0]!)).toMatchObject({ messageId: 11, count: 2 })
  })

  it('reassembles whatever order chunks come in, with duplicates, into the one message sent (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(1), { minLength: 0, maxLength: 4 }), fc.boolean(), (extra, reversed) => {
        const receiver = new FrameReceiver(replicaCodec)
        const order = reversed ? [1, 0, ...extra] : [0, 1, ...extra]
        const results = order.map((index) => receiver.receive(twoChunks[index]!))
        const messages = results.filter((result) => result.ok && result.value !== null)
        if (messages.length !== 1 || results.some((result) => !result.ok)) return false
        const decoded = messages[0]!
        return decoded.ok && valueOf(decoded.value?.message) === twoChunkValue && receiver.reassembler.held.messages === 0
      }),
      { numRuns: 20 },
    )
  })

  it('keeps two senders’ messages with the same id apart', () => {
    const receiver = new FrameReceiver(replicaCodec)
    const other = writeMessageFrames(replicaCodec, { ...address, from: 'n3' }, forward(twoChunkValue.split('').reverse().join('')), 11)
    const results = [twoChunks[0]!, other[1]!, other[0]!, twoChunks[1]!].map((frame) => receiver.receive(frame))
    expect(results.map((result) => result.ok && result.value !== null)).toEqual([false, false, true, true])
    expect(results[2]!.ok && results[2]!.value?.from).toBe('n3')
    expect(results[3]!.ok && valueOf(results[3]!.value?.message)).toBe(twoChunkValue)
  })

  it('never throws on garbage, truncated or mutated chunk frames, and never hands over a message other than the one sent (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        // Throwing fails the property; garbage is never a message.
        const result = new FrameReceiver(replicaCodec).receive(bytes)
        return !result.ok || result.value === null || valueOf(result.value.message) === undefined
      }),
      { numRuns: 300 },
    )
    fc.assert(
      fc.property(fc.nat(twoChunks[0]!.length - 1), fc.nat(twoChunks[1]!.length - 1), fc.integer({ min: 1, max: 255 }), fc.nat(1), (at0, at1, flip, which) => {
        const receiver = new FrameReceiver(replicaCodec)
        const mutated = Uint8Array.from(twoChunks[which]!)
        mutated[which === 0 ? at0 : at1]! ^= flip
        const results = [receiver.receive(which === 0 ? mutated : twoChunks[0]!), receiver.receive(which === 1 ? mutated : twoChunks[1]!)]
        return results.every((result) => !result.ok || result.value === null || valueOf(result.value.message) === twoChunkValue)
      }),
      { numRuns: 40 },
    )
    const frame = twoChunks[1]!
    for (const cut of [1, 10, 40, 100, frame.length - 5, frame.length - 1]) {
      const result = new FrameReceiver(replicaCodec).receive(frame.subarray(0, cut))
      expect(result.ok).toBe(false)
    }
  })

  it('refuses chunks that disagree with their message, bad counts, and messages above messageBytesMax, counting them', () => {
    const receiver = new FrameReceiver(replicaCodec)
    const first = peekChunk(twoChunks[0]!)!
    const second = peekChunk(twoChunks[1]!)!
    expect(receiver.receive(twoChunks[0]!)).toMatchObject({ ok: true, value: null })
    // Same message id, another checksum: the message is dropped.
    expect(receiver.receive(chunkFrame({ ...second, checksum: second.checksum ^ 1 }))).toMatchObject({ ok: false, error: { code: 'invalidField' } })
    expect(receiver.reassembler.held.messages).toBe(0)
    // A wrong piece makes the checksum fail once whole.
    expect(receiver.receive(chunkFrame({ ...first, messageId: 99 }))).toMatchObject({ ok: true, value: null })
    expect(receiver.receive(chunkFrame({ ...second, messageId: 99, piece: second.piece.map((byte) => byte ^ 1) }))).toMatchObject({ ok: false, error: { code: 'invalidField' } })
    expect(receiver.reassembler.metrics).toMatchObject({ refused: 2, reassembled: 0 })
    // A count that does not fit the size, an index past the count, a message above messageBytesMax.
    expect(receiver.receive(chunkFrame({ ...first, count: 3 }))).toMatchObject({ ok: false })
    expect(receiver.receive(chunkFrame({ ...second, index: 2 }))).toMatchObject({ ok: false })
    expect(receiver.receive(firstChunkOf(7, limits.messageBytesMax + 1))).toMatchObject({ ok: false, error: { code: 'oversized', message: `a message of ${limits.messageBytesMax + 1} bytes; messageBytesMax is ${limits.messageBytesMax}` } })
    expect(receiver.reassembler.metrics).toMatchObject({ chunks: 7, refused: 5 })
  })

  it('bounds partial messages by count and bytes, evicting the oldest, and drops late duplicates of a finished message', { timeout: 60_000 }, () => {
    const receiver = new FrameReceiver(replicaCodec)
    for (let id = 0; id < chunkLimits.reassemblyMessagesMax + 3; id++) expect(receiver.receive(firstChunkOf(1000 + id, chunkLimits.chunkPieceBytes + 1))).toMatchObject({ ok: true, value: null })
    expect(receiver.reassembler.held.messages).toBe(chunkLimits.reassemblyMessagesMax)
    expect(receiver.reassembler.metrics.evicted).toBe(3)

    const large = 40 * 1024 * 1024
    for (let id = 0; id < 4; id++) receiver.receive(firstChunkOf(2000 + id, large, `n${id + 3}`))
    expect(receiver.reassembler.held.bytes).toBeLessThanOrEqual(chunkLimits.reassemblyBytesMax)
    expect(receiver.reassembler.held.messages).toBeGreaterThanOrEqual(2)

    // The message still completes beside them, and a duplicate of its chunks afterwards opens nothing.
    const fresh = new FrameReceiver(replicaCodec)
    fresh.receive(twoChunks[0]!)
    expect(fresh.receive(twoChunks[1]!)).toMatchObject({ ok: true })
    expect(fresh.receive(twoChunks[0]!)).toMatchObject({ ok: true, value: null })
    expect(fresh.reassembler.held.messages).toBe(0)
    expect(fresh.reassembler.metrics).toMatchObject({ reassembled: 1, duplicates: 1 })
  })
})
