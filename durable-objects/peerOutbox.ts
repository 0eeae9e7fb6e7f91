/**
 * Peer frames between region objects, over Durable Object RPC. Frames sent
 * during one drive of the kernel (a tick, a delivery, a client call) wait
 * here and leave together when the drive is done: the first frame queued
 * schedules a flush as a microtask, which runs once the synchronous handler
 * that drove the kernel returns (however many drives it ran). One `deliver`
 * call per peer per flush (split only past the limits below), so an RPC
 * carries a batch, not a message.
 *
 * A call's answer may carry the peer's frames for this object (what the
 * delivered frames made it send back: probe answers, acks, votes), which
 * `onAnswer` steps: a request and its reply cost one call, not two.
 *
 * Calls are not awaited by the drive: an RPC is a message like any other,
 * engines tolerate its loss, and a region object must not stall on a slow
 * or unreachable peer. Each call's outcome is counted; a failed call drops
 * the peer's stub (a broken stub stays broken), and the next flush makes a
 * new one. Calls to one stub arrive in the order they were made (E-order).
 * Each peer has at most `deliveriesInFlightMax` calls unanswered; beyond it a
 * batch is dropped and counted, like a full socket buffer on a node.
 *
 * Durability: the runtime's output gate holds these calls until the storage
 * writes made before them are durable (see sqlStorage.ts).
 */
import type { NodeId } from '../core/index.ts'

export const peerOutboxLimits = {
  /** Frames in one `deliver` call. */
  framesPerDeliveryMax: 1_024,
  /** Bytes of frames in one `deliver` call: well under the 32 MiB of one RPC message. */
  bytesPerDeliveryMax: 8 * 1024 * 1024,
  /** Frames waiting for one peer within one drive; the rest of the drive's frames to it are dropped (engines resend). */
  framesQueuedPerPeerMax: 16_384,
  /** Unanswered `deliver` calls to one peer. */
  deliveriesInFlightMax: 16,
} as const

/** What the outbox calls on a peer (a region object's stub); the peer may answer with frames of its own for the caller (`answer`). */
export interface PeerDelivery {
  deliver(from: NodeId, frames: Uint8Array[]): Promise<unknown>
}

/** The frames a delivery's answer carries back, checked: an array of at most framesPerDeliveryMax byte arrays, else none. */
export function answerFramesOf(outcome: unknown): Uint8Array[] {
  const answer = (outcome as { answer?: unknown } | null)?.answer
  if (!Array.isArray(answer) || answer.length > peerOutboxLimits.framesPerDeliveryMax) return []
  return answer.every((frame) => frame instanceof Uint8Array) ? answer : []
}

export interface PeerOutboxMetrics {
  deliveries: number
  framesSent: number
  deliveriesFailed: number
  /** Batches dropped because the peer had deliveriesInFlightMax calls unanswered. */
  batchesDropped: number
  /** Frames dropped: in dropped batches, or over framesQueuedPerPeerMax. */
  framesDropped: number
  /** Frames for a member the outbox cannot reach (not a region object). */
  framesUnroutable: number
  /** Frames that came back in the answers of calls. */
  framesAnswered: number
}

export interface PeerOutboxOptions {
  readonly self: NodeId
  /** A stub to `peer`, or null when `peer` is not reachable over RPC. */
  readonly connect: (peer: NodeId) => PeerDelivery | null
  /** A failed call (logged by the host; the failure is also counted). */
  readonly onError?: (peer: NodeId, error: unknown) => void
  /** Frames a peer answered a call with (answerFramesOf). */
  readonly onAnswer?: (peer: NodeId, frames: Uint8Array[]) => void
}

interface PeerQueue {
  frames: Uint8Array[]
  inFlight: number
  stub: PeerDelivery | null
}

export class PeerOutbox {
  readonly metrics: PeerOutboxMetrics = { deliveries: 0, framesSent: 0, deliveriesFailed: 0, batchesDropped: 0, framesDropped: 0, framesUnroutable: 0, framesAnswered: 0 }
  private readonly self: NodeId
  private readonly connect: (peer: NodeId) => PeerDelivery | null
  private readonly onError: (peer: NodeId, error: unknown) => void
  private readonly onAnswer: (peer: NodeId, frames: Uint8Array[]) => void
  private readonly peers = new Map<NodeId, PeerQueue>()
  /** Calls not answered yet, across peers (tests and shutdown wait on them). */
  private readonly pending = new Set<Promise<void>>()
  private flushScheduled = false

  constructor(options: PeerOutboxOptions) {
    this.self = options.self
    this.connect = options.connect
    this.onError = options.onError ?? (() => {})
    this.onAnswer = options.onAnswer ?? (() => {})
  }

  /** Queues `frame` for `peer` until the next flush. */
  add(peer: NodeId, frame: Uint8Array): void {
    const queue = this.queueOf(peer)
    if (queue.frames.length >= peerOutboxLimits.framesQueuedPerPeerMax) {
      this.metrics.framesDropped++
      return
    }
    queue.frames.push(frame)
    if (!this.flushScheduled) {
      this.flushScheduled = true
      queueMicrotask(() => this.flush())
    }
  }

  /** Sends what waits: one call per peer, more only past the per-call limits. */
  flush(): void {
    this.flushScheduled = false
    for (const [peer, queue] of this.peers) {
      if (queue.frames.length === 0) continue
      const frames = queue.frames
      queue.frames = []
      for (const batch of batches(frames)) this.send(peer, queue, batch)
    }
  }

  /** Takes the frames waiting for `peer` (at most one call's worth), to carry them back in the answer to its call instead of a call of their own. */
  take(peer: NodeId): Uint8Array[] {
    const queue = this.peers.get(peer)
    if (queue === undefined || queue.frames.length === 0) return []
    const [first = [], ...rest] = batches(queue.frames)
    queue.frames = rest.flat()
    return first
  }

  /** Resolves when every call made so far is answered or failed. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending])
  }

  get inFlight(): number {
    return this.pending.size
  }

  private send(peer: NodeId, queue: PeerQueue, batch: Uint8Array[]): void {
    if (queue.inFlight >= peerOutboxLimits.deliveriesInFlightMax) {
      this.metrics.batchesDropped++
      this.metrics.framesDropped += batch.length
      return
    }
    queue.stub ??= this.connect(peer)
    const stub = queue.stub
    if (stub === null) {
      this.metrics.framesUnroutable += batch.length
      return
    }
    queue.inFlight++
    this.metrics.deliveries++
    this.metrics.framesSent += batch.length
    const call = stub.deliver(this.self, batch).then(
      (outcome) => {
        const answer = answerFramesOf(outcome)
        if (answer.length === 0) return
        this.metrics.framesAnswered += answer.length
        this.onAnswer(peer, answer)
      },
      (error: unknown) => {
        this.metrics.deliveriesFailed++
        // A broken stub stays broken: the next flush connects again.
        if (queue.stub === stub) queue.stub = null
        this.onError(peer, error)
      },
    )
    const done = call.finally(() => {
      queue.inFlight--
      this.pending.delete(done)
    })
    this.pending.add(done)
  }

  private queueOf(peer: NodeId): PeerQueue {
    let queue = this.peers.get(peer)
    if (queue === undefined) {
      queue = { frames: [], inFlight: 0, stub: null }
      this.peers.set(peer, queue)
    }
    return queue
  }
}

/** `frames` cut into batches within framesPerDeliveryMax and bytesPerDeliveryMax (a frame larger than the byte limit goes alone). */
function batches(frames: Uint8Array[]): Uint8Array[][] {
  const out: Uint8Array[][] = []
  let batch: Uint8Array[] = []
  let bytes = 0
  for (const frame of frames) {
    if (batch.length > 0 && (batch.length >= peerOutboxLimits.framesPerDeliveryMax || bytes + frame.length > peerOutboxLimits.bytesPerDeliveryMax)) {
      out.push(batch)
      batch = []
      bytes = 0
    }
    batch.push(frame)
    bytes += frame.length
  }
  if (batch.length > 0) out.push(batch)
  return out
}
