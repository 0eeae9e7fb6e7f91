/**
 * Region objects hibernate with their WebSockets open: `evictDurableObject`
 * (webSockets: 'hibernate', its default) tears the object's instance down
 * while the runtime keeps its sockets; the next event (a request, a peer's
 * delivery, an alarm, a socket message) builds a new instance, which rebuilds
 * the replica from SQLite and resumes each socket's session from its
 * attachment. A viewer keeps its socket and receives numbered events again
 * (a new snapshot and an epoch gap first: the object's event numbering is
 * per life); a stock y-websocket client keeps its socket and keeps syncing.
 */
import { evictDurableObject, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { api, eventually, regionStub } from './edgeCluster.ts'
import { openViewer } from './viewerSocket.ts'
import { WorkerSocket } from './workerSocket.ts'

/** The sessions kept with a region object's sockets of `kind` (their attachments). */
async function attachmentsOf(regionId: string, kind: 'events' | 'doc'): Promise<any[]> {
  return runInDurableObject(regionStub(regionId), (_instance, state) => state.getWebSockets(kind).map((socket) => socket.deserializeAttachment()))
}

/** An event item of the feed for a change of `key`. */
function changeOf(key: string) {
  return (message: any) => message.kind === 'event' && message.event.source === 'crdt' && message.event.event.kind === 'keyChanged' && message.event.event.key === key
}

describe('hibernatable WebSockets of region objects', () => {
  it('a viewer keeps its socket over an eviction and receives numbered events from the new life', async () => {
    const viewer = await openViewer('enam')
    try {
      const first = await viewer.next((message) => message.kind === 'snapshot')
      const epochBefore: string = first.snapshot.events.epoch
      await api('enam', 'POST', '/v1/crdt/cnt/hib-before', { op: 'inc' })
      const before = await viewer.next(changeOf('cnt/hib-before'))
      // The session kept with the socket follows the feed: its epoch, and an event at or after the last one the viewer read.
      const [kept] = await attachmentsOf('enam', 'events')
      expect(kept).toMatchObject({ kind: 'events', access: 'write' })
      expect(kept.since.epoch).toBe(epochBefore)
      expect(kept.since.seq).toBeGreaterThanOrEqual(before.seq)

      await evictDurableObject(regionStub('enam'))
      expect(viewer.closed()).toBeNull()

      // A request wakes the object: a new life, a new epoch; the viewer's feed resumes from its session.
      await api('enam', 'POST', '/v1/crdt/cnt/hib-after', { op: 'inc' })
      const snapshot = await viewer.next((message) => message.kind === 'snapshot')
      expect(snapshot.snapshot.events.epoch).not.toBe(epochBefore)
      const gap = await viewer.next((message) => message.kind === 'gap')
      expect(gap.reason).toBe('epoch')
      const after = await viewer.next(changeOf('cnt/hib-after'))
      expect(typeof after.seq).toBe('number')
      const counters = await regionStub('enam').wakeCounters()
      expect(counters.socketsResumed).toBeGreaterThanOrEqual(1)
      expect(counters.socketsRunning).toBeGreaterThanOrEqual(1)
      // The value written before the eviction survived it (the replica was rebuilt from SQLite).
      const value = await api('enam', 'GET', '/v1/kv/cnt/hib-before')
      expect(value.status).toBe(200)
      expect(viewer.closed()).toBeNull()
    } finally {
      viewer.socket.close(1000, 'done')
    }
  })

  it('y-websocket clients keep their sockets over evictions of both their regions and keep syncing', async () => {
    const closes: string[] = []
    const client = (regionId: string) => {
      const doc = new Y.Doc()
      const provider = new WebsocketProvider('ws://edge.test/v1/docs', 'hib-notes', doc, { WebSocketPolyfill: WorkerSocket as never, params: { region: regionId }, disableBc: true })
      provider.on('connection-close', (event) => closes.push(`${regionId}: ${event?.code ?? 'no code'}`))
      return { provider, text: doc.getText('body') }
    }
    const eu = client('weur')
    const ap = client('apac')
    try {
      await eventually('both clients synced', async () => (eu.provider.synced && ap.provider.synced ? true : undefined))
      eu.text.insert(0, 'before')
      await eventually('apac sees the edit made before the evictions', async () => (ap.text.toString() === 'before' ? true : undefined))
      const [kept] = await attachmentsOf('weur', 'doc')
      // The client's awareness client (y-websocket announces one per document) is kept with the socket.
      expect(kept).toEqual({ kind: 'doc', access: 'write', key: 'doc/hib-notes', readOnly: false, awarenessClients: [eu.provider.awareness.clientID] })

      await evictDurableObject(regionStub('weur'))
      await evictDurableObject(regionStub('apac'))

      // weur's client edits first: its update is the message that may wake weur's object.
      eu.text.insert(eu.text.length, ', after weur woke')
      await eventually('apac sees the weur edit after the evictions', async () => (ap.text.toString() === 'before, after weur woke' ? true : undefined))
      ap.text.insert(ap.text.length, ', and apac')
      await eventually('weur sees the apac edit after the evictions', async () => (eu.text.toString() === 'before, after weur woke, and apac' ? true : undefined))
      expect(closes).toEqual([])
      for (const regionId of ['weur', 'apac']) expect((await regionStub(regionId).wakeCounters()).socketsResumed, regionId).toBeGreaterThanOrEqual(1)
    } finally {
      eu.provider.destroy()
      ap.provider.destroy()
    }
  })
})
