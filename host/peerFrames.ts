/**
 * A node's side of the peer wire, the same on every real host: messages go
 * out as frames (chunk frames when larger than one), and a frame that comes in
 * is taken only when it is whole, names this cluster and this node, and comes
 * from the peer the link authenticated. Everything refused is counted by
 * reason, never thrown: a garbage frame costs its link nothing but the frame.
 */
import { FrameReceiver, writeMessageFrames, type EngineCodec, type NodeId } from '../core/index.ts'

export interface PeerFramesOptions<M> {
  readonly codec: EngineCodec<M>
  readonly clusterId: string
  readonly self: NodeId
  /**
   * First chunk message id. Receivers remember recently completed ids per
   * sender, so a restarted node must not reuse its last life's ids: hosts
   * derive this from the node's incarnation (see `messageIdStartOf`).
   */
  readonly messageIdStart: number
}

export type PeerFrameRefusalCode = 'malformed' | 'wrongCluster' | 'wrongDestination' | 'wrongSender'

export type PeerFrameResult<M> =
  | { readonly kind: 'message'; readonly from: NodeId; readonly message: M }
  /** A chunk of a message that is not whole yet (or a duplicate chunk). */
  | { readonly kind: 'partial' }
  | { readonly kind: 'refused'; readonly code: PeerFrameRefusalCode; readonly message: string }

export interface PeerFrameMetrics {
  framesOut: number
  framesIn: number
  messagesChunked: number
  refusedMalformed: number
  refusedWrongCluster: number
  refusedWrongDestination: number
  refusedWrongSender: number
}

/** Message ids a node life may use before the next life's range starts (2^32: years of chunked messages). */
const messageIdsPerBoot = 2 ** 32

/** Where a node life's chunk message ids start: past every id of its earlier lives. */
export function messageIdStartOf(boot: number): number {
  return (boot % 2 ** 20) * messageIdsPerBoot
}

export class PeerFrames<M> {
  readonly metrics: PeerFrameMetrics = { framesOut: 0, framesIn: 0, messagesChunked: 0, refusedMalformed: 0, refusedWrongCluster: 0, refusedWrongDestination: 0, refusedWrongSender: 0 }
  private readonly codec: EngineCodec<M>
  private readonly receiver: FrameReceiver<M>
  private readonly clusterId: string
  private readonly self: NodeId
  private nextMessageId: number

  constructor(options: PeerFramesOptions<M>) {
    this.codec = options.codec
    this.receiver = new FrameReceiver(options.codec)
    this.clusterId = options.clusterId
    this.self = options.self
    this.nextMessageId = options.messageIdStart
  }

  /** The frames carrying `message` to `to`: one, or several chunk frames. */
  encode(to: NodeId, message: M): Uint8Array[] {
    const frames = writeMessageFrames(this.codec, { clusterId: this.clusterId, from: this.self, to }, message, this.nextMessageId++)
    this.metrics.framesOut += frames.length
    if (frames.length > 1) this.metrics.messagesChunked++
    return frames
  }

  /** A frame from the link authenticated as `peer`. */
  receive(peer: NodeId, frame: Uint8Array): PeerFrameResult<M> {
    this.metrics.framesIn++
    const decoded = this.receiver.receive(frame)
    if (!decoded.ok) return this.refuse('malformed', `${decoded.error.code}: ${decoded.error.message}`)
    if (decoded.value === null) return { kind: 'partial' }
    const { clusterId, from, to, message } = decoded.value
    if (clusterId !== this.clusterId) return this.refuse('wrongCluster', `frame for cluster ${clusterId}, this is ${this.clusterId}`)
    if (to !== this.self) return this.refuse('wrongDestination', `frame for ${to}, this is ${this.self}`)
    if (from !== peer) return this.refuse('wrongSender', `frame says it is from ${from} on the link authenticated as ${peer}`)
    return { kind: 'message', from, message }
  }

  /** Partial messages held for reassembly now. */
  get held(): { readonly messages: number; readonly bytes: number } {
    return this.receiver.reassembler.held
  }

  private refuse(code: PeerFrameRefusalCode, message: string): PeerFrameResult<M> {
    switch (code) {
      case 'malformed':
        this.metrics.refusedMalformed++
        break
      case 'wrongCluster':
        this.metrics.refusedWrongCluster++
        break
      case 'wrongDestination':
        this.metrics.refusedWrongDestination++
        break
      case 'wrongSender':
        this.metrics.refusedWrongSender++
        break
    }
    return { kind: 'refused', code, message }
  }
}
