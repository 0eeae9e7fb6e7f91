/**
 * The output gate covers every path a message leaves a region object by:
 * nothing the object sends that depends on a write (an API answer, an event
 * to a viewer, a peer's `deliver` RPC, a frame on a node peer's socket) leaves before the write is in
 * SQLite (sqlStorage.ts). workerd guarantees it ("output gate: while a
 * storage operation is in progress, new outgoing network messages are held
 * back until it has completed", Durable Objects glossary); these tests hold
 * what we rely on, with the real runtime: as soon as a message is seen, the
 * writing object is evicted (`evictDurableObject`: its instance is torn
 * down, memory and pending work with it) and its SQLite database is read
 * back raw. A write that reached SQLite only after its message (deferred to
 * a later event, an alarm, a timer) is missing there: with SqlStorage.write
 * deferring the rows of the `gate` keys by a timer, the fetch, viewer and
 * peer cases fail; the document case does not (its relay came only after
 * the deferred row landed, ~3 s: the relayed update is not sent ahead of
 * it), so it checks only that a relayed edit is durable. The eviction closes the object's sockets: evicted to hibernate, an
 * object is torn down only once its pending work (such a timer) is done.
 */
import { evictDurableObject, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { api, eventually, leaderElected, regionIds, regionStub } from './edgeCluster.ts'
import { dialPeer, joinAsNode, nodeSigner, type PeerSocket } from './nodePeer.ts'
import { openViewer } from './viewerSocket.ts'
import { WorkerSocket } from './workerSocket.ts'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'

const encoder = new TextEncoder()

/** Whether `bytes` holds `part` somewhere. */
function holdsBytes(bytes: Uint8Array, part: Uint8Array): boolean {
  outer: for (let start = 0; start + part.length <= bytes.length; start++) {
    for (let index = 0; index < part.length; index++) if (bytes[start + index] !== part[index]) continue outer
    return true
  }
  return false
}

/** A value no other test writes: its UTF-8 bytes are looked for in the raw rows. */
function uniqueValue(name: string): string {
  return `${name}-${crypto.randomUUID()}`
}

/** The stored keys (the kv table of sqlStorage.ts) of `regionId` whose value holds the bytes of `value`, read after evicting the object. */
async function durableKeysHolding(regionId: string, value: string): Promise<string[]> {
  const stub = regionStub(regionId)
  // Its sockets closed with it: an object evicted to hibernate is torn down only once its pending work is done.
  await evictDurableObject(stub, { webSockets: 'close' })
  return runInDurableObject(stub, (_instance, state) =>
    state.storage.sql
      .exec<{ key: ArrayBuffer }>('SELECT key FROM kv WHERE instr(value, ?) > 0', encoder.encode(value).buffer)
      .toArray()
      .map((row) => new TextDecoder().decode(row.key)),
  )
}

describe('the output gate of region objects', () => {
  it('an eventual write (a set add) answered over fetch is in the answering object’s SQLite', async () => {
    for (let index = 0; index < 3; index++) {
      const value = uniqueValue(`gate-fetch-${index}`)
      const answer = await api('weur', 'POST', `/v1/crdt/set/gate-fetch-${index}`, { op: 'add', element: value })
      expect(answer.status, JSON.stringify(answer.body)).toBe(200)
      expect(answer.body.path).toBe('crdt')
      expect(await durableKeysHolding('weur', value)).toContain(`crdt/v/set/gate-fetch-${index}`)
    }
  })

  it('a strong write answered over fetch is in the SQLite of a Raft majority', async () => {
    await leaderElected()
    const value = uniqueValue('gate-strong')
    const answer = await eventually('a strong put', async () => {
      const put = await api('weur', 'PUT', '/v1/kv/cfg/gate-strong?consistency=strong', { value })
      return put.status === 200 ? put : undefined
    })
    expect(answer.body.path).toBe('raft')
    const holding: string[] = []
    for (const regionId of regionIds) if ((await durableKeysHolding(regionId, value)).some((key) => key.startsWith('raft/'))) holding.push(regionId)
    expect(holding.length, `regions holding the entry: ${holding.join(', ')}`).toBeGreaterThan(regionIds.length / 2)
  })

  it('an event sent to a viewer over its WebSocket follows the write it reports into SQLite', async () => {
    const viewer = await openViewer('weur')
    try {
      await viewer.next((message) => message.kind === 'snapshot')
      const value = uniqueValue('gate-viewer')
      // Written through the viewer's region: the event on its socket follows the object's own write.
      const answer = await api('weur', 'POST', '/v1/crdt/set/gate-viewer', { op: 'add', element: value })
      expect(answer.status).toBe(200)
      await viewer.next((message) => message.kind === 'event' && message.event.source === 'crdt' && message.event.event.kind === 'keyChanged' && message.event.event.key === 'set/gate-viewer')
      expect(await durableKeysHolding('weur', value)).toContain('crdt/v/set/gate-viewer')
    } finally {
      if (viewer.closed() === null) viewer.socket.close(1000, 'done')
    }
  })

  it('a peer that received a write’s delta over RPC finds the write in the sender’s SQLite, and holds it in its own', async () => {
    const value = uniqueValue('gate-peer')
    // The writer is evicted right after its answer would be sent, so only what was durable before its messages survives.
    const write = api('apac', 'POST', '/v1/crdt/set/gate-peer', { op: 'add', element: value })
    // Poll wnam's memory (not its storage) until the delta arrived over `deliver`.
    await eventually('wnam holds the value', async () => {
      const read = await api('wnam', 'GET', '/v1/kv/set/gate-peer')
      return read.status === 200 && JSON.stringify(read.body).includes(value) ? true : undefined
    })
    expect((await write).status).toBe(200)
    expect(await durableKeysHolding('apac', value)).toContain('crdt/v/set/gate-peer')
    expect(await durableKeysHolding('wnam', value)).toContain('crdt/v/set/gate-peer')
  })

  it('a node peer (a Raft learner) that received a strong write’s entry over its socket finds it in the sender’s SQLite', async () => {
    await leaderElected()
    const signer = nodeSigner()
    const joined = await joinAsNode('dc-gate', signer)
    const keyOf = (id: string) => joined.configuration.members.find((member) => member.id === id)?.publicKey ?? null
    // A socket to every region object, as a node dials them: the entry comes from whichever is the leader when it is written.
    const peers = new Map<string, PeerSocket>()
    for (const regionId of regionIds) {
      await eventually(`${regionId} applied the join`, async () => ((await regionStub(regionId).snapshot()).configuration.members.some((member) => member.id === 'dc-gate') ? true : undefined))
      const peer = await dialPeer(regionId, 'dc-gate', signer, keyOf)
      await peer.authenticated
      peers.set(regionId, peer)
    }
    const value = uniqueValue('gate-node')
    const valueBytes = encoder.encode(value)
    // Retried until answered: after the evictions of the cases above, leadership may still be moving (503 noLeader).
    const write = eventually('a strong put answered', async () => {
      const put = await api(regionIds[0]!, 'PUT', '/v1/kv/cfg/gate-node?consistency=strong', { value })
      return put.status === 200 ? put : undefined
    })
    // As soon as a frame on a node socket carries the entry, its sender is evicted and its SQLite read back.
    const sender = await eventually('the entry reached the node', async () => [...peers].find(([, peer]) => peer.frames.some((frame) => holdsBytes(frame, valueBytes)))?.[0])
    const keys = await durableKeysHolding(sender, value)
    expect(
      keys.some((key) => key.startsWith('raft/')),
      keys.join(', '),
    ).toBe(true)
    // The write's own answer may be cut by the eviction (then a retry answers): what matters is that the entry was durable before it left.
    await write.catch(() => null)
  })

  it('an edit relayed to a document client over its WebSocket is in the relaying object’s SQLite', async () => {
    const client = () => {
      const doc = new Y.Doc()
      const provider = new WebsocketProvider('ws://edge.test/v1/docs', 'gate-notes', doc, { WebSocketPolyfill: WorkerSocket as never, params: { region: 'weur' }, disableBc: true })
      return { provider, text: doc.getText('body') }
    }
    const writer = client()
    const reader = client()
    try {
      await eventually('both clients synced', async () => (writer.provider.synced && reader.provider.synced ? true : undefined))
      const edit = uniqueValue('gate-doc')
      writer.text.insert(0, edit)
      await eventually('the other client sees the edit', async () => (reader.text.toString() === edit ? true : undefined))
      // A document is stored as its updates (crdt/doc/<key>/<n>).
      const keys = await durableKeysHolding('weur', edit)
      expect(
        keys.some((key) => key.startsWith('crdt/doc/doc/gate-notes/')),
        keys.join(', '),
      ).toBe(true)
    } finally {
      writer.provider.destroy()
      reader.provider.destroy()
    }
  })
})
