/**
 * Node processes as peers of a region object: a node that joined the edge
 * cluster dials `wss://<worker>/v1/peer?region=<id>` (node/peerLinks.ts, the
 * same link it dials to another node), the Worker forwards the upgrade to
 * the region object, and the object takes the socket here, hibernatable
 * (`ctx.acceptWebSocket`, tag `peer`). The region object never dials a node:
 * a node behind NAT is reachable only over the socket it opened.
 *
 * - Hello: the node link's signed hello (node/peer/hello.ts, wire.ts), the
 *   object's side signed with its region key, the node's checked against its
 *   key in the configuration the replica applied; with a cluster secret, its
 *   HMAC too. No frame is taken before it; a refusal closes the socket with
 *   the reason's code and is counted (`status().refused`, /metrics).
 * - Once authenticated, the node's id and session are the socket's
 *   attachment: when the object wakes after hibernating, `resume` finds each
 *   node's socket again. A socket whose hello was cut by the object's
 *   eviction is closed (its state was in memory); the node dials again.
 * - Frames for a node wait in its queue (bounded in frames and bytes; a full
 *   queue drops and counts) and leave as batches at `flush` (the region
 *   node's settle, after each input): one or a few WebSocket messages per
 *   drive, behind the output gate like every send of the object.
 * - A newer socket from the same node (it restarted, or redialed) replaces
 *   the older one; a node removed from the configuration loses its socket
 *   (removedMember) at `setMembers`.
 */
import type { NodeId, Signer } from '../core/index.ts'
import { Hello, type HelloIdentity, type HelloStep } from '../node/peer/hello.ts'
import { closeReasonText, emptyRefusalCounts, linkCloseCodes, refusalCloseCodes, type PeerRefusalReason } from '../node/peer/refusals.ts'
import { batchEntryBytes, kindOf, readBatch, wireKinds, wireSizes, WireError, writeBatch } from '../node/peer/wire.ts'

export const nodePeerLimits = {
  /** Sockets in their hello at once; the oldest is closed (helloTimeout) to make room: no timer runs in a sleeping object. */
  pendingHellosMax: 16,
  /** Frames waiting for one node between two flushes; more are dropped and counted. */
  queueFramesMax: 16_384,
  /** Bytes waiting for one node: one largest message in chunk frames and room beside it (as a node's link queue). */
  queueBytesMax: 24 * 1024 * 1024,
  /** One WebSocket message carries frames up to this many bytes (a Workers WebSocket message is at most 32 MiB). */
  batchBytesMax: 4 * 1024 * 1024,
  /** Frames in one WebSocket message, sent or taken. */
  batchFramesMax: 4_096,
} as const

/** The attachment of an authenticated peer socket: who it speaks for. */
interface PeerAttachment {
  readonly kind: 'nodePeer'
  readonly peer: NodeId
}

export const nodePeerTag = 'peer'

export interface NodePeersOptions {
  readonly ctx: DurableObjectState
  readonly clusterId: string
  readonly self: NodeId
  readonly signer: Pick<Signer, 'sign' | 'verify'>
  /** The cluster secret's bytes, or null. */
  readonly secret: Uint8Array | null
  /** A node member's Ed25519 public key in the configuration applied now; null for anyone else (region objects too). */
  readonly nodeKeyOf: (id: NodeId) => Uint8Array | null
  /** Frames from an authenticated node, in order. */
  readonly onFrames: (from: NodeId, frames: readonly Uint8Array[]) => void
}

interface Queue {
  frames: Uint8Array[]
  bytes: number
}

export interface NodePeersStatus {
  /** Nodes with an authenticated socket now. */
  readonly connected: readonly NodeId[]
  /** Sockets refused, by reason. */
  readonly refused: Readonly<Record<PeerRefusalReason, number>>
  /** Frames for a node without a socket, or over its queue's bounds, dropped. */
  readonly framesDropped: number
  readonly framesOut: number
  readonly batchesOut: number
  readonly framesIn: number
  /** WebSocket messages taken from node sockets (each a wake of a sleeping object). */
  readonly messagesIn: number
  /** Sockets this life of the object found again after a wake. */
  readonly resumed: number
}

export class NodePeers {
  private readonly ctx: DurableObjectState
  private readonly identity: HelloIdentity
  private readonly onFrames: (from: NodeId, frames: readonly Uint8Array[]) => void
  private readonly nodeKeyOf: (id: NodeId) => Uint8Array | null
  /** Sockets in their hello, oldest first. */
  private readonly hellos = new Map<WebSocket, Hello>()
  /** The socket of each authenticated node. */
  private readonly sockets = new Map<NodeId, WebSocket>()
  private readonly queues = new Map<NodeId, Queue>()
  private readonly refused = emptyRefusalCounts()
  private framesDropped = 0
  private framesOut = 0
  private batchesOut = 0
  private framesIn = 0
  private messagesIn = 0
  private resumedCount = 0

  constructor(options: NodePeersOptions) {
    this.ctx = options.ctx
    this.onFrames = options.onFrames
    this.nodeKeyOf = options.nodeKeyOf
    const session = crypto.getRandomValues(new Uint8Array(wireSizes.sessionBytes))
    this.identity = { clusterId: options.clusterId, self: options.self, signer: options.signer, secret: options.secret, session, publicKeyOf: (id) => options.nodeKeyOf(id) }
  }

  /** Takes a `/v1/peer` WebSocket upgrade (forwarded by the Worker) and starts its hello. */
  accept(request: Request): Response {
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
      return Response.json({ error: { code: 'upgradeRequired', message: '/v1/peer is a WebSocket for node peers (dwcp node --join)' } }, { status: 426 })
    }
    if (this.hellos.size >= nodePeerLimits.pendingHellosMax) {
      const [oldest] = this.hellos.keys()
      this.refuse(oldest!, 'helloTimeout', `pendingHellosMax=${nodePeerLimits.pendingHellosMax} sockets were in their hello; the oldest gave way`)
    }
    const pair = new WebSocketPair()
    const server = pair[1]
    this.ctx.acceptWebSocket(server, [nodePeerTag])
    const hello = new Hello(this.identity, null, crypto.getRandomValues(new Uint8Array(wireSizes.nonceBytes)))
    this.hellos.set(server, hello)
    server.send(hello.challenge())
    return new Response(null, { status: 101, webSocket: pair[0] })
  }

  /** Whether `socket` is a node peer's (its tag), as opposed to the API's. */
  owns(socket: WebSocket): boolean {
    return this.ctx.getTags(socket).includes(nodePeerTag)
  }

  /** After a wake: the authenticated sockets are found again by their attachments; the ones cut in their hello are closed. */
  resume(): void {
    for (const socket of this.ctx.getWebSockets(nodePeerTag)) {
      if (this.hellos.has(socket) || [...this.sockets.values()].includes(socket)) continue
      const attachment = readAttachment(socket.deserializeAttachment())
      if (attachment === null || this.nodeKeyOf(attachment.peer) === null) {
        closeQuietly(socket, refusalCloseCodes.helloTimeout, 'the region object restarted during the hello; dial again')
        continue
      }
      this.sockets.get(attachment.peer)?.close(linkCloseCodes.replaced, 'replaced by a newer link')
      this.sockets.set(attachment.peer, socket)
      this.resumedCount++
    }
  }

  /** `webSocketMessage` of a peer socket. */
  message(socket: WebSocket, data: string | ArrayBuffer): void {
    this.messagesIn++
    if (typeof data === 'string') return this.refuse(socket, 'malformed', 'a text message on a peer link')
    const bytes = new Uint8Array(data)
    const hello = this.hellos.get(socket)
    switch (kindOf(bytes)) {
      case wireKinds.challenge:
        if (hello === undefined) return this.refuse(socket, 'malformed', 'a challenge after the hello')
        return this.onHelloStep(socket, hello.onChallenge(bytes))
      case wireKinds.proof:
        if (hello === undefined) return this.refuse(socket, 'malformed', 'a proof after the hello')
        return this.onHelloStep(socket, hello.onProof(bytes))
      case wireKinds.batch:
        return this.onBatch(socket, bytes)
      default:
        return this.refuse(socket, 'malformed', `a message of unknown kind ${kindOf(bytes)}`)
    }
  }

  /** `webSocketClose` / `webSocketError` of a peer socket: it is gone. */
  closed(socket: WebSocket, code: number, reason: string): void {
    // Codes 1005 and 1006 say no code was sent: never echoed back.
    if (code !== 1005 && code !== 1006) closeQuietly(socket, code, reason)
    this.forget(socket)
  }

  /** Queues `frame` for node `to`; false when it has no socket (the frame is dropped: the node redials, the engines resend). */
  send(to: NodeId, frame: Uint8Array): boolean {
    if (!this.sockets.has(to)) {
      this.framesDropped++
      return false
    }
    let queue = this.queues.get(to)
    if (queue === undefined) this.queues.set(to, (queue = { frames: [], bytes: 0 }))
    if (queue.frames.length >= nodePeerLimits.queueFramesMax || queue.bytes + frame.length > nodePeerLimits.queueBytesMax) {
      this.framesDropped++
      return false
    }
    queue.frames.push(frame)
    queue.bytes += frame.length
    return true
  }

  /** Every node's queued frames, as batches on its socket. */
  flush(): void {
    for (const peer of [...this.queues.keys()]) this.flushPeer(peer)
  }

  /** After a configuration applied: the sockets of nodes that are no longer members close (removedMember). */
  setMembers(): void {
    for (const [peer, socket] of [...this.sockets]) {
      if (this.nodeKeyOf(peer) !== null) continue
      // What the Ready that removed it still sent it leaves first (the commit of its own removal, so it learns it and stops): a socket closes after the data written before.
      this.flushPeer(peer)
      this.refuse(socket, 'removedMember', `${peer} is no longer a member of the cluster`)
    }
  }

  private flushPeer(peer: NodeId): void {
    const queue = this.queues.get(peer)
    if (queue === undefined) return
    this.queues.delete(peer)
    const socket = this.sockets.get(peer)
    if (socket === undefined) {
      this.framesDropped += queue.frames.length
      return
    }
    let batch: Uint8Array[] = []
    let batchBytes = 1
    const sendBatch = () => {
      if (batch.length === 0) return
      try {
        socket.send(writeBatch(batch))
        this.batchesOut++
        this.framesOut += batch.length
      } catch {
        // Closed under us: the close handler forgets the socket.
        this.framesDropped += batch.length
      }
      batch = []
      batchBytes = 1
    }
    for (const frame of queue.frames) {
      const entryBytes = batchEntryBytes(frame.length)
      if (batch.length >= nodePeerLimits.batchFramesMax || batchBytes + entryBytes > nodePeerLimits.batchBytesMax) sendBatch()
      batch.push(frame)
      batchBytes += entryBytes
    }
    sendBatch()
  }

  status(): NodePeersStatus {
    return {
      connected: [...this.sockets.keys()].sort(),
      refused: { ...this.refused },
      framesDropped: this.framesDropped,
      framesOut: this.framesOut,
      batchesOut: this.batchesOut,
      framesIn: this.framesIn,
      messagesIn: this.messagesIn,
      resumed: this.resumedCount,
    }
  }

  private onHelloStep(socket: WebSocket, step: HelloStep): void {
    switch (step.kind) {
      case 'refused':
        return this.refuse(socket, step.reason, step.message)
      case 'proof':
        return socket.send(step.proof)
      case 'authenticated': {
        this.hellos.delete(socket)
        const older = this.sockets.get(step.peer)
        if (older !== undefined && older !== socket) closeQuietly(older, linkCloseCodes.replaced, 'replaced by a newer link')
        socket.serializeAttachment({ kind: 'nodePeer', peer: step.peer } satisfies PeerAttachment)
        this.sockets.set(step.peer, socket)
        return
      }
    }
  }

  private onBatch(socket: WebSocket, bytes: Uint8Array): void {
    const peer = this.peerOf(socket)
    if (peer === null) return this.refuse(socket, 'unauthenticated', 'frames before the hello was done')
    let frames: Uint8Array[]
    try {
      frames = readBatch(bytes, nodePeerLimits.batchFramesMax)
    } catch (error) {
      if (error instanceof WireError) return this.refuse(socket, 'malformed', error.message)
      throw error
    }
    this.framesIn += frames.length
    this.onFrames(peer, frames)
  }

  /** The node an authenticated socket speaks for, or null. */
  private peerOf(socket: WebSocket): NodeId | null {
    if (this.hellos.has(socket)) return null
    const attachment = readAttachment(socket.deserializeAttachment())
    return attachment !== null && this.sockets.get(attachment.peer) === socket ? attachment.peer : null
  }

  private refuse(socket: WebSocket, reason: PeerRefusalReason, message: string): void {
    this.refused[reason]++
    closeQuietly(socket, refusalCloseCodes[reason], closeReasonText(`${reason}: ${message}`))
    this.forget(socket)
  }

  private forget(socket: WebSocket): void {
    this.hellos.delete(socket)
    for (const [peer, held] of this.sockets) {
      if (held !== socket) continue
      this.sockets.delete(peer)
      this.queues.delete(peer)
    }
  }
}

function readAttachment(value: unknown): PeerAttachment | null {
  if (typeof value !== 'object' || value === null) return null
  const { kind, peer } = value as { kind?: unknown; peer?: unknown }
  return kind === 'nodePeer' && typeof peer === 'string' ? { kind, peer } : null
}

function closeQuietly(socket: WebSocket, code: number, reason: string): void {
  try {
    socket.close(code, reason)
  } catch {
    // Closed already.
  }
}
