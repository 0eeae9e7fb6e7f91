/**
 * The Yjs hooks through the replica, as a y-websocket server in front of it
 * sees them: docChanged and awarenessChanged events among the replica's
 * events (source crdt), the awareness command, and state vector and diff.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { encodeWith } from '../../core/codec/envelope.ts'
import { writeAwarenessUpdate } from '../../core/crdt/awareness.ts'
import { docCanonicalState } from '../../core/crdt/doc.ts'
import type { CrdtEvent } from '../../core/crdt/engine.ts'
import { ReplicaCluster, testPolicies, type RecordedEvent } from '../support/replicaCluster.ts'

const policies = { ...testPolicies, docs: { consistency: 'eventual', valueType: 'doc', home: null } } as const

function crdtEvents<K extends CrdtEvent['kind']>(cluster: ReplicaCluster, node: number, kind: K, from = 0): Extract<CrdtEvent, { kind: K }>[] {
  return cluster.events
    .slice(from)
    .filter((recorded: RecordedEvent) => recorded.node === node && recorded.event.source === 'crdt' && recorded.event.event.kind === kind)
    .map((recorded) => (recorded.event as { event: CrdtEvent }).event as Extract<CrdtEvent, { kind: K }>)
}

/** A server's Y.Doc fed only with the docChanged updates of `node` (from event index `from`). */
function serverDoc(cluster: ReplicaCluster, node: number, key: string, from = 0): Y.Doc {
  const doc = new Y.Doc()
  for (const event of crdtEvents(cluster, node, 'docChanged', from)) if (event.key === key) Y.applyUpdate(doc, event.update)
  return doc
}

function replicaDoc(cluster: ReplicaCluster, node: number, key: string): Y.Doc {
  const update = cluster.replica(node).crdt.docUpdate(key)
  if (update === null) throw new Error(`${key} holds no document at node ${node}`)
  const doc = new Y.Doc()
  Y.applyUpdate(doc, update)
  return doc
}

describe('Yjs hooks through the replica', () => {
  it('report every document change as an event a server can apply, across edits, peers and a restart', () => {
    const cluster = new ReplicaCluster({ nodes: 3, policies })
    cluster.call(0, { type: 'crdt', op: { type: 'doc', key: 'docs/a', action: 'insert', index: 0, text: 'from node 0' } })
    // A client of node 1 syncs the way y-websocket does: SyncStep1 from the server, the diff, then its own update.
    cluster.runUntil(() => cluster.replica(1).crdt.read('docs/a') === 'from node 0', 5_000, 'the document at node 1')
    const client = new Y.Doc()
    const diff = cluster.replica(1).docDiff('docs/a', Y.encodeStateVector(client))
    if (!diff.ok) throw new Error(diff.error.message)
    Y.applyUpdate(client, diff.value)
    expect(cluster.replica(1).docStateVector('docs/a')).toEqual(Y.encodeStateVector(client))
    const before = Y.encodeStateVector(client)
    client.getText('text').insert(0, '1: ')
    cluster.call(1, { type: 'crdt', op: { type: 'doc', key: 'docs/a', action: 'update', update: Y.encodeStateAsUpdate(client, before) } })
    cluster.runUntil(() => [0, 1, 2].every((node) => cluster.replica(node).crdt.read('docs/a') === '1: from node 0'), 5_000, 'convergence')
    for (const node of [0, 1, 2]) {
      expect(docCanonicalState(serverDoc(cluster, node, 'docs/a'))).toBe(docCanonicalState(replicaDoc(cluster, node, 'docs/a')))
    }
    expect(crdtEvents(cluster, 2, 'docChanged').every((event) => event.origin === 'peer')).toBe(true)
    expect(crdtEvents(cluster, 1, 'docChanged').map((event) => event.origin)).toContain('local')

    // Node 2 restarts: a server starting with it gets the whole document from the recovery event.
    const from = cluster.events.length
    cluster.sim.crash(2)
    cluster.sim.restart(2)
    cluster.runFor(50)
    const recovered = crdtEvents(cluster, 2, 'docChanged', from)
    expect(recovered[0]?.origin).toBe('recovery')
    expect(serverDoc(cluster, 2, 'docs/a', from).getText('text').toString()).toBe('1: from node 0')
  })

  it('carry awareness from a client of one node to the others, never stored', () => {
    const cluster = new ReplicaCluster({ nodes: 3, policies })
    const update = encodeWith([{ clientId: 42, clock: 1, stateJson: JSON.stringify({ user: { name: 'ann' }, cursor: 7 }) }], writeAwarenessUpdate)
    cluster.call(0, { type: 'awareness', key: 'docs/a', update })
    cluster.runUntil(() => crdtEvents(cluster, 2, 'awarenessChanged').length > 0, 1_000, 'awareness at node 2')
    expect(crdtEvents(cluster, 1, 'awarenessChanged')).toMatchObject([{ key: 'docs/a', origin: 'peer', added: [42], update }])
    expect(cluster.replica(2).awarenessStates('docs/a')).toEqual(update)
    expect(cluster.tryRequest(0, { type: 'awareness', key: 'cnt/x', update }).refusal).toMatchObject({ code: 'typeMismatch' })
    expect(cluster.tryRequest(0, { type: 'awareness', key: 'docs/a', update: new Uint8Array([3]) }).refusal).toMatchObject({ code: 'invalidAwareness' })
  })
})
