/**
 * The y-websocket server of a node (GET /v1/docs/:name): y-protocols sync and
 * awareness per connection, over the replica's document, so that a stock
 * y-websocket client can connect to any node. The message flow is the
 * reference server's (@y/websocket-server): on connect the server sends its
 * SyncStep1 and the present awareness states; a client's SyncStep1 is
 * answered with a SyncStep2; updates and awareness from a client go into the
 * replica, and every change the replica reports goes out to the document's
 * other connections here. A closed connection's awareness clients are marked
 * gone, as y-protocols' removeAwarenessStates does.
 *
 * - A client's update becomes `crdt` op `doc`/`update`; the replica gossips it.
 * - The replica's `docChanged` events (edits through the HTTP API, from peers,
 *   and from other connections) are broadcast as update messages, except to
 *   the connection whose own update caused the change. The hub recognises
 *   those because the kernel reports events synchronously, inside `call`.
 * - Client awareness becomes an `awareness` call; `awarenessChanged` events
 *   (peers' clients, expiries, other connections) are broadcast likewise.
 * - Read-only connections are synced, but their updates are refused (an auth
 *   permission-denied message; the connection stays).
 */
import { encodeWith, readAwarenessUpdate, writeAwarenessUpdate, type AwarenessEntry, type ReplicaEvent, type ReplicaReply } from '../core/index.ts'
import type { Subscription } from '../host/eventLog.ts'
import type { CallOutcome } from '../host/kernel.ts'
import type { ReplicaHost } from '../host/replicaHost.ts'
import { statusOf } from './errors.ts'
import type { ApiStats } from './metrics.ts'
import { closeCodeOf, closeSocket, sendOrDrop, type ApiSocket } from './sockets.ts'
import { isEmptyUpdate, readYMessage, writeYMessage, type YMessage } from './yMessages.ts'

export type DocHost = Pick<ReplicaHost, 'call' | 'subscribe' | 'docStateVector' | 'docDiff' | 'awarenessStates'>

export const docHubLimits = {
  /** Document connections one node serves at once. */
  connectionsMax: 1024,
  /** Awareness clients one connection may control (a client has one; a few for tabs sharing a socket). */
  awarenessClientsPerConnectionMax: 64,
} as const

export class DocConnection {
  readonly key: string
  readonly socket: ApiSocket
  readonly readOnly: boolean
  /** Awareness clients this connection controls, with the last clock it sent for each. */
  readonly awarenessClocks = new Map<number, number>()
  closed = false

  constructor(key: string, socket: ApiSocket, readOnly: boolean) {
    this.key = key
    this.socket = socket
    this.readOnly = readOnly
  }
}

const removedState = 'null'

export class DocHub {
  private readonly host: DocHost
  private readonly stats: ApiStats
  private readonly byKey = new Map<string, Set<DocConnection>>()
  private connectionCount = 0
  private subscription: Subscription<ReplicaEvent> | null = null
  /** The connection whose update or awareness the replica is taking now (its own change is not echoed to it). */
  private applying: DocConnection | null = null
  private draining = false

  constructor(host: DocHost, stats: ApiStats) {
    this.host = host
    this.stats = stats
  }

  get connections(): number {
    return this.connectionCount
  }

  /**
   * A new connection, or why none: the hub is full, or it cannot follow the
   * replica's events (the caller closes the socket). `awarenessClients`: a
   * resumed connection's clients (their clocks are the replica's), so that
   * its close still marks them gone.
   */
  open(key: string, socket: ApiSocket, readOnly: boolean, awarenessClients: readonly number[] = []): DocConnection | { readonly code: string; readonly message: string } {
    if (this.connectionCount >= docHubLimits.connectionsMax) return { code: 'overloaded', message: `connectionsMax=${docHubLimits.connectionsMax} document connections are open` }
    if (this.subscription === null) {
      const subscription = this.host.subscribe(null)
      if (!('take' in subscription)) return subscription
      subscription.onAvailable = () => this.drain()
      this.subscription = subscription
    }
    const connection = new DocConnection(key, socket, readOnly)
    const awareness = this.host.awarenessStates(key)
    if (awarenessClients.length > 0 && awareness !== null) {
      const entries = readAwarenessUpdate(awareness)
      const wanted = new Set(awarenessClients.slice(0, docHubLimits.awarenessClientsPerConnectionMax))
      if (entries.ok) for (const entry of entries.value) if (wanted.has(entry.clientId) && entry.stateJson !== removedState) connection.awarenessClocks.set(entry.clientId, entry.clock)
    }
    let connections = this.byKey.get(key)
    if (connections === undefined) {
      connections = new Set()
      this.byKey.set(key, connections)
    }
    connections.add(connection)
    this.connectionCount++
    // As the reference server: our state vector, then who is here.
    sendOrDrop(socket, writeYMessage({ kind: 'syncStep1', stateVector: this.host.docStateVector(key) }))
    if (awareness !== null) sendOrDrop(socket, writeYMessage({ kind: 'awareness', update: awareness }))
    return connection
  }

  /** A binary message from the connection's client. */
  message(connection: DocConnection, data: Uint8Array): void {
    if (connection.closed) return
    const message = readYMessage(data)
    if (message instanceof Error) {
      this.stats.docMessagesMalformed++
      return this.refuse(connection, 'invalidUpdate', `not a y-protocols message: ${message.message}`)
    }
    this.handle(connection, message)
  }

  /** The connection closed: forget it, and tell everyone its awareness clients are gone. */
  close(connection: DocConnection): void {
    if (connection.closed) return
    // Called from a socket event, never inside the kernel's drive; if a runtime ever does, wait for the drive to end.
    if (this.draining) {
      queueMicrotask(() => this.close(connection))
      return
    }
    connection.closed = true
    const connections = this.byKey.get(connection.key)
    connections?.delete(connection)
    if (connections?.size === 0) this.byKey.delete(connection.key)
    this.connectionCount--
    if (connection.awarenessClocks.size > 0) {
      const gone: AwarenessEntry[] = [...connection.awarenessClocks].map(([clientId, clock]) => ({ clientId, clock: clock + 1, stateJson: removedState }))
      connection.awarenessClocks.clear()
      void this.host.call({ type: 'awareness', key: connection.key, update: encodeWith(gone, writeAwarenessUpdate) })
    }
    if (this.connectionCount === 0 && this.subscription !== null) {
      this.subscription.onAvailable = null
      this.subscription.close()
      this.subscription = null
    }
  }

  private handle(connection: DocConnection, message: YMessage): void {
    const { key, socket } = connection
    switch (message.kind) {
      case 'syncStep1': {
        const diff = this.host.docDiff(key, message.stateVector)
        if (!diff.ok) return this.refuse(connection, diff.error.code, diff.error.message)
        sendOrDrop(socket, writeYMessage({ kind: 'syncStep2', update: diff.value }))
        return
      }
      case 'syncStep2':
      case 'update':
        if (isEmptyUpdate(message.update)) return
        if (connection.readOnly) {
          this.stats.docUpdatesRefused++
          sendOrDrop(socket, writeYMessage({ kind: 'permissionDenied', reason: 'read-only connection: document updates are refused' }))
          return
        }
        return this.apply(connection, () => this.host.call({ type: 'crdt', op: { type: 'doc', key, action: 'update', update: message.update } }))
      case 'awareness': {
        const entries = readAwarenessUpdate(message.update)
        if (!entries.ok) return this.refuse(connection, entries.error.code, entries.error.message)
        for (const entry of entries.value) {
          if (entry.stateJson === removedState) connection.awarenessClocks.delete(entry.clientId)
          else if (connection.awarenessClocks.has(entry.clientId) || connection.awarenessClocks.size < docHubLimits.awarenessClientsPerConnectionMax) connection.awarenessClocks.set(entry.clientId, entry.clock)
          else return this.refuse(connection, 'tooManyAwarenessStates', `awarenessClientsPerConnectionMax=${docHubLimits.awarenessClientsPerConnectionMax}`)
        }
        return this.apply(connection, () => this.host.call({ type: 'awareness', key, update: message.update }))
      }
      case 'queryAwareness': {
        const awareness = this.host.awarenessStates(key)
        sendOrDrop(socket, writeYMessage({ kind: 'awareness', update: awareness ?? encodeWith([], writeAwarenessUpdate) }))
        return
      }
      case 'permissionDenied':
        // Servers send these; a client that does is ignored, as the reference server ignores auth messages.
        return
    }
  }

  /** Runs a call for the connection: the events it causes (reported inside the call) are not echoed to it. */
  private apply(connection: DocConnection, call: () => Promise<CallOutcome<ReplicaReply>>): void {
    this.applying = connection
    let outcome: Promise<CallOutcome<ReplicaReply>>
    try {
      outcome = call()
    } finally {
      this.applying = null
    }
    void outcome.then((result) => {
      if (result.kind === 'refused') this.refuse(connection, result.refusal.code, result.refusal.message)
      else if (!result.reply.ok) this.refuse(connection, result.reply.code, result.reply.message)
    })
  }

  /** Closes a connection whose client sent what the replica refuses: 44xx tells y-websocket not to retry, 45xx to retry later. */
  private refuse(connection: DocConnection, code: string, message: string): void {
    if (connection.closed) return
    closeSocket(connection.socket, closeCodeOf(statusOf(code)), `${code}: ${message}`)
  }

  /** The replica's events, as they come (inside the kernel's drive: only sends here). */
  private drain(): void {
    const subscription = this.subscription
    if (subscription === null) return
    this.draining = true
    try {
      for (const item of subscription.take(Number.MAX_SAFE_INTEGER)) {
        if (item.kind === 'event') this.onEvent(item.event)
        else if (item.kind === 'cutOff') this.lostEvents()
      }
    } finally {
      this.draining = false
    }
  }

  private onEvent(event: ReplicaEvent): void {
    if (event.source !== 'crdt') return
    const change = event.event
    if (change.kind !== 'docChanged' && change.kind !== 'awarenessChanged') return
    const connections = this.byKey.get(change.key)
    if (connections === undefined) return
    // A local change while a connection's call runs is that connection's own.
    const own = change.origin === 'local' && this.applying?.key === change.key ? this.applying : null
    const message = writeYMessage(change.kind === 'docChanged' ? { kind: 'update', update: change.update } : { kind: 'awareness', update: change.update })
    for (const connection of connections) if (connection !== own) sendOrDrop(connection.socket, message)
  }

  /** The subscription was cut off (it never should be: it is drained as events come): clients reconnect and sync afresh. */
  private lostEvents(): void {
    this.subscription = null
    for (const connections of this.byKey.values()) for (const connection of connections) closeSocket(connection.socket, closeCodeOf(503), 'the node lost track of document changes; reconnect')
  }
}
