import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { limits } from '../../core/lib/limits.ts'
import { dialDelayMs } from '../../node/peer/backoff.ts'
import { SendQueue } from '../../node/peer/sendQueue.ts'
import { batchEntryBytes, readBatch, readChallenge, readProof, WireError, wireKinds, writeBatch, writeChallenge, writeProof } from '../../node/peer/wire.ts'

describe('peer wire format', () => {
  it('reads back every batch it writes, frames as plain views', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 40 }), (frames) => {
        const batch = writeBatch(frames)
        expect(batch.length).toBe(1 + frames.reduce((sum, frame) => sum + batchEntryBytes(frame.length), 0))
        const read = readBatch(batch, 1_000)
        expect(read.map((frame) => [...frame])).toEqual(frames.map((frame) => [...frame]))
        expect(read.every((frame) => !Buffer.isBuffer(frame))).toBe(true)
      }),
    )
  })

  it('refuses malformed batches with a WireError naming the problem, and never anything else on random bytes', () => {
    expect(() => readBatch(Uint8Array.of(wireKinds.batch), 10)).toThrow(/no frames/)
    expect(() => readBatch(Uint8Array.of(wireKinds.batch, 0), 10)).toThrow(/a frame of 0 bytes/)
    expect(() => readBatch(Uint8Array.of(wireKinds.batch, 5, 1, 2), 10)).toThrow(/input ended inside frame/)
    expect(() => readBatch(Uint8Array.of(wireKinds.batch, 0x81, 0x00, 1), 10)).toThrow(/shortest encoding/)
    expect(() => readBatch(Uint8Array.of(wireKinds.batch, 0xff, 0xff, 0xff, 0x7f), 10)).toThrow(/frameBytesMax/)
    expect(() => readBatch(writeBatch([Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)]), 2)).toThrow(/batchFramesMax=2/)
    expect(() => readBatch(Uint8Array.of(wireKinds.proof, 1, 1), 10)).toThrow(/kind 2, expected 3/)
    expect(batchEntryBytes(limits.frameBytesMax)).toBe(limits.frameBytesMax + 3)
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        for (const read of [() => readBatch(bytes, 100), () => readChallenge(bytes), () => readProof(bytes)]) {
          try {
            read()
          } catch (error) {
            expect(error).toBeInstanceOf(WireError)
          }
        }
      }),
      { seed: 16, numRuns: 2_000 },
    )
  })

  it('round-trips hello messages and refuses ids that are not ids', () => {
    const challenge = { version: 1, clusterId: 'local', nodeId: 'n-1.eu_2', session: new Uint8Array(16).fill(7), nonce: new Uint8Array(32).fill(9) }
    const read = readChallenge(writeChallenge(challenge))
    expect({ ...read, session: [...read.session], nonce: [...read.nonce] }).toEqual({ ...challenge, session: [...challenge.session], nonce: [...challenge.nonce] })
    expect(() => readChallenge(writeChallenge({ ...challenge, nodeId: 'n 1' }))).toThrow(/node id "n 1"/)
    expect(() => readChallenge(writeChallenge({ ...challenge, clusterId: '' }))).toThrow(/cluster id/)
    const proof = { signature: new Uint8Array(64).fill(3), mac: new Uint8Array(32).fill(4) }
    expect(readProof(writeProof(proof))).toEqual(proof)
    expect(readProof(writeProof({ ...proof, mac: null })).mac).toBeNull()
    expect(() => readProof(writeProof({ signature: proof.signature, mac: new Uint8Array(5) }))).toThrow(/0 or 32 bytes/)
  })
})

describe('send queue', () => {
  it('holds frames up to its frame and byte bounds, hands out due ones in order, and expires stale ones', () => {
    const queue = new SendQueue({ queueFramesMax: 4, queueBytesMax: 100 })
    expect(queue.push(new Uint8Array(40), 0)).toBe(true)
    expect(queue.push(new Uint8Array(40), 5)).toBe(true)
    expect(queue.push(new Uint8Array(40), 10)).toBe(false)
    expect(queue.push(new Uint8Array(10), 10)).toBe(true)
    expect(queue.push(new Uint8Array(1), 10)).toBe(true)
    expect(queue.push(new Uint8Array(1), 10)).toBe(false)
    expect([queue.frames, queue.bytes]).toEqual([4, 91])
    const size = (frame: Uint8Array) => frame.length
    expect(queue.takeDue(4, 10, 1_000, size).map((frame) => frame.length)).toEqual([40])
    // The byte budget stops a batch, but a first frame always goes.
    expect(queue.takeDue(20, 10, 5, size).map((frame) => frame.length)).toEqual([40])
    expect(queue.nextDueMs()).toBe(10)
    expect(queue.expire(11)).toBe(2)
    expect([queue.frames, queue.bytes, queue.nextDueMs()]).toEqual([0, 0, null])
  })
})

describe('reconnect backoff', () => {
  it('doubles from dialDelayMsMin to dialDelayMsMax, half of it jitter', () => {
    const limits = { dialDelayMsMin: 100, dialDelayMsMax: 5_000 }
    expect(dialDelayMs(0, limits, () => 0.5)).toBe(0)
    expect([1, 2, 3].map((failures) => dialDelayMs(failures, limits, () => 0))).toEqual([50, 100, 200])
    expect([1, 2, 3].map((failures) => dialDelayMs(failures, limits, () => 0.999999))).toEqual([100, 200, 400])
    expect(dialDelayMs(60, limits, () => 0)).toBe(2_500)
    expect(dialDelayMs(60, limits, () => 0.999999)).toBe(5_000)
  })
})
