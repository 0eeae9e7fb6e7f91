/**
 * GET /v1/events (WebSocket): what a viewer (the terminal UI, a test) sees of
 * a node. First `{ kind: 'snapshot' }`, taken at the moment of subscribing,
 * then the host's feed items as they come (host/eventLog.ts FeedItem): each
 * numbered event, a gap where numbers were lost, and a cutOff, after which
 * the socket closes with the reason. A viewer that reconnects with
 * `?since=EPOCH:SEQ` (its last item) gets every event after it that the node
 * still keeps. Messages are JSON text; byte arrays are base64.
 */
import type { ReplicaEvent } from '../core/index.ts'
import type { FeedItem, Subscription } from '../host/eventLog.ts'
import type { ReplicaHost } from '../host/replicaHost.ts'
import type { FeedMessage } from './contract.ts'
import { statusOf } from './errors.ts'
import { closeCodeOf, closeSocket, sendOrDrop, type ApiSocket } from './sockets.ts'
import { wireJson } from './wire.ts'

export type FeedHost = Pick<ReplicaHost, 'subscribe' | 'snapshot'>

/** Where a viewer is in the feed: the last event it was sent (what it would resume with, `?since=EPOCH:SEQ`). */
export interface FeedPosition {
  readonly epoch: string
  readonly seq: number
}

export class EventsFeed {
  private subscription: Subscription<ReplicaEvent> | null = null
  private readonly socket: ApiSocket
  private readonly onSent: ((position: FeedPosition) => void) | null
  private epoch = ''

  /** Subscribes and sends the snapshot (or an error, and closes); `onSent` hears the position after every event sent. */
  constructor(host: FeedHost, socket: ApiSocket, since: FeedPosition | null, onSent: ((position: FeedPosition) => void) | null = null) {
    this.socket = socket
    this.onSent = onSent
    const subscription = host.subscribe(since)
    if (!('take' in subscription)) {
      this.send({ kind: 'error', error: { code: subscription.code, message: subscription.message } })
      closeSocket(socket, closeCodeOf(statusOf(subscription.code)), `${subscription.code}: ${subscription.message}`)
      return
    }
    this.subscription = subscription
    // The snapshot and the subscription are taken together, between two inputs of the kernel: no event falls between them.
    const snapshot = host.snapshot()
    this.epoch = snapshot.events.epoch
    this.send({ kind: 'snapshot', snapshot })
    subscription.onAvailable = () => this.drain()
    this.drain()
  }

  /** The viewer went away. */
  close(): void {
    const subscription = this.subscription
    if (subscription === null) return
    this.subscription = null
    subscription.onAvailable = null
    subscription.close()
  }

  private drain(): void {
    const subscription = this.subscription
    if (subscription === null) return
    // Everything waiting: the cue comes again only once the buffer was empty.
    for (const item of subscription.take(Number.MAX_SAFE_INTEGER)) {
      if (this.subscription === null) return // ended while sending (the socket closed)
      const sent = this.send(item)
      if (sent && item.kind === 'event') this.onSent?.({ epoch: this.epoch, seq: item.seq })
      if (item.kind === 'cutOff') {
        this.subscription = null
        closeSocket(this.socket, item.reason === 'slowSubscriber' ? closeCodeOf(503) : 1000, `${item.reason}: ${item.message}`)
        return
      }
    }
  }

  /**
   * Feed items go as they are: wireJson turns their byte arrays into base64,
   * as FeedMessage says. This runs inside the kernel's drive: it never throws
   * there (an item that cannot be encoded ends the feed instead).
   */
  private send(message: FeedMessage | FeedItem<ReplicaEvent>): boolean {
    let text: string
    try {
      text = wireJson(message)
    } catch (thrown) {
      this.close()
      closeSocket(this.socket, closeCodeOf(500), `internal: a feed item could not be encoded (${(thrown as Error).name})`)
      return false
    }
    const sent = sendOrDrop(this.socket, text)
    if (!sent && this.subscription !== null && this.socket.readyState !== 1) this.close()
    return sent
  }
}
