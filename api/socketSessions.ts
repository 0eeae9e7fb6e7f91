/**
 * The API's WebSocket sessions as data: what a socket of /v1/events or
 * /v1/docs/:name is (SocketSession), enough to start the session again over
 * the same socket. A host whose sockets outlive its memory (a hibernating
 * Durable Object keeps the session with the socket, durable-objects/
 * objectSockets.ts) gives the session back to `sessionEvents` when it wakes:
 *
 * - an events viewer resumes after the last event it was sent (`since`,
 *   kept up to date as events go out): the host's event log answers as for
 *   any `?since=` (events still kept, or a gap and a fresh snapshot when the
 *   numbering's epoch changed);
 * - a document client is greeted again (SyncStep1, awareness) and keeps
 *   syncing: y-protocols clients answer a SyncStep1 at any time; its
 *   awareness clients are kept too, so its close still marks them gone.
 *
 * A session stays small (a host may bound it: a Durable Object's attachment
 * is at most 2 KiB): a key of at most 128 characters, at most
 * awarenessClientsPerConnectionMax client ids, an epoch and a number.
 *
 * Runtimes that keep sockets in memory (Node) never resume; the sessions are
 * the same there.
 */
import type { WSEvents, WSMessageReceive } from 'hono/ws'
import type { ApiContext } from './context.ts'
import { apiLimits } from './contract.ts'
import { DocConnection, docHubLimits } from './docHub.ts'
import { statusOf } from './errors.ts'
import { EventsFeed, type FeedPosition } from './eventsFeed.ts'
import { closeCodeOf, closeSocket } from './sockets.ts'

export const eventsRoute = '/v1/events'
export const docsRoute = '/v1/docs/:name{.+}'

/** Who opened the socket: the access its token gave. */
export type SessionAccess = 'read' | 'write'

/** An events viewer, resumed after `since` (the last event it was sent). */
export interface EventsSession {
  readonly kind: 'events'
  readonly access: SessionAccess
  readonly since: FeedPosition | null
}

/** A document client; `awarenessClients`: the awareness clients it controls (at most docHubLimits.awarenessClientsPerConnectionMax), marked gone when it closes. */
export interface DocSession {
  readonly kind: 'doc'
  readonly access: SessionAccess
  readonly key: string
  readonly readOnly: boolean
  readonly awarenessClients: readonly number[]
}

export type SocketSession = EventsSession | DocSession

/**
 * One socket's session as it goes: `session` changes as events are sent,
 * and `onChange` (set by a host that keeps sessions with their sockets)
 * hears every change.
 */
export class SessionRecord {
  session: SocketSession
  onChange: ((session: SocketSession) => void) | null = null

  constructor(session: SocketSession) {
    this.session = session
  }

  update(session: SocketSession): void {
    this.session = session
    this.onChange?.(session)
  }
}

/** What the upgrade is given as its options: the runtime may keep the record with the socket. */
export interface SessionUpgradeOptions {
  readonly record: SessionRecord
}

/** The socket events of a session: the same for a new socket and for one a host resumes (onOpen starts the session). */
export function sessionEvents<Socket>(context: ApiContext, record: SessionRecord): WSEvents<Socket> {
  const session = record.session
  return session.kind === 'events' ? eventsSession(context, record, session.since) : docSession(context, record, session)
}

function eventsSession<Socket>(context: ApiContext, record: SessionRecord, since: FeedPosition | null): WSEvents<Socket> {
  const { host, stats } = context
  let feed: EventsFeed | null = null
  return {
    onOpen: (_event, socket) => {
      stats.socketOpened(eventsRoute)
      feed = new EventsFeed(host, socket, since, (position) => {
        const session = record.session
        if (session.kind === 'events') record.update({ ...session, since: position })
      })
    },
    onClose: () => {
      stats.socketClosed(eventsRoute)
      feed?.close()
    },
  }
}

function docSession<Socket>(context: ApiContext, record: SessionRecord, session: DocSession): WSEvents<Socket> {
  const { stats, hub } = context
  const { key, readOnly } = session
  let connection: DocConnection | null = null
  /** The awareness clients as last kept in the session: it changes only when they do. */
  let clientsKept = session.awarenessClients.join(',')
  return {
    onOpen: (_event, socket) => {
      stats.socketOpened(docsRoute)
      const opened = hub.open(key, socket, readOnly, session.awarenessClients)
      if (opened instanceof DocConnection) connection = opened
      else closeSocket(socket, closeCodeOf(statusOf(opened.code)), `${opened.code}: ${opened.message}`)
    },
    onMessage: (event, socket) => {
      if (connection === null) return
      const bytes = bytesOf(event.data)
      if (bytes === null) return closeSocket(socket, closeCodeOf(400), 'y-protocols messages are binary')
      if (bytes.length > apiLimits.docMessageBytesMax) return closeSocket(socket, closeCodeOf(413), `message over docMessageBytesMax=${apiLimits.docMessageBytesMax}`)
      hub.message(connection, bytes)
      const clients = [...connection.awarenessClocks.keys()]
      if (clients.join(',') !== clientsKept && record.session.kind === 'doc') {
        clientsKept = clients.join(',')
        record.update({ ...record.session, awarenessClients: clients })
      }
    },
    onClose: () => {
      stats.socketClosed(docsRoute)
      if (connection !== null) hub.close(connection)
    },
  }
}

/** A binary message's bytes; null for text (and Blobs, which runtimes hand out only when asked to). */
function bytesOf(data: WSMessageReceive): Uint8Array | null {
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  return null
}

/** A session kept outside the API (a socket attachment), or why it is not one: the host closes such a socket. */
export function readSocketSession(value: unknown): SocketSession | Error {
  if (typeof value !== 'object' || value === null) return new Error('no session')
  const record = value as Record<string, unknown>
  const access = record.access
  if (access !== 'read' && access !== 'write') return new Error(`session access ${String(access)} is neither read nor write`)
  if (record.kind === 'events') {
    const since = record.since
    if (since === null) return { kind: 'events', access, since: null }
    if (typeof since !== 'object' || since === undefined) return new Error('events session without since')
    const { epoch, seq } = since as Record<string, unknown>
    if (typeof epoch !== 'string' || !Number.isSafeInteger(seq) || (seq as number) < 0) return new Error('events session with a malformed since')
    return { kind: 'events', access, since: { epoch, seq: seq as number } }
  }
  if (record.kind === 'doc') {
    const { key, readOnly, awarenessClients } = record
    if (typeof key !== 'string' || typeof readOnly !== 'boolean') return new Error('doc session without key or readOnly')
    if (!Array.isArray(awarenessClients) || awarenessClients.length > docHubLimits.awarenessClientsPerConnectionMax || !awarenessClients.every((id) => Number.isSafeInteger(id) && id >= 0)) {
      return new Error(`doc session without a list of at most ${docHubLimits.awarenessClientsPerConnectionMax} awareness clients`)
    }
    // A write-less client never gains writes by a resume.
    return { kind: 'doc', access, key, readOnly: readOnly || access !== 'write', awarenessClients: awarenessClients as number[] }
  }
  return new Error(`session kind ${String(record.kind)} is neither events nor doc`)
}

/** The session as plain data (structured-clone safe), what readSocketSession reads back. */
export function writeSocketSession(session: SocketSession): SocketSession {
  return session.kind === 'events'
    ? { kind: 'events', access: session.access, since: session.since === null ? null : { epoch: session.since.epoch, seq: session.since.seq } }
    : { kind: 'doc', access: session.access, key: session.key, readOnly: session.readOnly, awarenessClients: [...session.awarenessClients] }
}
