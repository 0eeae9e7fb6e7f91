/**
 * The simulator's agenda, ordered by (time, sequence). The sequence number
 * breaks ties in insertion order, so two events at the same virtual
 * microsecond always run in the same order for the same seed.
 *
 * Layout, for speed at millions of events: a timing wheel of `bucketCount`
 * buckets, each `bucketUs` wide, holds the near future as unsorted arrays.
 * When time reaches a bucket it is sorted once by time (a stable sort keeps
 * insertion order among equal times, which is sequence order) and drained in
 * order; the rare event scheduled into the bucket being drained is inserted
 * at its place. Events beyond the wheel's horizon wait in an overflow heap
 * and move into the wheel as time comes near them.
 */

export interface Scheduled {
  readonly atUs: number
  /** Set by the queue: insertion order, the tie-breaker. */
  seq: number
}

/** Narrower than the shortest simulated link latency, so sends almost never land in the bucket being drained. */
const bucketUs = 64
/** A horizon of about one virtual second: enough for WAN latency, reordering delay and ticks. */
const bucketCount = 16_384

export class EventQueue<T extends Scheduled> {
  private readonly buckets: T[][] = Array.from({ length: bucketCount }, () => [])
  /** Absolute bucket number (atUs / bucketUs) of `current`. */
  private currentBucket = 0
  /** The bucket being drained, sorted; `cursor` is the next event to hand out. */
  private current: T[] = []
  private cursor = 0
  private readonly overflow: T[] = []
  private wheelCount = 0
  private count = 0
  private nextSeq = 0
  readonly eventsMax: number

  constructor(eventsMax: number) {
    this.eventsMax = eventsMax
  }

  get length(): number {
    return this.count
  }

  /** Adds an event; false when the agenda holds `eventsMax` events (the caller counts the drop). */
  push(event: T): boolean {
    if (this.count >= this.eventsMax) return false
    event.seq = this.nextSeq++
    this.count++
    const bucket = Math.floor(event.atUs / bucketUs)
    if (bucket <= this.currentBucket) this.insertCurrent(event)
    else if (bucket < this.currentBucket + bucketCount) {
      this.buckets[bucket % bucketCount]!.push(event)
      this.wheelCount++
    } else heapPush(this.overflow, event)
    return true
  }

  /** Inserts after every pending event of the same or earlier time: the newest sequence goes last among equals. */
  private insertCurrent(event: T): void {
    const current = this.current
    let low = this.cursor
    let high = current.length
    while (low < high) {
      const middle = (low + high) >> 1
      if (current[middle]!.atUs <= event.atUs) low = middle + 1
      else high = middle
    }
    current.splice(low, 0, event)
  }

  /** Time of the earliest event, or +Infinity when empty. */
  peekTimeUs(): number {
    if (!this.fill()) return Number.POSITIVE_INFINITY
    return this.current[this.cursor]!.atUs
  }

  pop(): T | undefined {
    if (!this.fill()) return undefined
    this.count--
    const event = this.current[this.cursor]!
    this.current[this.cursor++] = undefined as unknown as T
    return event
  }

  /** Makes `current[cursor]` the earliest event; false when there is none. */
  private fill(): boolean {
    while (this.cursor >= this.current.length) {
      if (this.count === 0) return false
      this.current.length = 0
      this.cursor = 0
      this.currentBucket = this.wheelCount > 0 ? this.currentBucket + 1 : Math.floor(this.overflow[0]!.atUs / bucketUs)
      const slot = this.currentBucket % bucketCount
      const arrived = this.buckets[slot]!
      if (arrived.length > 0) {
        this.wheelCount -= arrived.length
        this.buckets[slot] = this.current
        this.current = arrived
      }
      // Overflow events whose bucket came within the wheel's horizon move in now.
      const horizon = this.currentBucket + bucketCount
      while (this.overflow.length > 0 && Math.floor(this.overflow[0]!.atUs / bucketUs) < horizon) {
        const event = heapPop(this.overflow)
        const bucket = Math.floor(event.atUs / bucketUs)
        if (bucket === this.currentBucket) this.current.push(event)
        else {
          this.buckets[bucket % bucketCount]!.push(event)
          this.wheelCount++
        }
      }
      if (this.current.length > 1) this.current.sort(byTimeThenSeq)
    }
    return true
  }
}

function byTimeThenSeq(a: Scheduled, b: Scheduled): number {
  return a.atUs - b.atUs || a.seq - b.seq
}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.atUs < b.atUs || (a.atUs === b.atUs && a.seq < b.seq)
}

function heapPush<T extends Scheduled>(heap: T[], event: T): void {
  let index = heap.length
  heap.push(event)
  while (index > 0) {
    const parentIndex = (index - 1) >> 1
    const parent = heap[parentIndex]!
    if (!before(event, parent)) break
    heap[index] = parent
    index = parentIndex
  }
  heap[index] = event
}

function heapPop<T extends Scheduled>(heap: T[]): T {
  const top = heap[0]!
  const last = heap.pop()!
  if (heap.length > 0) {
    let index = 0
    const length = heap.length
    for (;;) {
      const left = 2 * index + 1
      if (left >= length) break
      const right = left + 1
      const child = right < length && before(heap[right]!, heap[left]!) ? right : left
      if (!before(heap[child]!, last)) break
      heap[index] = heap[child]!
      index = child
    }
    heap[index] = last
  }
  return top
}
