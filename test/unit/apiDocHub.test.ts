import { describe, expect, it } from 'vitest'
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate } from 'y-protocols/awareness'
import * as Y from 'yjs'
import { DocConnection, DocHub } from '../../api/docHub.ts'
import { ApiStats } from '../../api/metrics.ts'
import type { ApiSocket } from '../../api/sockets.ts'
import { readYMessage, writeYMessage, type YMessage } from '../../api/yMessages.ts'
import { hostedCluster, hostedNodePolicies } from '../support/hostedCluster.ts'

/** A socket that keeps what the hub sends. */
class FakeSocket implements ApiSocket {
  readyState = 1
  readonly sent: YMessage[] = []
  closed: { code: number; reason: string } | null = null
  send(data: string | Uint8Array<ArrayBuffer>): void {
    if (typeof data === 'string') throw new Error('the hub sends binary messages')
    const message = readYMessage(data)
    if (message instanceof Error) throw message
    this.sent.push(message)
  }
  close(code: number, reason: string): void {
    this.closed = { code, reason }
    this.readyState = 3
  }
  take(): YMessage[] {
    return this.sent.splice(0)
  }
}

function hubs(seed: number) {
  const cluster = hostedCluster(seed, hostedNodePolicies)
  cluster.advance(3_000)
  return { ...cluster, hubs: cluster.nodes.map((node) => new DocHub(node.host, new ApiStats())) }
}

function connect(hub: DocHub, socket: FakeSocket, readOnly = false, key = 'doc/notes'): DocConnection {
  const opened = hub.open(key, socket, readOnly)
  if (!(opened instanceof DocConnection)) throw new Error(opened.message)
  return opened
}

/** A client's Y.Doc, its updates collected as it edits. */
function clientDoc(): { doc: Y.Doc; updates: Uint8Array[] } {
  const doc = new Y.Doc()
  const updates: Uint8Array[] = []
  doc.on('update', (update: Uint8Array) => updates.push(update))
  return { doc, updates }
}

function applyUpdates(doc: Y.Doc, messages: readonly YMessage[]): void {
  for (const message of messages) if (message.kind === 'update' || message.kind === 'syncStep2') Y.applyUpdate(doc, message.update)
}

describe('DocHub: y-protocols over the replica', () => {
  it('greets with SyncStep1, answers SyncStep1 with what the client lacks, and relays updates to the others only', async () => {
    const {
      hubs: [hub1, hub2],
      advance,
    } = hubs(51)
    const writer = clientDoc()
    const first = new FakeSocket()
    const a = connect(hub1!, first)
    expect(first.take()).toMatchObject([{ kind: 'syncStep1' }])
    writer.doc.getText('text').insert(0, 'hello')
    hub1!.message(a, writeYMessage({ kind: 'update', update: writer.updates[0]! }))
    expect(first.take()).toEqual([]) // its own change is not echoed
    const sameNode = new FakeSocket()
    const b = connect(hub1!, sameNode)
    const greeting = sameNode.take()
    expect(greeting[0]!.kind).toBe('syncStep1')
    const reader = clientDoc()
    hub1!.message(b, writeYMessage({ kind: 'syncStep1', stateVector: Y.encodeStateVector(reader.doc) }))
    applyUpdates(reader.doc, sameNode.take())
    expect(reader.doc.getText('text').toString()).toBe('hello')
    // A further edit reaches the other connection here, and a connection on another node once gossip carries it.
    const otherNode = new FakeSocket()
    connect(hub2!, otherNode)
    otherNode.take()
    writer.doc.getText('text').insert(5, '!')
    hub1!.message(a, writeYMessage({ kind: 'update', update: writer.updates[1]! }))
    applyUpdates(reader.doc, sameNode.take())
    expect(reader.doc.getText('text').toString()).toBe('hello!')
    advance(1_000)
    const remote = clientDoc()
    applyUpdates(remote.doc, otherNode.take())
    expect(remote.doc.getText('text').toString()).toBe('hello!')
  })

  it("relays awareness, answers a query, and marks a closed connection's clients gone everywhere", () => {
    const {
      hubs: [hub1, hub2],
      advance,
    } = hubs(52)
    const presence = new Awareness(new Y.Doc())
    presence.setLocalStateField('user', 'ada')
    const here = new FakeSocket()
    const a = connect(hub1!, here)
    const there = new FakeSocket()
    const b = connect(hub2!, there)
    hub1!.message(a, writeYMessage({ kind: 'awareness', update: encodeAwarenessUpdate(presence, [presence.clientID]) }))
    advance(500)
    const seen = new Awareness(new Y.Doc())
    for (const message of there.take()) if (message.kind === 'awareness') applyAwarenessUpdate(seen, message.update, 'server')
    expect(seen.getStates().get(presence.clientID)).toEqual({ user: 'ada' })
    hub2!.message(b, writeYMessage({ kind: 'queryAwareness' }))
    expect(there.take()).toMatchObject([{ kind: 'awareness' }])
    hub1!.close(a)
    advance(500)
    for (const message of there.take()) if (message.kind === 'awareness') applyAwarenessUpdate(seen, message.update, 'server')
    expect(seen.getStates().has(presence.clientID)).toBe(false)
    presence.destroy()
    seen.destroy()
  })

  it("refuses a read-only connection's updates but syncs it, and closes one that sends garbage", () => {
    const {
      hubs: [hub1],
      nodes,
    } = hubs(53)
    const viewer = new FakeSocket()
    const v = connect(hub1!, viewer, true)
    viewer.take()
    const vandal = clientDoc()
    vandal.doc.getText('text').insert(0, 'nope')
    hub1!.message(v, writeYMessage({ kind: 'update', update: vandal.updates[0]! }))
    expect(viewer.take()).toMatchObject([{ kind: 'permissionDenied' }])
    expect(nodes[0]!.host.replica.crdt.read('doc/notes')).toBeUndefined()
    // An empty step2 (a client in sync) is no update at all.
    hub1!.message(v, writeYMessage({ kind: 'syncStep2', update: Uint8Array.of(0, 0) }))
    expect(viewer.take()).toEqual([])
    const garbage = new FakeSocket()
    const g = connect(hub1!, garbage)
    hub1!.message(g, Uint8Array.of(9, 9))
    expect(garbage.closed?.code).toBe(4400)
    const bad = new FakeSocket()
    const b = connect(hub1!, bad)
    hub1!.message(b, writeYMessage({ kind: 'update', update: Uint8Array.of(1, 2, 3) }))
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        expect(bad.closed?.code).toBe(4400)
        expect(bad.closed?.reason).toMatch(/^invalidUpdate/)
        resolve()
      }),
    )
  })
})
