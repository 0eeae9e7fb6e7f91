import { describe, expect, it } from 'vitest'
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate } from 'y-protocols/awareness'
import * as Y from 'yjs'
import { createApiServer } from '../../api/app.ts'
import type { ApiSocket } from '../../api/sockets.ts'
import { writeYMessage } from '../../api/yMessages.ts'
import { readSocketSession, SessionRecord, writeSocketSession, type SocketSession } from '../../api/socketSessions.ts'
import { ask, noUpgrade } from '../support/apiHarness.ts'
import { hostedCluster, hostedNodePolicies } from '../support/hostedCluster.ts'

/** A viewer's socket: keeps the JSON messages sent to it. */
class ViewerSocket implements ApiSocket {
  readyState = 1
  readonly sent: any[] = []
  send(data: string | Uint8Array<ArrayBuffer>): void {
    if (typeof data !== 'string') throw new Error('the feed sends text')
    this.sent.push(JSON.parse(data))
  }
  close(): void {
    this.readyState = 3
  }
}

/** A document client's socket: counts the binary messages sent to it. */
class BinarySocket implements ApiSocket {
  readyState = 1
  sent = 0
  send(): void {
    this.sent++
  }
  close(): void {
    this.readyState = 3
  }
}

/** The awareness states an update holds, as a y-protocols client sees them. */
function statesOf(update: Uint8Array | null): Map<number, unknown> {
  const seen = new Awareness(new Y.Doc())
  if (update !== null) applyAwarenessUpdate(seen, update, 'server')
  const states = new Map(seen.getStates())
  states.delete(seen.clientID)
  seen.destroy()
  return states
}

function served() {
  const cluster = hostedCluster(7, hostedNodePolicies)
  cluster.advance(3_000)
  const node = cluster.nodes[0]!
  const server = createApiServer({ backend: { host: node.host, faults: null }, tokens: { write: null, read: null }, upgradeWebSocket: noUpgrade })
  return { ...cluster, node, server }
}

/** Starts a session over `socket`, as a runtime does after an upgrade or a wake. */
function start(server: ReturnType<typeof served>['server'], record: SessionRecord, socket: ApiSocket) {
  const events = server.sessionEvents<ApiSocket>(record)
  events.onOpen?.(new Event('open'), socket as never)
  return events
}

describe('WebSocket sessions of the API', () => {
  it("keep an events viewer's position as events go out, and resume after it: the kept events again, no gap, no repeat", async () => {
    const { server, advance } = served()
    const record = new SessionRecord({ kind: 'events', access: 'read', since: null })
    const kept: SocketSession[] = []
    record.onChange = (session) => kept.push(readSocketSession(writeSocketSession(session)) as SocketSession)
    const first = new ViewerSocket()
    const events = start(server, record, first)
    expect(first.sent[0].kind).toBe('snapshot')
    const epoch: string = first.sent[0].snapshot.events.epoch
    await ask(server.app, advance, 'POST', '/v1/crdt/cnt/one', { body: { op: 'inc' } })
    const seen = first.sent.filter((message) => message.kind === 'event')
    expect(seen.length).toBeGreaterThan(0)
    const last = seen.at(-1)!.seq
    expect(record.session).toEqual({ kind: 'events', access: 'read', since: { epoch, seq: last } })
    expect(kept.at(-1)).toEqual(record.session)
    events.onClose?.(new Event('close') as never, first as never)

    // The socket "slept": events happen meanwhile; the session comes back from what was kept with the socket.
    await ask(server.app, advance, 'POST', '/v1/crdt/cnt/two', { body: { op: 'inc' } })
    const resumed = readSocketSession(writeSocketSession(record.session))
    if (resumed instanceof Error) throw resumed
    const second = new ViewerSocket()
    start(server, new SessionRecord(resumed), second)
    advance(100)
    expect(second.sent[0].kind).toBe('snapshot')
    expect(second.sent.filter((message) => message.kind === 'gap')).toEqual([])
    const again = second.sent.filter((message) => message.kind === 'event')
    expect(again[0].seq).toBe(last + 1)
    expect(again.some((message) => message.event.source === 'crdt' && message.event.event.key === 'cnt/two')).toBe(true)
  })

  it('resume a viewer of another epoch with a gap', () => {
    const { server } = served()
    const socket = new ViewerSocket()
    start(server, new SessionRecord({ kind: 'events', access: 'write', since: { epoch: 'elsewhere:1', seq: 40 } }), socket)
    expect(socket.sent.map((message) => message.kind).slice(0, 2)).toEqual(['snapshot', 'gap'])
    expect(socket.sent[1].reason).toBe('epoch')
  })

  it("keep a document client's awareness clients, so that its close after a resume still marks them gone", () => {
    const { server, node, advance } = served()
    const key = 'doc/notes'
    const record = new SessionRecord({ kind: 'doc', access: 'write', key, readOnly: false, awarenessClients: [] })
    const socket = new BinarySocket()
    const events = start(server, record, socket)
    const presence = new Awareness(new Y.Doc())
    presence.setLocalStateField('user', 'ada')
    events.onMessage?.(new MessageEvent('message', { data: writeYMessage({ kind: 'awareness', update: encodeAwarenessUpdate(presence, [presence.clientID]) }) }), socket as never)
    advance(100)
    expect(record.session).toMatchObject({ kind: 'doc', awarenessClients: [presence.clientID] })
    expect(statesOf(node.host.awarenessStates(key)).get(presence.clientID)).toEqual({ user: 'ada' })

    // A new life of the host's API (a woken object): the session comes back from what was kept with the socket, then the socket closes.
    const resumed = readSocketSession(writeSocketSession(record.session))
    if (resumed instanceof Error) throw resumed
    const nextLife = createApiServer({ backend: { host: node.host, faults: null }, tokens: { write: null, read: null }, upgradeWebSocket: noUpgrade })
    const again = new BinarySocket()
    const resumedEvents = start(nextLife, new SessionRecord(resumed), again)
    expect(again.sent).toBeGreaterThanOrEqual(1)
    resumedEvents.onClose?.(new Event('close') as never, again as never)
    advance(100)
    expect(statesOf(node.host.awarenessStates(key)).has(presence.clientID)).toBe(false)
    presence.destroy()
  })

  it('read back what they write, and refuse what is not a session', () => {
    const sessions: SocketSession[] = [
      { kind: 'events', access: 'read', since: null },
      { kind: 'events', access: 'write', since: { epoch: 'n1:3', seq: 12 } },
      { kind: 'doc', access: 'write', key: 'doc/notes', readOnly: true, awarenessClients: [] },
      { kind: 'doc', access: 'write', key: 'doc/notes', readOnly: false, awarenessClients: [7, 4_000_000_000] },
    ]
    for (const session of sessions) expect(readSocketSession(writeSocketSession(session))).toEqual(session)
    // A read-only token never comes back with writes.
    expect(readSocketSession({ kind: 'doc', access: 'read', key: 'doc/notes', readOnly: false, awarenessClients: [] })).toEqual({ kind: 'doc', access: 'read', key: 'doc/notes', readOnly: true, awarenessClients: [] })
    for (const bad of [
      null,
      'events',
      { kind: 'peer', access: 'read' },
      { kind: 'events', since: null },
      { kind: 'events', access: 'read', since: { epoch: 'e', seq: -1 } },
      { kind: 'doc', access: 'write', key: 3, readOnly: false, awarenessClients: [] },
      { kind: 'doc', access: 'write', key: 'doc/a', readOnly: false },
      { kind: 'doc', access: 'write', key: 'doc/a', readOnly: false, awarenessClients: Array.from({ length: 65 }, (_, id) => id) },
    ]) {
      expect(readSocketSession(bad)).toBeInstanceOf(Error)
    }
  })
})
