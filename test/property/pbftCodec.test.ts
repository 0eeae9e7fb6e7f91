import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { readMessageFrame, writeMessageFrame } from '../../core/codec/engineCodec.ts'
import { engineIds } from '../../core/codec/engineIds.ts'
import { encodeFrame, encodeWith, protocolVersion } from '../../core/codec/envelope.ts'
import { writeKvPut } from '../../core/kv.ts'
import { Rng } from '../../core/lib/prng.ts'
import type { NodeId, Signer } from '../../core/ports.ts'
import { pbftCodec } from '../../core/pbft/codec.ts'
import { PbftGroup } from '../../core/pbft/group.ts'
import { signBody, type Batch, type PbftBody, type PbftMessage, type PbftType, type Signed } from '../../core/pbft/messages.ts'
import { Ed25519Signer } from '../../node/ed25519Signer.ts'
import { SimKeyring } from '../../sim/signer.ts'
import { runTicks, type Carry } from '../support/memoryHost.ts'
import { pbftCluster } from '../support/pbftCluster.ts'

const decodeErrorCodes = ['truncated', 'oversized', 'unsupportedVersion', 'unknownEngine', 'unknownType', 'invalidField', 'trailingBytes']
const allTypes: readonly PbftType[] = ['request', 'prePrepare', 'prepare', 'commit', 'reply', 'checkpoint', 'viewChange', 'newView', 'status', 'state']

const ids = ['r0', 'r1', 'r2', 'r3']
const keyring = new SimKeyring(Rng.fromSeed(11).split('keys'))
const signers: Record<NodeId, Signer> = Object.fromEntries(ids.map((id) => [id, keyring.signer()]))
const group = new PbftGroup(
  ids.map((id) => ({ id, publicKey: signers[id]!.publicKey })),
  signers.r0!,
)
const address = { clusterId: 'c1', from: 'r1', to: 'r2' }

const signed = <B extends PbftBody>(body: B): Signed<B> => signBody(signers[body.replica]!, body)
const frameOf = (message: PbftMessage): Uint8Array => writeMessageFrame(pbftCodec, address, message)

// ----- arbitrary messages, every one signed by the replica it names -----

const replica = fc.constantFrom(...ids)
const number = fc.maxSafeNat()
const digest = fc.uint8Array({ minLength: 0, maxLength: 64 })
/** Any well-formed text (code points of every plane), at most 64 bytes of UTF-8. */
const client = fc.string({ unit: 'binary', minLength: 1, maxLength: 16 })
const payload = fc.uint8Array({ maxLength: 96 })
const epoch = fc.nat({ max: 5 })

const requestBody = fc.record({ type: fc.constant('request' as const), replica, epoch, requests: fc.array(fc.record({ client, timestamp: number, operation: payload }), { maxLength: 4 }) })
const orderBody = <T extends 'prePrepare' | 'prepare' | 'commit'>(type: T) => fc.record({ type: fc.constant(type), replica, epoch, view: number, seq: number, digest })
const checkpointBody = fc.record({ type: fc.constant('checkpoint' as const), replica, epoch, seq: number, stateDigest: digest })
const signedOf = <B extends PbftBody>(body: fc.Arbitrary<B>): fc.Arbitrary<Signed<B>> => body.map(signed)
const certificate = fc.record({ prePrepare: signedOf(orderBody('prePrepare')), prepares: fc.array(signedOf(orderBody('prepare')), { maxLength: 3 }) })
const groupConfig = fc.record({ epoch: number, startSeq: number, replicas: fc.array(fc.record({ id: replica, publicKey: fc.uint8Array({ minLength: 1, maxLength: 64 }) }), { maxLength: 4 }) })
const link = fc.record({ group: groupConfig, machineDigest: digest, proof: fc.array(signedOf(checkpointBody), { maxLength: 2 }) })
const viewChangeBody = fc.record({
  type: fc.constant('viewChange' as const),
  replica,
  epoch,
  view: number,
  stableSeq: number,
  checkpoints: fc.array(signedOf(checkpointBody), { maxLength: 3 }),
  prepared: fc.array(certificate, { maxLength: 3 }),
})

const bodies: Record<PbftType, fc.Arbitrary<PbftBody>> = {
  request: requestBody,
  prePrepare: orderBody('prePrepare'),
  prepare: orderBody('prepare'),
  commit: orderBody('commit'),
  reply: fc.record({ type: fc.constant('reply' as const), replica, epoch, view: number, seq: number, gateway: replica, results: fc.array(fc.record({ client, timestamp: number, result: payload }), { maxLength: 4 }) }),
  checkpoint: checkpointBody,
  viewChange: viewChangeBody,
  newView: fc.record({ type: fc.constant('newView' as const), replica, epoch, view: number, viewChanges: fc.array(signedOf(viewChangeBody), { maxLength: 3 }), prePrepares: fc.array(signedOf(orderBody('prePrepare')), { maxLength: 3 }) }),
  status: fc.record({ type: fc.constant('status' as const), replica, epoch, view: number, executed: number, stableSeq: number }),
  state: fc.record({ type: fc.constant('state' as const), replica, epoch, seq: number, checkpoints: fc.array(signedOf(checkpointBody), { maxLength: 3 }), links: fc.array(link, { maxLength: 2 }), state: fc.uint8Array({ maxLength: 512 }) }),
}

const batch: fc.Arbitrary<Batch> = fc.array(signedOf(requestBody), { maxLength: 3 })
const messageOf = (type: PbftType): fc.Arbitrary<PbftMessage> => fc.record({ signed: signedOf(bodies[type]), batches: fc.array(batch, { maxLength: 3 }) })
const message: fc.Arbitrary<PbftMessage> = fc.constantFrom(...allTypes).chain(messageOf)

/** A pbft frame whose body is `body` (valid or not). */
function frameWithBody(type: number, body: Uint8Array): Uint8Array {
  return encodeFrame({ version: protocolVersion, ...address, engine: engineIds.pbft, type, body })
}

/** The body `writeMessageFrame` puts inside the envelope. */
function bodyOf(message: PbftMessage): Uint8Array {
  return encodeWith(message, pbftCodec.writeBody)
}

/** A decode result is a typed error, or a message whose frame is byte for byte the input (one encoding per message). */
function expectTypedErrorOrCanonical(frame: Uint8Array): void {
  const decoded = readMessageFrame(pbftCodec, frame)
  if (!decoded.ok) {
    expect(decodeErrorCodes).toContain(decoded.error.code)
    return
  }
  expect(writeMessageFrame(pbftCodec, decoded.value, decoded.value.message)).toEqual(frame)
  expect(typeof pbftCodec.describe(decoded.value.message)).toBe('string')
}

describe('PBFT codec', () => {
  it('round-trips every message type through the envelope', () => {
    for (const type of allTypes) {
      fc.assert(
        fc.property(messageOf(type), (original) => {
          const decoded = readMessageFrame(pbftCodec, frameOf(original))
          expect(decoded).toEqual({ ok: true, value: { ...address, message: original } })
          if (decoded.ok) {
            expect(decoded.value.message.signed.body.type).toBe(type)
            // Signatures survive the trip: the decoded body verifies, and so does every message nested in it.
            const verifies = (held: Signed) => group.verifyBytes(held.body.replica, held.bytes, held.signature)
            expect(verifies(decoded.value.message.signed)).toBe(true)
            for (const bundle of decoded.value.message.batches.flat()) expect(verifies(bundle)).toBe(true)
          }
          expect(pbftCodec.describe(original)).toMatch(new RegExp(`^${type}`))
        }),
        { numRuns: 40 },
      )
    }
  })

  it('decodes proper prefixes of a body as truncated', () => {
    fc.assert(
      fc.property(message, fc.nat({ max: 4 }), (original, offset) => {
        const body = bodyOf(original)
        // Every prefix near either end, and every fifth one in between (bodies of nested certificates run to kilobytes).
        for (let length = 0; length < body.length; length++) {
          if (length > 48 && length < body.length - 48 && length % 5 !== offset) continue
          const decoded = readMessageFrame(pbftCodec, frameWithBody(pbftCodec.typeOf(original), body.subarray(0, length)))
          expect(decoded).toMatchObject({ ok: false, error: { code: 'truncated' } })
        }
      }),
      { numRuns: 60 },
    )
  })

  it('never throws on random bodies: a typed error or a canonical message', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 12 }), fc.uint8Array({ maxLength: 300 }), (type, body) => expectTypedErrorOrCanonical(frameWithBody(type, body))),
      { numRuns: 5000 },
    )
  })

  it('never throws on mutated valid frames: a typed error or a canonical message', () => {
    fc.assert(
      fc.property(message, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (original, edits) => {
        const frame = frameOf(original)
        for (const [position, value] of edits) frame[position % frame.length] = value
        expectTypedErrorOrCanonical(frame)
      }),
      { numRuns: 1000 },
    )
  })

  it('refuses a signed body of another type than its message type, and trailing bytes', () => {
    const status = signed({ type: 'status', replica: 'r1', epoch: 0, view: 0, executed: 0, stableSeq: 0 })
    const frame = frameOf({ signed: status, batches: [] })
    const asPrepare = frameWithBody(2, bodyOf({ signed: status, batches: [] }))
    expect(readMessageFrame(pbftCodec, asPrepare)).toMatchObject({ ok: false, error: { code: 'invalidField' } })
    expect(readMessageFrame(pbftCodec, frameWithBody(8, Uint8Array.from([...bodyOf({ signed: status, batches: [] }), 0])))).toMatchObject({ ok: false, error: { code: 'trailingBytes' } })
    expect(readMessageFrame(pbftCodec, frameWithBody(10, new Uint8Array()))).toMatchObject({ ok: false, error: { code: 'unknownType' } })
    expect(readMessageFrame(pbftCodec, frame).ok).toBe(true)
  })

  it('a body changed on the way fails signature verification (simulator keys)', () => {
    fc.assert(
      fc.property(message, fc.nat(), fc.integer({ min: 1, max: 255 }), (original, at, delta) => {
        const bytes = original.signed.bytes.slice()
        const position = at % bytes.length
        bytes[position] = (bytes[position]! + delta) & 0xff
        const decoded = readMessageFrame(pbftCodec, frameOf({ signed: { ...original.signed, bytes }, batches: original.batches }))
        if (decoded.ok) expect(group.verify(decoded.value.message.signed)).toBe(false)
        else expect(decodeErrorCodes).toContain(decoded.error.code)
      }),
      { numRuns: 1000 },
    )
  })

  it('a body changed on the way fails Ed25519 verification, and a replica refuses it as badSignature', () => {
    const edSigners = ids.map((_, index) => new Ed25519Signer(new Uint8Array(32).fill(index + 1)))
    const replicas = ids.map((id, index) => ({ id, publicKey: edSigners[index]!.publicKey }))
    const edGroup = new PbftGroup(replicas, edSigners[0]!)
    const prepare = signBody(edSigners[2]!, { type: 'prepare', replica: 'r2', epoch: 0, view: 0, seq: 7, digest: new Uint8Array(32).fill(9) })
    const decoded = readMessageFrame(pbftCodec, frameOf({ signed: prepare, batches: [] }))
    expect(decoded.ok && edGroup.verify(decoded.value.message.signed)).toBe(true)
    // The sequence number (last but one field) changes from 7 to 8.
    const bytes = prepare.bytes.slice()
    bytes[bytes.length - 34] = 8
    const tampered = readMessageFrame(pbftCodec, frameOf({ signed: { ...prepare, bytes }, batches: [] }))
    expect(tampered.ok).toBe(true)
    if (!tampered.ok) return
    expect(tampered.value.message.signed.body).toMatchObject({ type: 'prepare', seq: 8 })
    expect(edGroup.verify(tampered.value.message.signed)).toBe(false)
  })
})

describe('PBFT over the codec', () => {
  it('runs a group whose every message is encoded and decoded on the way: ordering, checkpoints, view change and state transfer', () => {
    const nodes = pbftCluster(4, { batchRequestsMax: 1, bundleRequestsMax: 1, checkpointInterval: 4, windowSeqs: 8 })
    const seen = new Set<PbftType>()
    // Every message travels as a frame: encoded by the sender, decoded before the receiver's kernel steps it.
    const asFrame: Carry<PbftMessage> = (from, to, sent) => {
      const decoded = readMessageFrame(pbftCodec, writeMessageFrame(pbftCodec, { clusterId: 'c1', from, to }, sent))
      if (!decoded.ok) throw new Error(`a ${sent.signed.body.type} from ${from} to ${to} did not decode: ${decoded.error.code}: ${decoded.error.message}`)
      seen.add(decoded.value.message.signed.body.type)
      return decoded.value.message
    }
    const request = (gateway: NodeId, client: string) => {
      expect(nodes[gateway]!.propose({ type: 'request', client, timestamp: 1, operation: writeKvPut({ requestId: client, key: client, value: 'v' }) })).toBeNull()
    }
    // r3 is cut off while the others go past a window; then r0 falls silent and r1 takes over.
    for (let index = 0; index < 12; index++) request(`r${index % 3}`, `c${index}`)
    runTicks(nodes, 60, (from, to) => from === 'r3' || to === 'r3', asFrame)
    nodes.r0!.down = true
    request('r2', 'after')
    runTicks(nodes, 200, undefined, asFrame)
    for (const id of ['r1', 'r2', 'r3']) {
      const node = nodes[id]!
      expect(node.engine.status().view).toBe(1)
      expect(node.machine.get('after')).toBe('v')
      expect(node.machine.snapshot()).toEqual(nodes.r1!.machine.snapshot())
      expect(node.engine.status().metrics.refused).toBe(0)
    }
    expect(nodes.r3!.engine.status().metrics.stateTransfers).toBe(1)
    expect([...seen].sort()).toEqual([...allTypes].sort())
  })
})
