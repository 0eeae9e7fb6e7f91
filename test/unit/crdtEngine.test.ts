import { describe, expect, it } from 'vitest'
import { CrdtEngine, crdtStorageKeys, type CrdtAck, type CrdtCommand, type CrdtEvent } from '../../core/crdt/engine.ts'
import { hlcLimits } from '../../core/crdt/hlc.ts'
import { lwwWrite } from '../../core/crdt/lwwRegister.ts'
import { writeEntries, type CrdtMessage } from '../../core/crdt/messages.ts'
import type { CrdtOp } from '../../core/crdt/ops.ts'
import { Rng } from '../../core/lib/prng.ts'
import { hosted, type HostedNode } from '../support/memoryHost.ts'
import { SimStorage } from '../../sim/storage.ts'

const peers = ['a', 'b']
let nowMs = 1_000_000
const clock = { nowMs: () => nowMs }

type Replica = HostedNode<CrdtCommand, CrdtMessage, CrdtAck, CrdtEvent> & { engine: CrdtEngine }

function replica(id: string, storage = new SimStorage()): Replica {
  return hosted(new CrdtEngine({ id, peers, storage, rng: Rng.fromSeed(1).split(id), clock }), storage) as Replica
}

let requestId = 0
function propose(node: Replica, op: CrdtOp): void {
  const command: CrdtCommand = { requestId: ++requestId, op }
  expect(node.propose(command)).toBeNull()
}

/** Ticks both and delivers every message until nothing is left to say. */
function exchange(nodes: Record<string, Replica>, rounds = 10): void {
  for (let round = 0; round < rounds; round++) {
    for (const node of Object.values(nodes)) {
      node.tick()
    }
    for (let pass = 0; pass < 10; pass++) {
      for (const [id, node] of Object.entries(nodes)) {
        const out = node.outbox.splice(0)
        for (const { to, message } of out) {
          nodes[to]!.step(id, message)
        }
      }
    }
  }
}

describe('CRDT engine', () => {
  it('replicates every type between two replicas and agrees on the digest', () => {
    const nodes = { a: replica('a'), b: replica('b') }
    propose(nodes.a, { type: 'counter', key: 'c', amount: 5 })
    propose(nodes.b, { type: 'counter', key: 'c', amount: -2 })
    propose(nodes.a, { type: 'register', key: 'r', value: 'x' })
    propose(nodes.b, { type: 'set', key: 's', action: 'add', element: 'e' })
    propose(nodes.a, { type: 'map', key: 'm', action: 'put', path: ['f', 'g'], value: 'v' })
    propose(nodes.b, { type: 'mvregister', key: 'mv', value: 'one' })
    propose(nodes.a, { type: 'doc', key: 'd', action: 'insert', index: 0, text: 'hi' })
    exchange(nodes)
    for (const node of Object.values(nodes)) {
      expect(node.engine.read('c')).toBe(3)
      expect(node.engine.read('r')).toBe('x')
      expect(node.engine.read('s')).toEqual(['e'])
      expect(node.engine.read('m')).toEqual({ f: { g: ['v'] } })
      expect(node.engine.read('mv')).toEqual(['one'])
      expect(node.engine.read('d')).toBe('hi')
    }
    expect(nodes.a.engine.status().storeDigest).toBe(nodes.b.engine.status().storeDigest)
    expect(nodes.a.engine.status().metrics.deltaMessages).toBeGreaterThan(0)
  })

  it('shows its key count, store digest, clock and metrics through status(), as copies', () => {
    const nodes = { a: replica('a'), b: replica('b') }
    const empty = nodes.a.engine.status()
    expect(empty).toMatchObject({ id: 'a', keys: 0, deltaSeq: 1, bufferedDeltas: 0, awarenessDocs: 0, hlc: { latest: { wallMs: 0, logical: 0 }, highWaterMs: 0, refusedDrift: 0 } })
    propose(nodes.a, { type: 'counter', key: 'c', amount: 5 })
    propose(nodes.a, { type: 'register', key: 'r', value: 'x' })
    const written = nodes.a.engine.status()
    // The register write took a stamp; the mark persisted ahead of it covers it.
    expect(written).toMatchObject({ keys: 2, deltaSeq: 3, bufferedDeltas: 2, hlc: { latest: { wallMs: nowMs, logical: 0 }, highWaterMs: nowMs + hlcLimits.highWaterLeaseMs } })
    expect(written.storeDigest).not.toBe(empty.storeDigest)
    expect(written.storeDigest).not.toBe(nodes.b.engine.status().storeDigest)
    exchange(nodes)
    expect(nodes.b.engine.status()).toMatchObject({ keys: 2, storeDigest: nodes.a.engine.status().storeDigest })
    expect(nodes.a.engine.status().bufferedDeltas).toBe(0) // b acknowledged them
    const synced = nodes.a.engine.status()
    expect(synced.metrics.digestMessages).toBeGreaterThan(0)
    ;(synced.metrics as { digestMessages: number }).digestMessages = -1
    expect(nodes.a.engine.status().metrics.digestMessages).toBeGreaterThan(0)
  })

  it('recovers acknowledged values after a crash and catches up by digest sync', () => {
    const nodes = { a: replica('a'), b: replica('b') }
    propose(nodes.a, { type: 'counter', key: 'c', amount: 7 })
    nodes.a.storage.crash(Rng.fromSeed(2), { lostProbability: 1, tornProbability: 0 })
    nodes.a = replica('a', nodes.a.storage)
    expect(nodes.a.engine.read('c')).toBe(7)
    propose(nodes.b, { type: 'set', key: 's', action: 'add', element: 'z' })
    exchange(nodes, 40)
    expect(nodes.a.engine.read('s')).toEqual(['z'])
    expect(nodes.b.engine.read('c')).toBe(7)
    expect(nodes.a.engine.status().metrics.digestMessages + nodes.b.engine.status().metrics.digestMessages).toBeGreaterThan(0)
  })

  it('drops a torn value record on recovery and repairs it from a peer', () => {
    const nodes = { a: replica('a'), b: replica('b') }
    propose(nodes.a, { type: 'register', key: 'r', value: 'kept' })
    exchange(nodes)
    const record = nodes.a.storage.get(`${crdtStorageKeys.valuePrefix}r`)!
    nodes.a.storage.write({ key: `${crdtStorageKeys.valuePrefix}r`, value: record.subarray(0, record.length - 2) })
    nodes.a.storage.sync()
    nodes.a = replica('a', nodes.a.storage)
    expect(nodes.a.engine.read('r')).toBeUndefined()
    exchange(nodes, 40)
    expect(nodes.a.engine.read('r')).toBe('kept')
  })

  it('splits a digest sync larger than one message and still converges', () => {
    const nodes = { a: replica('a'), b: replica('b') }
    const big = 'x'.repeat(20_000)
    for (let index = 0; index < 40; index++) propose(nodes.a, { type: 'register', key: `r${index}`, value: `${index}${big}` })
    // b restarts empty-handed from a's point of view: a has no acknowledgement from it and must use digests.
    exchange(nodes, 120)
    expect(nodes.b.engine.status().storeDigest).toBe(nodes.a.engine.status().storeDigest)
    expect(nodes.b.engine.read('r39')).toBe(`39${big}`)
    expect(nodes.a.engine.status().metrics.stateMessages).toBeGreaterThanOrEqual(4) // 800 KB of values in 256 KB messages
  })

  it('refuses operations of the wrong type and invalid arguments', () => {
    const node = replica('a')
    propose(node, { type: 'counter', key: 'c', amount: 1 })
    expect(node.propose({ requestId: 1, op: { type: 'set', key: 'c', action: 'add', element: 'x' } })).toMatchObject({ code: 'typeMismatch' })
    expect(node.propose({ requestId: 2, op: { type: 'counter', key: 'c', amount: 0 } })).toMatchObject({ code: 'invalidArgument' })
    expect(node.propose({ requestId: 3, op: { type: 'doc', key: 'd', action: 'insert', index: 5, text: 'x' } })).toMatchObject({ code: 'outOfRange' })
    expect(node.propose({ requestId: 4, op: { type: 'doc', key: 'd', action: 'update', update: new Uint8Array([9, 9, 9]) } })).toMatchObject({ code: 'invalidUpdate' })
    expect(node.propose({ requestId: 5, op: { type: 'register', key: '', value: 'x' } })).toMatchObject({ code: 'invalidKey' })
  })

  it('refuses a malformed payload and counts it', () => {
    const node = replica('a')
    const refusal = node.step('b', { type: 'delta', fromSeq: 0, toSeq: 1, payload: new Uint8Array([7, 1, 2]) })
    expect(refusal).not.toBeNull()
    expect(node.engine.status().metrics.messagesRefused).toBe(1)
  })

  it('refuses a register write from a clock too far ahead, and counts it', () => {
    const node = replica('a')
    const future = lwwWrite('from the future', { wallMs: nowMs + hlcLimits.clockDriftMsMax + 1000, logical: 0 }, 'b')
    node.step('b', { type: 'delta', fromSeq: 0, toSeq: 1, payload: writeEntries([{ key: 'r', delta: { type: 'register', state: future } }]) })
    expect(node.engine.read('r')).toBeUndefined()
    expect(node.engine.status().metrics.entriesRefused).toBe(1)
    expect(node.engine.status().hlc.refusedDrift).toBe(1)
    expect(node.outbox).toContainEqual({ to: 'b', message: { type: 'ack', seq: 1 } })
  })
})
