/**
 * A node's peer links: one authenticated WebSocket per pair of members,
 * carrying peer frames in batches.
 *
 * - Both sides dial (`ws(s)://…/v1/peer`) and accept; when a pair ends up
 *   with two authenticated links, both sides keep the one dialed by the lower
 *   id and close the other (`duplicate`), unless the peer's session changed
 *   (it restarted): then the newest link replaces the old one.
 * - A lost link is redialed at once, then with exponential backoff and jitter
 *   (peer/backoff.ts) while dials fail.
 * - `send(to, frame)` only queues (peer/sendQueue.ts, bounded in frames and
 *   bytes; a full queue drops the new frame and counts it); the queues are
 *   flushed once the current I/O callbacks are done (setImmediate), or by an
 *   explicit `flush()`: every peer's due frames go out as batches (peer/wire.ts),
 *   while its socket has taken less than socketBufferedBytesMax. A slow peer
 *   fills its own queue and loses frames; the others never wait for it.
 * - Before any frame is accepted, a socket runs the signed hello
 *   (peer/hello.ts); refusals are counted by reason and close only the
 *   offending socket.
 * - TLS: with `tls`, dials are wss with the node's certificate (mutual TLS)
 *   and verify the peer against the CA; accepted sockets must come with a
 *   client certificate that verified (the HTTP server asks for one).
 * - Membership: `setMembers` follows each configuration the replica applies:
 *   a new member gets a peer (dialed, and its hello accepted from then on);
 *   a removed one's links are closed (counted as `removedMember` refusals)
 *   and its queue dropped; its later hellos are refused as unknownMember.
 * - Faults: the dev switch (peer/faultSwitch.ts) and the static WAN latency
 *   (peer/wanLatency.ts) apply to every frame.
 */
import { randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { TLSSocket } from 'node:tls'
import WebSocket, { WebSocketServer } from 'ws'
import type { NodeId, Signer } from '../core/index.ts'
import type { FaultState } from '../host/faults.ts'
import { dialDelayMs } from './peer/backoff.ts'
import { FaultSwitch } from './peer/faultSwitch.ts'
import { Hello, type HelloIdentity } from './peer/hello.ts'
import { resolvePeerLinkLimits, type PeerLinkLimits } from './peer/limits.ts'
import { Link, type LinkDirection, type LinkEvents } from './peer/link.ts'
import { emptyRefusalCounts, linkCloseCodes, refusalCloseCodes, type PeerRefusalReason } from './peer/refusals.ts'
import { SendQueue } from './peer/sendQueue.ts'
import type { WanLatency } from './peer/wanLatency.ts'
import { batchEntryBytes, peerPath, wireSizes, writeBatch } from './peer/wire.ts'

export interface PeerMember {
  readonly id: NodeId
  readonly region: string
  /** The node's base URL (http://host:port, https with TLS). */
  readonly url: string
  /** Its raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array
}

/** PEM certificate, key and CA: the node's own for dialing, the CA for verifying peers. */
export interface PeerTls {
  readonly cert: string | Buffer
  readonly key: string | Buffer
  readonly ca: string | Buffer
}

export interface PeerLinksOptions {
  readonly self: NodeId
  readonly clusterId: string
  /** Every member, this node included. */
  readonly members: readonly PeerMember[]
  readonly signer: Pick<Signer, 'sign' | 'verify'>
  /** The cluster secret, or null. */
  readonly secret: Uint8Array | null
  readonly tls?: PeerTls | null
  readonly wanLatency?: WanLatency | null
  readonly faults?: FaultSwitch
  readonly limits?: Partial<PeerLinkLimits>
  /** In [0, 1): backoff jitter (the fault switch has its own). */
  readonly random?: () => number
  /** A frame from the link authenticated as `from` (PeerFrames.receive checks the rest). */
  readonly onFrame: (from: NodeId, frame: Uint8Array) => void
  /** Runs before queued frames are written to a socket: a host that groups its storage syncs commits here, so no frame leaves ahead of what it relies on. */
  readonly beforeSend?: () => void
}

export interface PeerDrops {
  queueFull: number
  expired: number
  partition: number
  loss: number
  paused: number
}

export interface PeerLinkStatus {
  readonly id: NodeId
  readonly region: string
  readonly connected: boolean
  /** Who dialed the link in use: this node (`out`) or the peer (`in`). */
  readonly direction: LinkDirection | null
  readonly queueFrames: number
  readonly queueBytes: number
  readonly framesOut: number
  readonly bytesOut: number
  readonly batchesOut: number
  readonly framesIn: number
  readonly bytesIn: number
  readonly batchesIn: number
  /** Frames for this peer dropped here, by why. */
  readonly dropsOut: Readonly<PeerDrops>
  /** Frames from this peer dropped by the fault switch. */
  readonly dropsIn: Readonly<Pick<PeerDrops, 'partition' | 'loss' | 'paused'>>
  readonly dials: number
  /** Links to this peer established after an earlier one was lost. */
  readonly reconnects: number
  readonly lastError: string | null
}

export interface PeerLinksStatus {
  readonly self: NodeId
  readonly peers: readonly PeerLinkStatus[]
  /** Sockets refused, by reason (before or during the hello, or later for garbage). */
  readonly refused: Readonly<Record<PeerRefusalReason, number>>
  /** Second links between a pair, closed to keep one. */
  readonly duplicatesClosed: number
  /** Sockets (dialed and accepted) in their hello now. */
  readonly pendingHellos: number
  /** Frames handed to send() for a node that is not a member. */
  readonly framesToUnknown: number
  readonly faults: FaultState
}

interface Peer {
  readonly member: PeerMember
  readonly endpoint: string
  readonly queue: SendQueue
  active: Link | null
  dialing: Link | null
  dialTimer: ReturnType<typeof setTimeout> | null
  dueTimer: ReturnType<typeof setTimeout> | null
  dueTimerAtMs: number
  /** Dials failed since the last link: the backoff exponent. */
  failures: number
  /** The link in use was lost (not replaced) and none has replaced it yet: the next one is a reconnect. */
  lost: boolean
  framesOut: number
  bytesOut: number
  batchesOut: number
  framesIn: number
  bytesIn: number
  batchesIn: number
  readonly dropsOut: PeerDrops
  readonly dropsIn: Pick<PeerDrops, 'partition' | 'loss' | 'paused'>
  dials: number
  reconnects: number
  lastError: string | null
}

/** `http://h:p` → `ws://h:p/v1/peer` (https → wss); a query stays (an edge Worker's `?region=`, edgePeerUrl). */
export function peerEndpointOf(url: string): string {
  const parsed = new URL(url)
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new RangeError(`a member url is http:// or https://, got ${url}`)
  parsed.protocol = parsed.protocol === 'https:' ? 'wss:' : 'ws:'
  parsed.pathname = peerPath
  parsed.hash = ''
  return parsed.toString()
}

/**
 * Where a node reaches a region object of an edge cluster: through the edge
 * Worker it joined through, which hands `/v1/peer?region=<id>` to that
 * region's object (a region object has no address of its own, and never dials).
 */
export function edgePeerUrl(edgeUrl: string, region: string): string {
  const parsed = new URL(edgeUrl)
  parsed.pathname = '/'
  parsed.search = ''
  parsed.hash = ''
  parsed.searchParams.set('region', region)
  return parsed.toString()
}

export class PeerLinks {
  readonly self: NodeId
  readonly faults: FaultSwitch
  readonly limits: PeerLinkLimits
  private readonly region: string
  private readonly peers = new Map<NodeId, Peer>()
  private readonly links = new Set<Link>()
  private readonly identity: HelloIdentity
  /** Every member's public key but this node's: the hello's publicKeyOf. */
  private readonly keys = new Map<NodeId, Uint8Array>()
  private readonly tls: PeerTls | null
  private readonly wanLatency: WanLatency | null
  private readonly random: () => number
  private readonly onFrame: (from: NodeId, frame: Uint8Array) => void
  private readonly beforeSend: () => void
  private readonly server: WebSocketServer
  private readonly events: LinkEvents
  private readonly refused = emptyRefusalCounts()
  private duplicatesClosed = 0
  private framesToUnknown = 0
  private flushScheduled = false
  private started = false
  private closed = false

  constructor(options: PeerLinksOptions) {
    this.self = options.self
    this.limits = resolvePeerLinkLimits(options.limits)
    const selfMember = options.members.find((member) => member.id === options.self)
    if (selfMember === undefined) throw new RangeError(`${options.self} is not among the members`)
    this.region = selfMember.region
    checkMembers(options.members)
    const keys = this.keys
    for (const member of options.members) {
      if (member.id === options.self) continue
      keys.set(member.id, member.publicKey)
      this.peers.set(member.id, newPeer(member, this.limits))
    }
    this.identity = {
      clusterId: options.clusterId,
      self: options.self,
      signer: options.signer,
      secret: options.secret,
      session: new Uint8Array(randomBytes(wireSizes.sessionBytes)),
      publicKeyOf: (id) => keys.get(id) ?? null,
    }
    this.tls = options.tls ?? null
    this.wanLatency = options.wanLatency ?? null
    this.random = options.random ?? Math.random
    this.onFrame = options.onFrame
    this.beforeSend = options.beforeSend ?? (() => {})
    this.faults = options.faults ?? new FaultSwitch()
    this.faults.onChange((state) => this.onFaultsChanged(state))
    this.server = new WebSocketServer({ noServer: true, maxPayload: this.limits.batchBytesMax, perMessageDeflate: false, clientTracking: false })
    this.events = {
      authenticated: (link) => this.onAuthenticated(link),
      frames: (link, frames, bytes) => this.onFrames(link, frames, bytes),
      refused: (link, reason, message) => this.onRefused(link, reason, message),
      closed: (link, why) => this.onClosed(link, why),
    }
  }

  /** Starts dialing every peer. */
  start(): void {
    if (this.started || this.closed) return
    this.started = true
    for (const peer of this.peers.values()) this.scheduleDial(peer)
  }

  /**
   * Follows a new configuration's members (this node among them or not): new
   * ones get a peer (dialed once started), removed ones lose theirs (links
   * closed with removedMember, queued frames dropped), one whose url or key
   * changed is replaced. Returns what changed.
   */
  setMembers(members: readonly PeerMember[]): { readonly added: NodeId[]; readonly removed: NodeId[] } {
    checkMembers(members)
    const wanted = new Map(members.filter((member) => member.id !== this.self).map((member) => [member.id, member]))
    const added: NodeId[] = []
    const removed: NodeId[] = []
    for (const [id, peer] of this.peers) {
      const next = wanted.get(id)
      if (next !== undefined && next.url === peer.member.url && sameBytes(next.publicKey, peer.member.publicKey)) continue
      this.removePeer(peer)
      removed.push(id)
    }
    for (const [id, member] of wanted) {
      if (this.peers.has(id)) continue
      const peer = newPeer(member, this.limits)
      this.peers.set(id, peer)
      this.keys.set(id, member.publicKey)
      added.push(id)
      this.scheduleDial(peer)
    }
    return { added, removed }
  }

  /** Whether `id` is a peer now (a member of the configuration last given, not this node). */
  has(id: NodeId): boolean {
    return this.peers.has(id)
  }

  /** Queues `frame` for `to`; it leaves at the next flush (after the current I/O callbacks, or an explicit flush()). */
  send(to: NodeId, frame: Uint8Array): void {
    const peer = this.peers.get(to)
    if (peer === undefined) {
      this.framesToUnknown++
      return
    }
    const drop = this.faults.drops(to)
    if (drop !== null) {
      peer.dropsOut[drop]++
      return
    }
    const delayMs = this.faults.latencyMs + (this.wanLatency?.(this.region, peer.member.region) ?? 0)
    if (!peer.queue.push(frame, performance.now() + delayMs)) {
      peer.dropsOut.queueFull++
      return
    }
    this.scheduleFlush()
  }

  /** Writes every peer's due frames to its link, batched. */
  flush(): void {
    if (this.closed) return
    const nowMs = performance.now()
    for (const peer of this.peers.values()) this.flushPeer(peer, nowMs)
  }

  /**
   * Takes a `/v1/peer` upgrade from the HTTP server. With TLS, that server is
   * made with `{ cert, key, ca, requestCert: true, rejectUnauthorized: false }`
   * (API clients need no certificate); a peer socket is taken only when its
   * client certificate verified against the CA (`socket.authorized`).
   */
  accept(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.closed) return rejectUpgrade(socket, 503, 'node shutting down')
    if (this.tls !== null) {
      const tlsSocket = socket as TLSSocket
      if (tlsSocket.encrypted !== true || !tlsSocket.authorized) {
        this.refused.tlsUnauthorized++
        return rejectUpgrade(socket, 401, `peer certificate not verified: ${tlsSocket.authorizationError ?? 'no TLS client certificate'}`)
      }
    }
    if (this.pendingHellos('in') >= this.limits.pendingHellosMax) {
      this.refused.overloaded++
      return rejectUpgrade(socket, 503, `pendingHellosMax=${this.limits.pendingHellosMax} sockets are in their hello`)
    }
    this.server.handleUpgrade(request, socket, head, (ws) => {
      if (this.closed) return ws.terminate()
      this.links.add(new Link({ socket: ws, direction: 'in', expectedPeer: null, hello: this.newHello(null), events: this.events, limits: this.limits }))
    })
  }

  status(): PeerLinksStatus {
    return {
      self: this.self,
      peers: [...this.peers.values()].map((peer) => ({
        id: peer.member.id,
        region: peer.member.region,
        connected: peer.active !== null,
        direction: peer.active?.direction ?? null,
        queueFrames: peer.queue.frames,
        queueBytes: peer.queue.bytes,
        framesOut: peer.framesOut,
        bytesOut: peer.bytesOut,
        batchesOut: peer.batchesOut,
        framesIn: peer.framesIn,
        bytesIn: peer.bytesIn,
        batchesIn: peer.batchesIn,
        dropsOut: { ...peer.dropsOut },
        dropsIn: { ...peer.dropsIn },
        dials: peer.dials,
        reconnects: peer.reconnects,
        lastError: peer.lastError,
      })),
      refused: { ...this.refused },
      duplicatesClosed: this.duplicatesClosed,
      pendingHellos: this.pendingHellos(),
      framesToUnknown: this.framesToUnknown,
      faults: this.faults.state(),
    }
  }

  /** What still waits to leave for the peers with a link: frames in their queues and bytes in their sockets' buffers (frames for a peer without one wait for its link). */
  outgoing(): { readonly frames: number; readonly socketBytes: number } {
    let frames = 0
    let socketBytes = 0
    for (const peer of this.peers.values()) {
      if (peer.active === null || !peer.active.open) continue
      frames += peer.queue.frames
      socketBytes += peer.active.bufferedBytes
    }
    return { frames, socketBytes }
  }

  /** Closes every link (going away) and stops dialing; resolves once the sockets are closed, cutting those still open after closeWaitMs. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const peer of this.peers.values()) {
      if (peer.dialTimer !== null) clearTimeout(peer.dialTimer)
      if (peer.dueTimer !== null) clearTimeout(peer.dueTimer)
      peer.dialTimer = peer.dueTimer = null
    }
    const open = [...this.links]
    const closedAll = Promise.all(open.map((link) => new Promise<void>((resolve) => link.onceClosed(resolve))))
    for (const link of open) link.close(linkCloseCodes.goingAway, 'node shutting down')
    let timer: ReturnType<typeof setTimeout> | undefined
    const waited = await Promise.race([closedAll.then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), this.limits.closeWaitMs)))])
    clearTimeout(timer)
    if (!waited) for (const link of this.links) link.terminate()
    this.server.close()
  }

  // ---- links ---------------------------------------------------------------

  private removePeer(peer: Peer): void {
    const id = peer.member.id
    // What the Ready that removed it still sent it leaves first (the answer to its own leave, say): a socket closes after the data written before.
    if (!this.closed) this.flushPeer(peer, performance.now())
    this.peers.delete(id)
    this.keys.delete(id)
    if (peer.dialTimer !== null) clearTimeout(peer.dialTimer)
    if (peer.dueTimer !== null) clearTimeout(peer.dueTimer)
    peer.dialTimer = peer.dueTimer = null
    peer.queue.clear()
    for (const link of [...this.links]) {
      if (link.peer !== id) continue
      this.refused.removedMember++
      link.close(refusalCloseCodes.removedMember, `removedMember: ${id} is no longer a member of the cluster`)
    }
  }

  private newHello(expectedPeer: NodeId | null): Hello {
    return new Hello(this.identity, expectedPeer, new Uint8Array(randomBytes(wireSizes.nonceBytes)))
  }

  /** Links in their hello (only those in `direction` when given). */
  private pendingHellos(direction: LinkDirection | null = null): number {
    let pending = 0
    for (const link of this.links) if (!link.authenticated && (direction === null || link.direction === direction)) pending++
    return pending
  }

  private scheduleDial(peer: Peer): void {
    if (!this.started || this.closed || peer.active !== null || peer.dialing !== null || peer.dialTimer !== null) return
    const delayMs = dialDelayMs(peer.failures, this.limits, this.random)
    peer.dialTimer = setTimeout(() => {
      peer.dialTimer = null
      this.dial(peer)
    }, delayMs)
  }

  private dial(peer: Peer): void {
    if (this.closed || peer.active !== null || peer.dialing !== null) return
    peer.dials++
    const tls = this.tls === null ? {} : { cert: this.tls.cert, key: this.tls.key, ca: this.tls.ca, rejectUnauthorized: true }
    const socket = new WebSocket(peer.endpoint, { ...tls, perMessageDeflate: false, maxPayload: this.limits.batchBytesMax, handshakeTimeout: this.limits.dialTimeoutMs })
    const link = new Link({ socket, direction: 'out', expectedPeer: peer.member.id, hello: this.newHello(peer.member.id), events: this.events, limits: this.limits })
    peer.dialing = link
    this.links.add(link)
  }

  private onAuthenticated(link: Link): void {
    const peer = this.peers.get(link.peer!)
    if (peer === undefined) {
      // Removed by a configuration applied while this socket was in its hello.
      this.refused.removedMember++
      return link.close(refusalCloseCodes.removedMember, `removedMember: ${link.peer} is no longer a member of the cluster`)
    }
    if (peer.dialing === link) peer.dialing = null
    if (this.closed) return link.close(linkCloseCodes.goingAway, 'node shutting down')
    const existing = peer.active
    if (existing === null) return this.activate(peer, link)
    if (!sameBytes(existing.peerSession!, link.peerSession!) || existing.direction === link.direction) {
      // The peer restarted (or gave up on its older dial): the new link is the live one.
      existing.close(linkCloseCodes.replaced, 'replaced by a newer link')
      return this.activate(peer, link)
    }
    this.duplicatesClosed++
    // Both sides keep the link dialed by the lower id, so they close the same one.
    const keep: LinkDirection = this.self < peer.member.id ? 'out' : 'in'
    if (link.direction === keep) {
      existing.close(linkCloseCodes.duplicate, `duplicate: the link dialed by ${minId(this.self, peer.member.id)} is kept`)
      this.activate(peer, link)
    } else {
      link.close(linkCloseCodes.duplicate, `duplicate: the link dialed by ${minId(this.self, peer.member.id)} is kept`)
    }
  }

  private activate(peer: Peer, link: Link): void {
    peer.active = link
    if (peer.lost) peer.reconnects++
    peer.lost = false
    peer.failures = 0
    if (peer.dialTimer !== null) clearTimeout(peer.dialTimer)
    peer.dialTimer = null
    this.flushPeer(peer, performance.now())
  }

  private onFrames(link: Link, frames: Uint8Array[], bytes: number): void {
    const from = link.peer!
    const peer = this.peers.get(from)
    // A link is closed when its member is removed, and a closing link passes on nothing; this guards the order of callbacks.
    if (peer === undefined) return
    peer.batchesIn++
    peer.framesIn += frames.length
    peer.bytesIn += bytes
    for (const frame of frames) {
      const drop = this.faults.drops(from)
      if (drop !== null) {
        peer.dropsIn[drop]++
        continue
      }
      this.onFrame(from, frame)
      if (this.closed) return
    }
  }

  private onRefused(link: Link, reason: PeerRefusalReason, message: string): void {
    this.refused[reason]++
    const peer = link.peer === null ? undefined : this.peers.get(link.peer)
    if (peer !== undefined) peer.lastError = `refused: ${reason}: ${message}`
  }

  private onClosed(link: Link, why: string): void {
    this.links.delete(link)
    const peer = link.peer === null ? undefined : this.peers.get(link.peer)
    if (peer === undefined) return
    if (peer.active === link) {
      peer.active = null
      peer.lost = true
      peer.lastError = why
      this.scheduleDial(peer)
      return
    }
    if (peer.dialing === link) {
      peer.dialing = null
      peer.failures++
      peer.lastError = why
      this.scheduleDial(peer)
    }
  }

  // ---- frames ----------------------------------------------------------------

  private scheduleFlush(): void {
    if (this.flushScheduled || this.closed) return
    this.flushScheduled = true
    setImmediate(() => {
      this.flushScheduled = false
      this.flush()
    })
  }

  private flushPeer(peer: Peer, nowMs: number): void {
    const { queue } = peer
    if (queue.frames === 0) return
    peer.dropsOut.expired += queue.expire(nowMs - this.limits.frameWaitMsMax)
    const link = peer.active
    if (link === null || !link.open) return
    this.beforeSend()
    while (link.bufferedBytes < this.limits.socketBufferedBytesMax) {
      // The batch's kind byte comes out of its byte budget.
      const frames = queue.takeDue(nowMs, this.limits.batchFramesMax, this.limits.batchBytesMax - 1, (frame) => batchEntryBytes(frame.length))
      if (frames.length === 0) break
      const batch = writeBatch(frames)
      peer.batchesOut++
      peer.framesOut += frames.length
      peer.bytesOut += batch.length
      link.sendBatch(batch, () => {
        // A backed-up socket took this batch: what waited behind it may go now.
        if (peer.queue.frames > 0) this.scheduleFlush()
      })
    }
    const nextDueMs = queue.nextDueMs()
    if (nextDueMs !== null && nextDueMs > nowMs) this.scheduleDue(peer, nextDueMs)
  }

  /** Wakes the flush when a delayed frame falls due. */
  private scheduleDue(peer: Peer, dueMs: number): void {
    if (peer.dueTimer !== null && peer.dueTimerAtMs <= dueMs) return
    if (peer.dueTimer !== null) clearTimeout(peer.dueTimer)
    peer.dueTimerAtMs = dueMs
    peer.dueTimer = setTimeout(
      () => {
        peer.dueTimer = null
        this.flushPeer(peer, performance.now())
      },
      Math.max(0, dueMs - performance.now()),
    )
  }

  private onFaultsChanged(state: FaultState): void {
    for (const id of state.partition ?? []) {
      const peer = this.peers.get(id)
      if (peer !== undefined) peer.dropsOut.partition += peer.queue.clear()
    }
  }
}

function newPeer(member: PeerMember, limits: PeerLinkLimits): Peer {
  return {
    member,
    endpoint: peerEndpointOf(member.url),
    queue: new SendQueue(limits),
    active: null,
    dialing: null,
    dialTimer: null,
    dueTimer: null,
    dueTimerAtMs: 0,
    failures: 0,
    lost: false,
    framesOut: 0,
    bytesOut: 0,
    batchesOut: 0,
    framesIn: 0,
    bytesIn: 0,
    batchesIn: 0,
    dropsOut: { queueFull: 0, expired: 0, partition: 0, loss: 0, paused: 0 },
    dropsIn: { partition: 0, loss: 0, paused: 0 },
    dials: 0,
    reconnects: 0,
    lastError: null,
  }
}

function checkMembers(members: readonly PeerMember[]): void {
  const ids = new Set<NodeId>()
  for (const member of members) {
    if (member.publicKey.length !== 32) throw new RangeError(`member ${member.id}'s public key has ${member.publicKey.length} bytes, not 32`)
    if (ids.has(member.id)) throw new RangeError(`member ${member.id} is listed twice`)
    ids.add(member.id)
  }
}

function rejectUpgrade(socket: Duplex, status: 401 | 503, message: string): void {
  const text = status === 401 ? 'Unauthorized' : 'Service Unavailable'
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`, () => socket.destroy())
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index])
}

function minId(a: NodeId, b: NodeId): NodeId {
  return a < b ? a : b
}
