/**
 * Event fan-out: every engine event gets a sequence number (1, 2, …) and goes
 * to each subscriber's bounded buffer. The last `retainedMax` events are kept
 * so a viewer that reconnects resumes after the last number it saw; one that
 * asks for events no longer kept is told so (`gap`) and should take a fresh
 * snapshot. A subscriber that does not drain its buffer is cut off and told
 * why: a slow viewer never slows the replica or grows memory.
 */
import { assertIntInRange, BoundedQueue, type Refusal } from '../core/index.ts'

export const eventLogLimits = {
  /** Events kept for resuming viewers: minutes of a busy node's events. */
  retainedMax: 16_384,
  /** Viewers attached at once (terminal UIs, metrics scrapers, tests). */
  subscribersMax: 64,
  /** Items waiting in one subscriber's buffer before it is cut off. */
  subscriberBufferMax: 4_096,
} as const

export type FeedItem<E> =
  | { readonly kind: 'event'; readonly seq: number; readonly event: E }
  /**
   * What the viewer asked for cannot be resumed: events `fromSeq..toSeq` are no
   * longer kept (`dropped`), or its numbers belong to another epoch (the node
   * restarted: `epoch`). Take a new snapshot.
   */
  | { readonly kind: 'gap'; readonly reason: 'dropped' | 'epoch'; readonly fromSeq: number; readonly toSeq: number }
  /** The last item of a subscription that was ended by the log. */
  | { readonly kind: 'cutOff'; readonly reason: 'slowSubscriber' | 'closed'; readonly message: string }

export interface EventLogOptions {
  /** Names this numbering (a node's incarnation): numbers from another epoch are not resumed. */
  readonly epoch: string
  readonly retainedMax?: number
  readonly subscribersMax?: number
  readonly subscriberBufferMax?: number
}

export class Subscription<E> {
  /** Called when items become available after the buffer was empty (a host's cue to drain). */
  onAvailable: (() => void) | null = null
  private readonly buffer: BoundedQueue<FeedItem<E>>
  private ended: FeedItem<E> | null = null
  private readonly detach: (subscription: Subscription<E>) => void

  constructor(bufferMax: number, detach: (subscription: Subscription<E>) => void) {
    // One slot more than the limit so the cut-off notice always fits.
    this.buffer = new BoundedQueue(bufferMax + 1)
    this.detach = detach
  }

  get closed(): boolean {
    return this.ended !== null
  }

  get pending(): number {
    return this.buffer.length
  }

  /** Up to `max` items, oldest first. */
  take(max: number): FeedItem<E>[] {
    const out: FeedItem<E>[] = []
    while (out.length < max && this.buffer.length > 0) out.push(this.buffer.shift()!)
    return out
  }

  /** Ends the subscription from the viewer's side. */
  close(): void {
    this.end({ kind: 'cutOff', reason: 'closed', message: 'subscription closed' })
  }

  /** @internal the log's side: false when the subscriber was cut off by it. */
  offer(item: FeedItem<E>): boolean {
    if (this.ended !== null) return false
    if (this.buffer.length >= this.buffer.capacity - 1) {
      this.end({ kind: 'cutOff', reason: 'slowSubscriber', message: `more than ${this.buffer.capacity - 1} events waited unread` })
      return false
    }
    this.push(item)
    return true
  }

  private end(notice: FeedItem<E>): void {
    if (this.ended !== null) return
    this.ended = notice
    this.push(notice)
    this.detach(this)
  }

  private push(item: FeedItem<E>): void {
    const wasEmpty = this.buffer.length === 0
    this.buffer.push(item)
    if (wasEmpty) this.onAvailable?.()
  }
}

export class EventLog<E> {
  /** The last events, oldest first: the newest has number `seq`, so each one's number follows from its place. */
  private readonly retained: BoundedQueue<E>
  private readonly subscribers = new Set<Subscription<E>>()
  private readonly subscribersMax: number
  private readonly subscriberBufferMax: number
  private seq = 0
  private cutOffs = 0
  readonly epoch: string

  constructor(options: EventLogOptions) {
    this.epoch = options.epoch
    this.retained = new BoundedQueue(assertIntInRange(options.retainedMax ?? eventLogLimits.retainedMax, 1, 1 << 20, 'retainedMax'))
    this.subscribersMax = assertIntInRange(options.subscribersMax ?? eventLogLimits.subscribersMax, 1, 4_096, 'subscribersMax')
    this.subscriberBufferMax = assertIntInRange(options.subscriberBufferMax ?? eventLogLimits.subscriberBufferMax, 1, 1 << 20, 'subscriberBufferMax')
  }

  /** The number of the last event appended (0 before any). */
  get lastSeq(): number {
    return this.seq
  }

  status(): { readonly epoch: string; readonly lastSeq: number; readonly retained: number; readonly subscribers: number; readonly subscribersCutOff: number } {
    return { epoch: this.epoch, lastSeq: this.seq, retained: this.retained.length, subscribers: this.subscribers.size, subscribersCutOff: this.cutOffs }
  }

  /** Numbers `event`, keeps it for resuming and offers it to every subscriber; returns its number. */
  append(event: E): number {
    const seq = ++this.seq
    if (this.retained.isFull()) this.retained.shift()
    this.retained.push(event)
    // Most nodes have no viewer: appending then allocates nothing.
    if (this.subscribers.size === 0) return seq
    const item: FeedItem<E> = { kind: 'event', seq, event }
    for (const subscription of this.subscribers) if (!subscription.offer(item)) this.cutOffs++
    return seq
  }

  /**
   * A new subscription receiving every event after `since` (kept ones first),
   * or only new ones when `since` is null.
   */
  subscribe(since: { readonly epoch: string; readonly seq: number } | null): Subscription<E> | Refusal {
    if (this.subscribers.size >= this.subscribersMax) return { code: 'overloaded', message: `${this.subscribersMax} subscribers are attached already` }
    if (since !== null && (!Number.isSafeInteger(since.seq) || since.seq < 0)) return { code: 'invalidSeq', message: `since must be a sequence number >= 0, got ${since.seq}` }
    const sameEpoch = since !== null && since.epoch === this.epoch
    if (sameEpoch && since.seq > this.seq) return { code: 'invalidSeq', message: `since ${since.seq} is ahead of the last event ${this.seq}` }
    const subscription = new Subscription<E>(this.subscriberBufferMax, (ended) => this.subscribers.delete(ended))
    this.subscribers.add(subscription)
    if (since === null) return subscription
    // Another epoch: everything kept is news to the viewer, and what is not kept is a gap.
    const afterSeq = sameEpoch ? since.seq : 0
    const oldestSeq = this.seq - this.retained.length + 1
    if (!sameEpoch || afterSeq + 1 < oldestSeq) subscription.offer({ kind: 'gap', reason: sameEpoch ? 'dropped' : 'epoch', fromSeq: afterSeq + 1, toSeq: oldestSeq - 1 })
    for (let index = Math.max(0, afterSeq + 1 - oldestSeq); index < this.retained.length; index++) {
      if (!subscription.offer({ kind: 'event', seq: oldestSeq + index, event: this.retained.at(index)! })) {
        this.cutOffs++
        break
      }
    }
    return subscription
  }
}
