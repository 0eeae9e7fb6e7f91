/**
 * The Yjs hooks a y-websocket server stands on: docChanged events in every
 * path a document changes by, state vector and diff access, documents stored
 * as appended updates with crash-safe compaction, and awareness relayed
 * between nodes and expired on the injected clock.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { encodeWith } from '../../core/codec/envelope.ts'
import { AwarenessTable, awarenessLimits, awarenessTimeoutMs, readAwarenessUpdate, writeAwarenessUpdate, type AwarenessEntry } from '../../core/crdt/awareness.ts'
import { defaultCrdtConfig, type CrdtConfig } from '../../core/crdt/config.ts'
import { docCanonicalState } from '../../core/crdt/doc.ts'
import { CrdtEngine, crdtStorageKeys, type CrdtAck, type CrdtCommand, type CrdtEvent } from '../../core/crdt/engine.ts'
import type { CrdtMessage } from '../../core/crdt/messages.ts'
import type { CrdtOp } from '../../core/crdt/ops.ts'
import { Rng } from '../../core/lib/prng.ts'
import { hosted, runTicks, type HostedNode } from '../support/memoryHost.ts'
import { SimStorage } from '../../sim/storage.ts'

let nowMs = 1_000_000
const clock = { nowMs: () => nowMs }

type Node = HostedNode<CrdtCommand, CrdtMessage, CrdtAck, CrdtEvent> & { engine: CrdtEngine }

function node(id: string, peers: readonly string[], storage = new SimStorage(), config: Partial<CrdtConfig> = {}): Node {
  return hosted(new CrdtEngine({ id, peers, storage, rng: Rng.fromSeed(7).split(id), clock, config: { ...defaultCrdtConfig, ...config } }), storage) as Node
}

let requestId = 0
function propose(target: Node, op: CrdtOp): void {
  expect(target.propose({ requestId: ++requestId, op })).toBeNull()
}

function insert(target: Node, key: string, index: number, text: string): void {
  propose(target, { type: 'doc', key, action: 'insert', index, text })
}

/** A copy of the replica's document `key` (its whole state, loaded into a Y.Doc of our own). */
function replicaDoc(target: Node, key: string): Y.Doc {
  const update = target.engine.docUpdate(key)
  if (update === null) throw new Error(`${key} holds no document`)
  const doc = new Y.Doc()
  Y.applyUpdate(doc, update)
  return doc
}

/**
 * A y-websocket server's view of one node: a Y.Doc of its own fed with
 * nothing but the node's docChanged updates (from `from` on in its events).
 */
class Subscriber {
  readonly doc = new Y.Doc()
  readonly origins: string[] = []
  private seen = 0
  private readonly target: Node
  private readonly key: string

  constructor(target: Node, key: string) {
    this.target = target
    this.key = key
  }

  catchUp(): this {
    const events = this.target.events
    for (; this.seen < events.length; this.seen++) {
      const event = events[this.seen]!
      if (event.kind !== 'docChanged' || event.key !== this.key) continue
      Y.applyUpdate(this.doc, event.update)
      this.origins.push(event.origin)
    }
    return this
  }

  expectEqualToReplica(): void {
    this.catchUp()
    const replica = replicaDoc(this.target, this.key)
    expect(this.doc.getText('text').toString()).toBe(replica.getText('text').toString())
    expect(docCanonicalState(this.doc)).toBe(docCanonicalState(replica))
  }
}

describe('docChanged events', () => {
  it('let a subscriber that applies only them hold the replica document: local edit, peer delta, sync after a partition, recovery', () => {
    const ids = ['a', 'b']
    const storageB = new SimStorage()
    // A small delta buffer: a partition longer than it forces the digest/state (anti-entropy) path.
    const nodes: Record<string, Node> = { a: node('a', ids, new SimStorage(), { deltaBufferEntriesMax: 4 }), b: node('b', ids, storageB, { deltaBufferEntriesMax: 4 }) }
    const atA = new Subscriber(nodes.a!, 'd')
    const atB = new Subscriber(nodes.b!, 'd')

    // Local edits.
    insert(nodes.a!, 'd', 0, 'hello')
    insert(nodes.a!, 'd', 5, ' world')
    atA.expectEqualToReplica()
    expect(atA.origins).toEqual(['local', 'local'])

    // Peer deltas.
    runTicks(nodes, 6)
    const clientAtB = nodes.b!.engine.docClientId('d')
    insert(nodes.a!, 'd', 0, '> ')
    runTicks(nodes, 6)
    expect(nodes.b!.engine.docClientId('d')).toBe(clientAtB) // applied into the same document, under b's own client id
    atB.expectEqualToReplica()
    expect(atB.origins).toContain('peer')
    expect(nodes.b!.engine.read('d')).toBe('> hello world')

    // Concurrent edits on both sides of a partition, then sync.
    const cut = () => true
    for (let index = 0; index < 8; index++) {
      insert(nodes.a!, 'd', 0, `a${index}`)
      insert(nodes.b!, 'd', nodes.b!.engine.read('d')!.toString().length, `b${index}`)
      runTicks(nodes, 1, cut)
    }
    const stateMessagesBefore = nodes.a!.engine.status().metrics.stateMessages + nodes.b!.engine.status().metrics.stateMessages
    runTicks(nodes, 60)
    expect(nodes.a!.engine.status().metrics.stateMessages + nodes.b!.engine.status().metrics.stateMessages).toBeGreaterThan(stateMessagesBefore)
    expect(nodes.a!.engine.read('d')).toBe(nodes.b!.engine.read('d'))
    expect(nodes.b!.engine.docClientId('d')).toBe(clientAtB)
    atA.expectEqualToReplica()
    atB.expectEqualToReplica()

    // Recovery: b restarts from storage (crash after every Ready was synced); a new server subscribes.
    storageB.crash(Rng.fromSeed(3), { lostProbability: 0.5, tornProbability: 0.5 })
    nodes.b = node('b', ids, storageB, { deltaBufferEntriesMax: 4 })
    const afterRestart = new Subscriber(nodes.b, 'd')
    afterRestart.expectEqualToReplica()
    expect(afterRestart.origins).toEqual(['recovery'])
    expect(nodes.b.engine.read('d')).toBe(nodes.a!.engine.read('d'))

    // And the restarted replica keeps reporting: an edit, then a peer's.
    insert(nodes.b, 'd', 0, '!')
    insert(nodes.a!, 'd', 0, '?')
    runTicks(nodes, 60)
    afterRestart.expectEqualToReplica()
    atA.expectEqualToReplica()
    expect(nodes.b.engine.read('d')).toBe(nodes.a!.engine.read('d'))
  })

  it('reports nothing for an update the document holds already, and a client update entry point acknowledged once durable', () => {
    const a = node('a', ['a'])
    insert(a, 'd', 0, 'abc')
    const update = a.engine.docUpdate('d')!
    const changes = a.events.filter((event) => event.kind === 'docChanged').length
    const syncsBefore = a.storage.metrics.syncs
    propose(a, { type: 'doc', key: 'd', action: 'update', update })
    expect(a.events.filter((event) => event.kind === 'docChanged')).toHaveLength(changes)

    // A client's update (y-protocols update or SyncStep2) through the crdt operation: acknowledged after a sync.
    const client = new Y.Doc()
    Y.applyUpdate(client, update)
    const before = Y.encodeStateVector(client)
    client.getText('text').insert(3, 'def')
    const applied = a.applied.length
    propose(a, { type: 'doc', key: 'd', action: 'update', update: Y.encodeStateAsUpdate(client, before) })
    expect(a.applied.length).toBe(applied + 1)
    expect(a.storage.metrics.syncs).toBeGreaterThan(syncsBefore)
    expect(a.engine.read('d')).toBe('abcdef')
  })
})

describe('state vector and diff', () => {
  it('answer a y-protocols SyncStep1 with what the client lacks', () => {
    const a = node('a', ['a'])
    expect(Y.decodeStateVector(a.engine.docStateVector('none')).size).toBe(0)
    const emptyDiff = a.engine.docDiff('none', Y.encodeStateVector(new Y.Doc()))
    expect(emptyDiff.ok && Y.decodeUpdate(emptyDiff.value).structs).toEqual([])
    insert(a, 'd', 0, 'shared text')
    const client = new Y.Doc()
    const diff = a.engine.docDiff('d', Y.encodeStateVector(client))
    expect(diff.ok).toBe(true)
    if (diff.ok) Y.applyUpdate(client, diff.value)
    expect(client.getText('text').toString()).toBe('shared text')
    expect(a.engine.docStateVector('d')).toEqual(Y.encodeStateVector(client))
    // Up to date: the diff carries no structs.
    const none = a.engine.docDiff('d', Y.encodeStateVector(client))
    expect(none.ok && Y.decodeUpdate(none.value).structs).toEqual([])
    expect(a.engine.docDiff('d', new Uint8Array([5, 1]))).toMatchObject({ ok: false, error: { code: 'invalidStateVector' } })
  })
})

describe('document storage', () => {
  const docKeys = (storage: SimStorage) => storage.keys(crdtStorageKeys.docPrefix)

  it('appends each change as an update record, not a rewrite of the document, and compacts past docUpdatesBeforeCompaction', () => {
    const storage = new SimStorage()
    const a = node('a', ['a'], storage, { docUpdatesBeforeCompaction: 4 })
    insert(a, 'notes/x', 0, 'x'.repeat(4000))
    expect(docKeys(storage)).toEqual(['crdt/doc/notes/x/0'])
    const written: number[] = []
    for (let index = 0; index < 4; index++) {
      const writesBefore = storage.metrics.writes
      const bytes = countWrittenBytes(storage, () => insert(a, 'notes/x', index, 'y'))
      written.push(bytes)
      expect(storage.metrics.writes - writesBefore).toBe(2) // the update record and the meta record
    }
    // Each edit wrote tens of bytes, not the 4 kB document.
    for (const bytes of written) expect(bytes).toBeLessThan(200)
    expect(docKeys(storage)).toEqual(['crdt/doc/notes/x/0', 'crdt/doc/notes/x/1', 'crdt/doc/notes/x/2', 'crdt/doc/notes/x/3', 'crdt/doc/notes/x/4'])
    insert(a, 'notes/x', 0, 'z')
    // The fifth edit made a new base; the records it replaces were deleted in the Ready after it.
    expect(docKeys(storage)).toEqual(['crdt/doc/notes/x/5'])
    expect(a.engine.status().metrics.docCompactions).toBe(2)
    expect(a.engine.status().metrics.docAppends).toBe(4)
    insert(a, 'notes/x', 0, 'w')
    const restarted = node('a', ['a'], storage, { docUpdatesBeforeCompaction: 4 })
    expect(restarted.engine.read('notes/x')).toBe(a.engine.read('notes/x'))
    // Loaded under a temporary id and given back its own: Yjs saw no clash with its own edits and drew no random id.
    expect(restarted.engine.docClientId('notes/x')).toBe(a.engine.docClientId('notes/x'))
    expect(docKeys(storage)).toEqual(['crdt/doc/notes/x/5', 'crdt/doc/notes/x/6'])
  })

  it('deletes the records a recovered base replaces only after a sync (the base read back may sit unsynced in a page cache)', () => {
    const storage = new SimStorage()
    const config = { docUpdatesBeforeCompaction: 2 }
    const a = node('a', ['a'], storage, config)
    // Stop short of the Ready that deletes: the compaction's base is synced, the old records still there.
    insert(a, 'd', 0, 'one')
    insert(a, 'd', 0, 'two ')
    insert(a, 'd', 0, 'three ')
    // The power fails once the compacting Ready is synced, before the Ready with its deletes.
    a.losePowerInNextReady(() => a.propose({ requestId: ++requestId, op: { type: 'doc', key: 'd', action: 'insert', index: 0, text: 'four ' } }), 'apply')
    expect(docKeys(storage)).toEqual(['crdt/doc/d/0', 'crdt/doc/d/1', 'crdt/doc/d/2', 'crdt/doc/d/3'])
    storage.crash(Rng.fromSeed(1), { lostProbability: 0, tornProbability: 0 })

    const restarted = node('a', ['a'], storage, config)
    expect(restarted.engine.read('d')).toBe('four three two one')
    // Recovery's first Ready syncs the base it read back; only the one after it deletes what the base replaces.
    const [first, second, ...rest] = restarted.persisted
    expect(first!.writes.filter((write) => write.value === null)).toEqual([])
    expect(first!.mustSync).toBe(true)
    expect(second!.writes.filter((write) => write.value === null).map((write) => write.key)).toEqual(['crdt/doc/d/0', 'crdt/doc/d/1', 'crdt/doc/d/2'])
    expect(rest).toEqual([])
  })

  it('compacts past docAppendedBytesMax however few the updates', () => {
    const storage = new SimStorage()
    const a = node('a', ['a'], storage, { docAppendedBytesMax: 100 })
    insert(a, 'd', 0, 'start')
    insert(a, 'd', 0, 'q'.repeat(60))
    expect(a.engine.status().metrics.docCompactions).toBe(1)
    insert(a, 'd', 0, 'r'.repeat(60))
    expect(a.engine.status().metrics.docCompactions).toBe(2)
    expect(docKeys(storage)).toEqual(['crdt/doc/d/2'])
  })

  it('recovers every synced change after a crash in any Ready: a torn record is dropped, a torn base keeps the records it would replace', () => {
    let crashedCompactions = 0
    for (let seed = 1; seed <= 40; seed++) {
      const rng = Rng.fromSeed(seed)
      const storage = new SimStorage()
      const config = { docUpdatesBeforeCompaction: 3 }
      let a = node('a', ['a'], storage, config)
      let synced = ''
      for (let step = 0; step < 30; step++) {
        const text = String.fromCharCode(97 + rng.int(26))
        const at = rng.int(synced.length + 1)
        if (!rng.chance(0.2)) {
          insert(a, 'd', at, text)
          synced = a.engine.read('d') as string
          // Sometimes crash after the Ready, with the deletes of a compaction still unsynced.
          if (!rng.chance(0.2)) continue
          storage.crash(rng, { lostProbability: 0.5, tornProbability: 0.5 })
          a = node('a', ['a'], storage, config)
          expect(a.engine.read('d') ?? '').toBe(synced)
          continue
        }
        // Crash halfway through the Ready of an edit: its writes reached storage, the sync did not.
        const compactionsBefore = a.engine.status().metrics.docCompactions
        const writing = a
        writing.losePowerInNextReady(() => expect(writing.propose({ requestId: ++requestId, op: { type: 'doc', key: 'd', action: 'insert', index: at, text } })).toBeNull())
        const spoiled = storage.metrics.unsyncedTorn + storage.metrics.unsyncedLost
        storage.crash(rng, { lostProbability: 0.3, tornProbability: 0.6 })
        if (a.engine.status().metrics.docCompactions > compactionsBefore && storage.metrics.unsyncedTorn + storage.metrics.unsyncedLost > spoiled) crashedCompactions++
        a = node('a', ['a'], storage, config)
        const recovered = (a.engine.read('d') ?? '') as string
        // The unsynced edit was never acknowledged: it is there whole or not at all.
        expect([synced, synced.slice(0, at) + text + synced.slice(at)]).toContain(recovered)
        synced = recovered
      }
    }
    // The sweep did crash in the middle of compactions (a base torn or lost).
    expect(crashedCompactions).toBeGreaterThan(5)
  })
})

describe('awareness', () => {
  const entry = (clientId: number, clock: number, state: unknown): AwarenessEntry => ({ clientId, clock, stateJson: JSON.stringify(state) })
  const update = (...entries: AwarenessEntry[]) => encodeWith(entries, writeAwarenessUpdate)
  /** A client's awareness update, published through the node's kernel. */
  const publish = (target: Node, key: string, awareness: Uint8Array) => target.input('publishAwareness', () => target.engine.publishAwareness(key, awareness))
  const awarenessEvents = (target: Node) => target.events.filter((event): event is Extract<CrdtEvent, { kind: 'awarenessChanged' }> => event.kind === 'awarenessChanged')

  it('relays a client update to every peer, never stores it, and expires it after 30 s on the injected clock', () => {
    const ids = ['a', 'b', 'c']
    const nodes: Record<string, Node> = { a: node('a', ids), b: node('b', ids), c: node('c', ids) }
    const writesBefore = nodes.a!.storage.metrics.writes
    expect(publish(nodes.a!, 'd', update(entry(11, 1, { user: 'ann', cursor: 3 })))).toBeNull()
    expect(nodes.a!.storage.metrics.writes).toBe(writesBefore)
    runTicks(nodes, 1)
    for (const id of ['b', 'c']) {
      const events = awarenessEvents(nodes[id]!)
      expect(events).toHaveLength(1)
      expect(events[0]).toMatchObject({ key: 'd', origin: 'peer', added: [11], updated: [], removed: [] })
      expect(readAwarenessUpdate(events[0]!.update)).toEqual({ ok: true, value: [entry(11, 1, { user: 'ann', cursor: 3 })] })
      expect(nodes[id]!.engine.awarenessStates('d')).toEqual(update(entry(11, 1, { user: 'ann', cursor: 3 })))
    }
    expect(awarenessEvents(nodes.a!)).toMatchObject([{ origin: 'local', added: [11] }])

    // An old clock changes nothing; a renewal (same state, newer clock) is an update.
    publish(nodes.a!, 'd', update(entry(11, 1, { user: 'old' })))
    publish(nodes.a!, 'd', update(entry(11, 2, { user: 'ann', cursor: 3 })))
    runTicks(nodes, 1)
    expect(awarenessEvents(nodes.b!).map((event) => event.updated)).toEqual([[], [11]])

    // Not renewed: gone 30 s after the renewal, on every node, with a removal clients understand (state null, clock + 1).
    nowMs += awarenessTimeoutMs - 1
    runTicks(nodes, 1)
    expect(awarenessEvents(nodes.b!)).toHaveLength(2)
    nowMs += 1
    runTicks(nodes, 1)
    for (const id of ids) {
      const last = awarenessEvents(nodes[id]!).at(-1)!
      expect(last).toMatchObject({ origin: 'timeout', removed: [11] })
      expect(readAwarenessUpdate(last.update)).toEqual({ ok: true, value: [{ clientId: 11, clock: 3, stateJson: 'null' }] })
      expect(nodes[id]!.engine.awarenessStates('d')).toBeNull()
      expect(nodes[id]!.engine.status().metrics.awarenessExpired).toBe(1)
    }
    // A late copy of the old state does not bring the client back.
    publish(nodes.a!, 'd', update(entry(11, 2, { user: 'ann' })))
    expect(nodes.a!.engine.awarenessStates('d')).toBeNull()
  })

  it('refuses malformed and oversized updates and clients beyond the states limit, and counts them', () => {
    const ids = ['a', 'b']
    const nodes: Record<string, Node> = { a: node('a', ids), b: node('b', ids) }
    expect(publish(nodes.a!, 'd', new Uint8Array([1, 5]))).toMatchObject({ code: 'invalidAwareness' })
    expect(publish(nodes.a!, 'd', update(entry(1, 1, 'x'.repeat(awarenessLimits.awarenessBytesMax))))).toMatchObject({ code: 'oversized' })
    const badJson = encodeWith([{ clientId: 1, clock: 1, stateJson: '{nope' }], writeAwarenessUpdate)
    expect(publish(nodes.a!, 'd', badJson)).toMatchObject({ code: 'invalidAwareness' })
    expect(nodes.b!.step('a', { type: 'awareness', key: 'd', update: badJson })).toMatchObject({ code: 'invalidAwareness' })
    expect(nodes.a!.engine.status().metrics.awarenessRefused).toBe(3)
    expect(nodes.b!.engine.status().metrics.awarenessRefused).toBe(1)
    expect(nodes.b!.engine.status().metrics.messagesRefused).toBe(1)

    const table = new AwarenessTable(2)
    const applied = table.apply('d', [entry(1, 1, {}), entry(2, 1, {}), entry(3, 1, {})], 0)
    expect(applied.refused).toBe(1)
    expect(applied.change?.added).toEqual([1, 2])
    expect(table.apply('e', [entry(4, 1, {})], 0)).toMatchObject({ change: null, refused: 1 })
  })
})

function countWrittenBytes(storage: SimStorage, act: () => void): number {
  const originalWrite = storage.write.bind(storage)
  let bytes = 0
  storage.write = (change) => {
    if (change.key.startsWith(crdtStorageKeys.docPrefix) && change.value !== null) bytes += change.value.length
    originalWrite(change)
  }
  try {
    act()
  } finally {
    storage.write = originalWrite
  }
  return bytes
}
