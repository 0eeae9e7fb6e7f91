/**
 * The API's WebSockets inside a region object, hibernatable: the Hono
 * `UpgradeWebSocket` the API is given (what @hono/node-ws is on a node),
 * and the object's WebSocket handlers behind it.
 *
 * - Upgrade: the server end is accepted with `ctx.acceptWebSocket` (the
 *   runtime holds it, not this object's memory), tagged with its session's
 *   kind, and its session (api/socketSessions.ts: events or doc, the access
 *   its token gave, the document, the last event sent) is kept with it as
 *   its attachment, rewritten as the session changes. The API's `onOpen`
 *   runs right after (Hono's hono/cloudflare-workers helper never calls it;
 *   what is sent before the client reads waits in the socket).
 * - Messages, closes and errors come through the object's `webSocketMessage`,
 *   `webSocketClose` and `webSocketError` handlers, here `message`, `closed`
 *   and `failed`.
 * - Wake: the object was evicted while its sockets stayed open (hibernation);
 *   the constructor runs again, the replica is rebuilt from SQLite, and
 *   `resume` starts each socket's session again from its attachment: a
 *   viewer's feed resumes after its last event, a document client is
 *   greeted again and keeps syncing.
 *
 * A close from the client is answered with a close, except codes 1005 and
 * 1006, which say no code was sent and must never be sent back.
 */
import { defineWebSocketHelper, WSContext, type UpgradeWebSocket, type WSEvents } from 'hono/ws'
import { closeCodeOf } from '../api/sockets.ts'
import { readSocketSession, SessionRecord, writeSocketSession, type SessionUpgradeOptions, type SocketSession } from '../api/socketSessions.ts'

const noStatusCodes = new Set([1005, 1006])

/** The tags of the API's sockets (a session's kind); the object's other sockets (node peers) are not this module's. */
const sessionKinds = ['events', 'doc'] as const satisfies readonly SocketSession['kind'][]

/** What the API gives for a session: its socket events (createApiServer's `sessionEvents`). */
export type SessionEventsOf = (record: SessionRecord) => WSEvents<WebSocket>

interface LiveSocket {
  readonly events: WSEvents<WebSocket>
  readonly context: WSContext<WebSocket>
}

export class ObjectSocketsError extends Error {
  override readonly name = 'ObjectSocketsError'
}

export class ObjectSockets {
  /** The API's upgrade (ApiOptions.upgradeWebSocket). */
  readonly upgrade: UpgradeWebSocket<WebSocket, SessionUpgradeOptions>
  /** Sockets whose session runs in this life of the object. */
  private readonly live = new Map<WebSocket, LiveSocket>()
  private readonly ctx: DurableObjectState
  private sessionEventsOf: SessionEventsOf | null = null
  /** Sockets this life of the object resumed from their attachments (after a wake). */
  resumed = 0

  constructor(ctx: DurableObjectState) {
    this.ctx = ctx
    this.upgrade = defineWebSocketHelper<WebSocket, SessionUpgradeOptions>(async (c, events, options) => {
      if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') return
      const record = options?.record
      if (record === undefined) throw new ObjectSocketsError('the API upgraded a socket without its session: a region object cannot keep it across hibernation')
      const pair = new WebSocketPair()
      const client = pair[0]
      const server = pair[1]
      this.ctx.acceptWebSocket(server, [record.session.kind])
      const live = this.track(server, record, events)
      queueMicrotask(() => this.open(server, live))
      return new Response(null, { status: 101, webSocket: client })
    })
  }

  /** The API's sessions: from now on sockets can be resumed; every socket the object holds and runs no session for is resumed now. */
  resume(sessionEventsOf: SessionEventsOf): void {
    this.sessionEventsOf = sessionEventsOf
    for (const kind of sessionKinds) for (const socket of this.ctx.getWebSockets(kind)) if (!this.live.has(socket)) this.resumeOne(socket)
  }

  /** `webSocketMessage`: a message from the client. */
  message(socket: WebSocket, data: string | ArrayBuffer): void {
    const live = this.live.get(socket) ?? this.resumeOne(socket)
    if (live === null) return
    try {
      live.events.onMessage?.(new MessageEvent('message', { data }), live.context)
    } catch (error) {
      console.error('dwcp region object: WebSocket message handler failed', error)
      closeQuietly(socket, 1011, 'internal error')
    }
  }

  /** `webSocketClose`: the client closed; answered with a close, and the session ends. */
  closed(socket: WebSocket, code: number, reason: string, wasClean: boolean): void {
    if (!noStatusCodes.has(code)) closeQuietly(socket, code, reason)
    this.end(socket, new CloseEvent('close', { code, reason, wasClean }))
  }

  /** `webSocketError`: the socket failed; its session ends. */
  failed(socket: WebSocket, error: unknown): void {
    console.warn(`dwcp region object: WebSocket failed: ${String(error)}`)
    const live = this.live.get(socket)
    live?.events.onError?.(new Event('error'), live.context)
    this.end(socket, new CloseEvent('close', { code: 1006, reason: 'socket error', wasClean: false }))
  }

  /** Sockets whose session runs in this life of the object. */
  get sessionsRunning(): number {
    return this.live.size
  }

  private end(socket: WebSocket, event: CloseEvent): void {
    const live = this.live.get(socket)
    if (live === undefined) return
    this.live.delete(socket)
    try {
      live.events.onClose?.(event, live.context)
    } catch (error) {
      console.error('dwcp region object: WebSocket close handler failed', error)
    }
  }

  /** Starts the session kept with `socket` again (after a wake); null when it cannot (the socket is closed). */
  private resumeOne(socket: WebSocket): LiveSocket | null {
    if (this.sessionEventsOf === null) {
      closeQuietly(socket, closeCodeOf(503), 'the region object cannot start; reconnect later')
      return null
    }
    const session = readSocketSession(socket.deserializeAttachment())
    if (session instanceof Error) {
      closeQuietly(socket, 1011, `no session to resume: ${session.message}`)
      return null
    }
    const record = new SessionRecord(session)
    const live = this.track(socket, record, this.sessionEventsOf(record))
    this.resumed++
    this.open(socket, live)
    return live
  }

  /** Keeps the session with the socket (its attachment, rewritten as the session changes) and runs it in this life. */
  private track(socket: WebSocket, record: SessionRecord, events: WSEvents<WebSocket>): LiveSocket {
    socket.serializeAttachment(writeSocketSession(record.session))
    record.onChange = (session) => socket.serializeAttachment(writeSocketSession(session))
    const context = new WSContext<WebSocket>({
      raw: socket,
      get readyState() {
        return socket.readyState as 0 | 1 | 2 | 3
      },
      send: (data) => socket.send(data),
      close: (code, reason) => socket.close(code, reason),
    })
    const live = { events, context }
    this.live.set(socket, live)
    return live
  }

  private open(socket: WebSocket, live: LiveSocket): void {
    try {
      live.events.onOpen?.(new Event('open'), live.context)
    } catch (error) {
      // Thrown outside any request, it would be an uncaught exception of the object: end this socket only.
      console.error('dwcp region object: WebSocket open handler failed', error)
      closeQuietly(socket, 1011, 'internal error')
    }
  }
}

function closeQuietly(socket: WebSocket, code: number, reason: string): void {
  try {
    socket.close(code, reason)
  } catch {
    // Closed from this side already.
  }
}
