/**
 * The newest events of a cluster, bounded: the oldest make room for new ones,
 * and the ring counts what it let go so the Events screen can say so.
 */
import { BoundedQueue } from '../../core/lib/queue.ts'
import type { ClusterEvent } from './clusterEvent.ts'

export const eventRingLimits = {
  /** Events kept per source (one live node, or a whole simulation): the Events screen's scrollback. */
  eventsMax: 2_000,
} as const

export class EventRing {
  private readonly queue: BoundedQueue<ClusterEvent>
  private droppedCount = 0
  private appended = 0

  constructor(capacity: number = eventRingLimits.eventsMax) {
    this.queue = new BoundedQueue(capacity)
  }

  push(event: ClusterEvent): void {
    if (this.queue.isFull()) {
      this.queue.shift()
      this.droppedCount++
    }
    this.queue.push(event)
    this.appended++
  }

  /** Events appended so far (kept or not): changes whenever the ring does. */
  get total(): number {
    return this.appended
  }

  get dropped(): number {
    return this.droppedCount
  }

  get length(): number {
    return this.queue.length
  }

  /** The kept events, oldest first (a copy). */
  toArray(): ClusterEvent[] {
    const out: ClusterEvent[] = new Array(this.queue.length)
    for (let index = 0; index < out.length; index++) out[index] = this.queue.at(index)!
    return out
  }

  clear(): void {
    this.queue.drain()
  }
}
