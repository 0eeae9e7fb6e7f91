/**
 * One live node as a source: its `/v1/events` feed over a WebSocket (a
 * snapshot, then numbered events) and a fresh snapshot by HTTP now and then
 * (events say what happened, not where counters stand). When the link drops
 * it reconnects with backoff and jitter, resuming after the last event it
 * saw; a node that restarted (another epoch) or dropped events meanwhile
 * (a gap) is read afresh. The connection state is part of what it publishes:
 * a lost node shows as lost, with its last snapshot and the next retry.
 */
import WebSocket from 'ws'
import { clusterEvent, noteEvent } from '../clusterEvent.ts'
import type { ClusterSource, KeyReading } from '../clusterSource.ts'
import { EventRing } from '../eventRing.ts'
import type { ReplicaView } from '../nodeSnapshot.ts'
import { Store } from '../source.ts'
import type { ConnectionState, SourceState } from '../sourceState.ts'
import { systemTimers, type Timers } from '../timers.ts'
import { reconnectDelayMs } from './backoff.ts'
import type { ReplicaEvent } from '../../../core/replica/events.ts'
import { isReplicaSnapshot, parseFeedMessage, type FeedMessage, type Malformed } from './feedMessage.ts'
import { authHeaders, eventsUrl, requestJson, type Fetch } from './nodeHttp.ts'

export const liveLimits = {
  /** A fresh snapshot this often while connected. */
  snapshotPollMs: 1_000,
  /** After events, a fresh snapshot this soon (at most), so counters follow what the events said. */
  snapshotAfterEventsMs: 200,
  /** A message larger than this is refused and the link reset: a snapshot of 10,000 keys is far below. */
  messageBytesMax: 32 * 1024 * 1024,
  /** An open socket that brings no snapshot within this is given up and retried. */
  handshakeTimeoutMs: 10_000,
} as const

/** What the source needs of a socket: the `ws` package's WebSocket, or a test's stand-in. */
export interface FeedSocket {
  on(event: 'open', listener: () => void): unknown
  on(event: 'message', listener: (data: WebSocket.RawData, isBinary: boolean) => void): unknown
  on(event: 'close', listener: (code: number, reason: Buffer) => void): unknown
  on(event: 'error', listener: (error: Error) => void): unknown
  close(): void
  terminate(): void
}

export interface LiveNodeOptions {
  /** The node's API, `http(s)://host:port`. */
  readonly url: string
  /** Bearer token (a read token suffices). */
  readonly token?: string | null
  readonly timers?: Timers
  readonly random?: () => number
  readonly fetch?: Fetch
  readonly openSocket?: (url: string, headers: Record<string, string>) => FeedSocket
  readonly eventsMax?: number
}

function defaultOpenSocket(url: string, headers: Record<string, string>): FeedSocket {
  return new WebSocket(url, { headers, maxPayload: liveLimits.messageBytesMax, handshakeTimeout: liveLimits.handshakeTimeoutMs })
}

export class LiveNodeSource implements ClusterSource {
  readonly url: string
  private readonly token: string | null
  private readonly timers: Timers
  private readonly random: () => number
  private readonly fetchImpl: Fetch | undefined
  private readonly openSocket: (url: string, headers: Record<string, string>) => FeedSocket
  private readonly ring: EventRing
  private readonly store: Store<SourceState>
  private socket: FeedSocket | null = null
  private connection: ConnectionState = { kind: 'connecting', attempt: 0 }
  private attempt = 0
  /** The last event seen, to resume after: the epoch names the node's life, the number counts its events. */
  private position: { epoch: string; seq: number } | null = null
  private snapshot: ReplicaView | null = null
  private snapshotAtMs: number | null = null
  private retryTimer: unknown = null
  private pollTimer: unknown = null
  private pollDueMs = 0
  private handshakeTimer: unknown = null
  private fetching = false
  /** The last failed poll's reason, while polls keep failing. */
  private pollError: string | null = null
  private closed = false
  private eventsCache: { readonly total: number; readonly events: SourceState['events'] } | null = null

  constructor(options: LiveNodeOptions) {
    this.url = options.url
    this.token = options.token ?? null
    this.timers = options.timers ?? systemTimers
    this.random = options.random ?? Math.random
    this.fetchImpl = options.fetch
    this.openSocket = options.openSocket ?? defaultOpenSocket
    this.ring = new EventRing(options.eventsMax)
    this.store = new Store(this.state())
    this.connect()
  }

  getSnapshot = (): SourceState => this.store.getSnapshot()
  subscribe = (listener: () => void): (() => void) => this.store.subscribe(listener)

  /**
   * The node's id once a snapshot named it; its address until then, with the
   * URL's query (the regions of one edge Worker share a host: `?region=` tells
   * them apart, and rows need distinct ids).
   */
  get nodeId(): string {
    if (this.snapshot !== null) return this.snapshot.node.id
    const url = new URL(this.url)
    return `${url.host}${url.search}`
  }

  focus(): void {
    // A node's snapshot always carries its whole membership view.
  }

  hasNode(nodeId: string): boolean {
    return nodeId === this.nodeId
  }

  async readKey(_nodeId: string, key: string): Promise<KeyReading> {
    try {
      const reply = (await requestJson(this.http(), 'GET', `/v1/kv/${key.split('/').map(encodeURIComponent).join('/')}`)) as { value?: unknown }
      return { ok: true, value: reply.value as never }
    } catch (error) {
      if ((error as { status?: number }).status === 404) return { ok: true, value: undefined }
      return { ok: false, error: (error as Error).message }
    }
  }

  close(): void {
    this.closed = true
    for (const timer of [this.retryTimer, this.pollTimer, this.handshakeTimer]) if (timer !== null) this.timers.clearTimeout(timer)
    this.retryTimer = this.pollTimer = this.handshakeTimer = null
    this.socket?.terminate()
    this.socket = null
    this.connection = { kind: 'closed' }
    this.publish()
  }

  http(): { url: string; token: string | null; fetch?: Fetch } {
    return { url: this.url, token: this.token, ...(this.fetchImpl === undefined ? {} : { fetch: this.fetchImpl }) }
  }

  // ---- the feed -------------------------------------------------------------------

  private connect(): void {
    this.retryTimer = null
    if (this.closed) return
    this.connection = { kind: 'connecting', attempt: this.attempt }
    this.publish()
    let socket: FeedSocket
    try {
      socket = this.openSocket(eventsUrl(this.url, this.position), authHeaders(this.token))
    } catch (error) {
      return this.lost(`cannot connect: ${(error as Error).message}`)
    }
    this.socket = socket
    // The server speaks first (a snapshot); a socket that never does is retried.
    this.handshakeTimer = this.timers.setTimeout(() => {
      this.handshakeTimer = null
      if (this.socket === socket && this.connection.kind !== 'live') this.drop(socket, `no snapshot within ${liveLimits.handshakeTimeoutMs} ms`)
    }, liveLimits.handshakeTimeoutMs)
    let reason = 'connection closed'
    socket.on('message', (data, isBinary) => {
      if (this.socket !== socket) return
      if (isBinary) return this.drop(socket, 'binary message on the event feed')
      this.receive(socket, parseFeedMessage(rawText(data)))
    })
    socket.on('error', (error) => {
      reason = error.message
    })
    socket.on('close', (code) => {
      if (this.socket !== socket) return
      this.socket = null
      this.lost(code === 1000 || code === 1005 ? reason : `${reason} (code ${code})`)
    })
  }

  private receive(socket: FeedSocket, message: FeedMessage | Malformed): void {
    const nowMs = this.timers.wallMs()
    switch (message.kind) {
      case 'snapshot':
        this.applySnapshot(message.snapshot, nowMs, true)
        this.attempt = 0
        if (this.connection.kind !== 'live') {
          this.connection = { kind: 'live', sinceMs: nowMs }
          if (this.handshakeTimer !== null) this.timers.clearTimeout(this.handshakeTimer)
          this.handshakeTimer = null
          this.schedulePoll(liveLimits.snapshotPollMs)
        }
        break
      case 'event':
        if (this.position !== null && message.seq <= this.position.seq) return // seen before the reconnect
        if (this.position !== null) this.position.seq = message.seq
        // Its byte arrays came as base64 (Wire<ReplicaEvent>): the summaries never read them.
        this.ring.push(clusterEvent(this.nodeId, message.seq, nowMs, message.event as unknown as ReplicaEvent))
        this.schedulePoll(liveLimits.snapshotAfterEventsMs)
        break
      case 'gap':
        this.ring.push(noteEvent(this.nodeId, nowMs, 'tui', 'gap', message.reason === 'epoch' ? 'the node restarted: its earlier events are gone' : `events ${message.fromSeq}..${message.toSeq} are no longer kept`))
        this.schedulePoll(0)
        break
      case 'cutOff':
        this.ring.push(noteEvent(this.nodeId, nowMs, 'tui', 'cutOff', `${message.reason}: ${message.message}`))
        return this.drop(socket, `cut off: ${message.reason}`)
      case 'error':
        return this.drop(socket, `${message.error.code}: ${message.error.message}`)
      case 'malformed':
        return this.drop(socket, `malformed message: ${message.why}`)
    }
    this.publish()
  }

  private applySnapshot(snapshot: ReplicaView & { readonly events: { readonly epoch: string; readonly lastSeq: number } }, nowMs: number, fromFeed: boolean): void {
    const epoch = snapshot.events.epoch
    if (fromFeed) {
      if (this.position === null) this.position = { epoch, seq: snapshot.events.lastSeq }
      else if (this.position.epoch !== epoch) {
        this.ring.push(noteEvent(snapshot.node.id, nowMs, 'tui', 'restart', `new epoch ${epoch} (was ${this.position.epoch})`))
        // The feed replays what the new life kept: none of it was seen.
        this.position = { epoch, seq: 0 }
      }
    } else if (this.position !== null && this.position.epoch !== epoch) {
      // A restart seen by HTTP before the feed noticed: the feed will reconnect and resume from the new epoch.
      return
    }
    this.snapshot = snapshot
    this.snapshotAtMs = nowMs
  }

  /** Gives up on a socket (it misbehaved or the node refused us) and reconnects after the backoff. */
  private drop(socket: FeedSocket, reason: string): void {
    if (this.socket !== socket) return
    this.socket = null
    socket.terminate()
    this.lost(reason)
  }

  private lost(reason: string): void {
    if (this.closed) return
    if (this.handshakeTimer !== null) this.timers.clearTimeout(this.handshakeTimer)
    if (this.pollTimer !== null) this.timers.clearTimeout(this.pollTimer)
    this.handshakeTimer = this.pollTimer = null
    if (this.connection.kind === 'live') this.ring.push(noteEvent(this.nodeId, this.timers.wallMs(), 'tui', 'disconnected', reason))
    this.attempt++
    const delayMs = reconnectDelayMs(this.attempt, this.random)
    this.connection = { kind: 'disconnected', attempt: this.attempt, retryAtMs: this.timers.wallMs() + delayMs, reason }
    this.retryTimer = this.timers.setTimeout(() => this.connect(), delayMs)
    this.publish()
  }

  // ---- snapshots by HTTP ------------------------------------------------------------

  /** A fresh snapshot within `delayMs` (an earlier one already planned stays). */
  private schedulePoll(delayMs: number): void {
    if (this.closed || this.connection.kind !== 'live') return
    const dueMs = this.timers.nowMs() + delayMs
    if (this.pollTimer !== null) {
      if (this.pollDueMs <= dueMs) return
      this.timers.clearTimeout(this.pollTimer)
    }
    this.pollDueMs = dueMs
    this.pollTimer = this.timers.setTimeout(() => {
      this.pollTimer = null
      void this.poll()
    }, delayMs)
  }

  private async poll(): Promise<void> {
    if (this.fetching || this.closed) return
    this.fetching = true
    try {
      const snapshot = await requestJson(this.http(), 'GET', '/v1/snapshot')
      if (this.closed || this.connection.kind !== 'live') return
      if (!isReplicaSnapshot(snapshot)) throw new Error('GET /v1/snapshot: not a snapshot')
      this.applySnapshot(snapshot, this.timers.wallMs(), false)
      this.pollError = null
      this.publish()
    } catch (error) {
      // Noted once, not at every poll: the feed goes on, and the snapshot shown is the last one.
      const message = (error as Error).message
      if (message !== this.pollError) this.ring.push(noteEvent(this.nodeId, this.timers.wallMs(), 'tui', 'snapshot', message))
      this.pollError = message
      this.publish()
    } finally {
      this.fetching = false
      this.schedulePoll(liveLimits.snapshotPollMs)
    }
  }

  // ---- publishing -----------------------------------------------------------------

  private publish(): void {
    if (this.store !== undefined) this.store.set(this.state())
  }

  private state(): SourceState {
    const cache = this.eventsCache
    const events = cache !== null && cache.total === this.ring.total ? cache.events : this.ring.toArray()
    this.eventsCache = { total: this.ring.total, events }
    return {
      label: this.url,
      connection: this.connection,
      nodes: [
        {
          id: this.nodeId,
          region: this.snapshot?.node.region ?? null,
          up: this.connection.kind === 'live',
          snapshot: this.snapshot === null ? null : { kind: 'replica', replica: this.snapshot },
          snapshotAtMs: this.snapshotAtMs,
          url: this.url,
        },
      ],
      events,
      eventsTotal: this.ring.total,
      eventsDropped: this.ring.dropped,
      sim: null,
    }
  }
}

function rawText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8')
  return Buffer.from(data as ArrayBuffer).toString('utf8')
}
