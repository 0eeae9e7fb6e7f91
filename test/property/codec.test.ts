import fc from 'fast-check'
import * as encoding from 'lib0/encoding'
import { describe, expect, it } from 'vitest'
import { readMessageFrame, writeMessageFrame } from '../../core/codec/engineCodec.ts'
import { engineIds } from '../../core/codec/engineIds.ts'
import { decodeFrame, encodeFrame, protocolVersion, type Envelope } from '../../core/codec/envelope.ts'
import { limits } from '../../core/lib/limits.ts'
import { maxRegCodec } from '../../core/maxreg/codec.ts'

const decodeErrorCodes = ['truncated', 'oversized', 'unsupportedVersion', 'unknownEngine', 'unknownType', 'invalidField', 'trailingBytes']

const idArbitrary = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/)
const envelopeArbitrary: fc.Arbitrary<Envelope> = fc.record({
  version: fc.constant(protocolVersion),
  clusterId: idArbitrary,
  from: idArbitrary,
  to: idArbitrary,
  engine: fc.constantFrom(...Object.values(engineIds)),
  type: fc.integer({ min: 0, max: limits.messageTypesMax - 1 }),
  body: fc.uint8Array({ maxLength: 2048 }),
})

describe('envelope codec', () => {
  it('decodes every encoded envelope to an equal envelope', () => {
    fc.assert(
      fc.property(envelopeArbitrary, (envelope) => {
        const decoded = decodeFrame(encodeFrame(envelope))
        expect(decoded).toEqual({ ok: true, value: envelope })
      }),
    )
  })

  it('never throws on arbitrary bytes: a whole envelope or a typed error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const decoded = decodeFrame(bytes)
        if (!decoded.ok) expect(decodeErrorCodes).toContain(decoded.error.code)
        else expect(encodeFrame(decoded.value)).toEqual(bytes)
      }),
      { numRuns: 5000 },
    )
  })

  it('never throws on mutated valid frames', () => {
    fc.assert(
      fc.property(envelopeArbitrary, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (envelope, edits) => {
        const frame = encodeFrame(envelope)
        for (const [position, value] of edits) frame[position % frame.length] = value
        const decoded = decodeFrame(frame)
        if (!decoded.ok) expect(decodeErrorCodes).toContain(decoded.error.code)
      }),
      { numRuns: 3000 },
    )
  })

  it('refuses every proper prefix of a frame as truncated', () => {
    fc.assert(
      fc.property(envelopeArbitrary, (envelope) => {
        const frame = encodeFrame(envelope)
        for (let length = 0; length < frame.length; length++) {
          const decoded = decodeFrame(frame.subarray(0, length))
          expect(decoded.ok).toBe(false)
          if (!decoded.ok) expect(decoded.error.code).toBe('truncated')
        }
      }),
      { numRuns: 200 },
    )
  })

  it('refuses trailing bytes, unknown versions and unknown engines with their codes', () => {
    const envelope: Envelope = { version: protocolVersion, clusterId: 'c', from: 'a', to: 'b', engine: engineIds.raft, type: 3, body: new Uint8Array([1, 2, 3]) }
    const frame = encodeFrame(envelope)
    expect(decodeFrame(new Uint8Array([...frame, 0]))).toMatchObject({ ok: false, error: { code: 'trailingBytes' } })
    expect(decodeFrame(new Uint8Array([2, ...frame.subarray(1)]))).toMatchObject({ ok: false, error: { code: 'unsupportedVersion' } })
    const unknownEngine = encoding.createEncoder()
    encoding.writeVarUint(unknownEngine, protocolVersion)
    for (const id of ['c', 'a', 'b']) encoding.writeVarString(unknownEngine, id)
    encoding.writeVarUint(unknownEngine, 99)
    expect(decodeFrame(encoding.toUint8Array(unknownEngine))).toMatchObject({ ok: false, error: { code: 'unknownEngine' } })
  })

  it('refuses overlong varints, so every frame has exactly one encoding', () => {
    const frame = encodeFrame({ version: protocolVersion, clusterId: 'c', from: 'a', to: 'b', engine: engineIds.raft, type: 0, body: new Uint8Array() })
    const overlong = new Uint8Array([0x81, 0x00, ...frame.subarray(1)]) // version 1 written in two bytes
    expect(decodeFrame(overlong)).toMatchObject({ ok: false, error: { code: 'invalidField' } })
  })

  it('refuses ids with bytes outside the id alphabet', () => {
    const frame = encodeFrame({ version: protocolVersion, clusterId: 'c', from: 'a', to: 'b', engine: engineIds.raft, type: 0, body: new Uint8Array() })
    frame[2] = 0x20 // the cluster id's only byte becomes a space
    expect(decodeFrame(frame)).toMatchObject({ ok: false, error: { code: 'invalidField' } })
  })

  it('refuses oversized frames and bodies before reading them', () => {
    expect(decodeFrame(new Uint8Array(limits.frameBytesMax + 1))).toMatchObject({ ok: false, error: { code: 'oversized' } })
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, protocolVersion)
    for (const id of ['c', 'a', 'b']) encoding.writeVarString(encoder, id)
    encoding.writeVarUint(encoder, engineIds.raft)
    encoding.writeVarUint(encoder, 0)
    encoding.writeVarUint(encoder, limits.bodyBytesMax + 1) // a body length far past the limit and the input
    expect(decodeFrame(encoding.toUint8Array(encoder))).toMatchObject({ ok: false, error: { code: 'oversized' } })
  })

  it('refuses to encode what it could not decode', () => {
    expect(() => encodeFrame({ version: protocolVersion, clusterId: 'has space', from: 'a', to: 'b', engine: engineIds.raft, type: 0, body: new Uint8Array() })).toThrow(/cluster id/)
  })
})

describe('engine message frames', () => {
  it('round-trips max-register messages inside envelopes', () => {
    fc.assert(
      fc.property(fc.constantFrom('push' as const, 'reply' as const), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), idArbitrary, idArbitrary, (type, value, from, to) => {
        const frame = writeMessageFrame(maxRegCodec, { clusterId: 'c1', from, to }, { type, value })
        expect(readMessageFrame(maxRegCodec, frame)).toEqual({ ok: true, value: { clusterId: 'c1', from, to, message: { type, value } } })
      }),
    )
  })

  it('refuses a frame for another engine and an unknown message type', () => {
    const raftFrame = encodeFrame({ version: protocolVersion, clusterId: 'c', from: 'a', to: 'b', engine: engineIds.raft, type: 0, body: new Uint8Array([1]) })
    expect(readMessageFrame(maxRegCodec, raftFrame)).toMatchObject({ ok: false, error: { code: 'unknownEngine' } })
    const unknownType = encodeFrame({ version: protocolVersion, clusterId: 'c', from: 'a', to: 'b', engine: engineIds.maxreg, type: 7, body: new Uint8Array([1]) })
    expect(readMessageFrame(maxRegCodec, unknownType)).toMatchObject({ ok: false, error: { code: 'unknownType' } })
  })
})
