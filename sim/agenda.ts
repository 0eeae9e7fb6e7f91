/**
 * The simulator's agenda: every pending event, ordered by (time, sequence).
 * The sequence number breaks ties in insertion order, so two events at the
 * same virtual microsecond always run in the same order for the same seed.
 *
 * Built for millions of events per wall second without garbage: events are
 * slots in parallel typed arrays (a free list recycles them), never objects.
 * A timing wheel of `bucketCount` buckets, each `bucketUs` wide, holds slot
 * numbers of the near future unsorted; when time reaches a bucket it is
 * insertion-sorted once and drained in order (an event scheduled into the
 * bucket being drained is inserted at its place). Events beyond the wheel's
 * horizon wait in an overflow heap and move in as time comes near them.
 */
import { assertFailed } from '../core/lib/assert.ts'

/** Narrower than the shortest simulated link latency, so sends almost never land in the bucket being drained. */
const bucketUs = 64
/** A horizon of about one virtual second: enough for WAN latency, reordering delay and ticks. */
const bucketCount = 16_384
const slotsInitial = 1024

export interface AgendaEvent<P> {
  atUs: number
  kind: number
  node: number
  from: number
  order: number
  payload: P | null
}

export class Agenda<P> {
  private atUs = new Float64Array(slotsInitial)
  private seq = new Float64Array(slotsInitial)
  private kind = new Uint8Array(slotsInitial)
  private node = new Int32Array(slotsInitial)
  private from = new Int32Array(slotsInitial)
  private order = new Float64Array(slotsInitial)
  private payload: (P | null)[] = new Array<P | null>(slotsInitial).fill(null)
  private free: number[] = []
  private slotsUsed = 0
  private readonly buckets: number[][] = Array.from({ length: bucketCount }, () => [])
  /** Absolute bucket number (atUs / bucketUs) of `current`. */
  private currentBucket = 0
  /** Slots of the bucket being drained, sorted; `cursor` is the next to hand out. */
  private current: number[] = []
  private cursor = 0
  private readonly overflow: number[] = []
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
  push(atUs: number, kind: number, node: number, from: number, order: number, payload: P | null): boolean {
    if (this.count >= this.eventsMax) return false
    const slot = this.allocate()
    this.atUs[slot] = atUs
    this.seq[slot] = this.nextSeq++
    this.kind[slot] = kind
    this.node[slot] = node
    this.from[slot] = from
    this.order[slot] = order
    this.payload[slot] = payload
    this.count++
    const bucket = Math.floor(atUs / bucketUs)
    if (bucket <= this.currentBucket) this.insertCurrent(slot)
    else if (bucket < this.currentBucket + bucketCount) {
      this.buckets[bucket % bucketCount]!.push(slot)
      this.wheelCount++
    } else this.heapPush(slot)
    return true
  }

  /** Time of the earliest event, or +Infinity when empty. */
  peekTimeUs(): number {
    if (!this.fill()) return Number.POSITIVE_INFINITY
    return this.atUs[this.current[this.cursor]!]!
  }

  /** Removes the earliest event and copies it into `into`; false when empty. */
  pop(into: AgendaEvent<P>): boolean {
    if (!this.fill()) return false
    const slot = this.current[this.cursor++]!
    into.atUs = this.atUs[slot]!
    into.kind = this.kind[slot]!
    into.node = this.node[slot]!
    into.from = this.from[slot]!
    into.order = this.order[slot]!
    into.payload = this.payload[slot]!
    this.payload[slot] = null
    this.free.push(slot)
    this.count--
    return true
  }

  private allocate(): number {
    if (this.free.length > 0) return this.free.pop()!
    if (this.slotsUsed === this.atUs.length) this.grow()
    return this.slotsUsed++
  }

  private grow(): void {
    const size = this.atUs.length * 2
    if (size > this.eventsMax * 2) assertFailed('agenda grew past its limit')
    this.atUs = growFloat64(this.atUs, size)
    this.seq = growFloat64(this.seq, size)
    this.order = growFloat64(this.order, size)
    const kind = new Uint8Array(size)
    kind.set(this.kind)
    this.kind = kind
    const node = new Int32Array(size)
    node.set(this.node)
    this.node = node
    const from = new Int32Array(size)
    from.set(this.from)
    this.from = from
    for (let slot = this.payload.length; slot < size; slot++) this.payload.push(null)
  }

  private before(a: number, b: number): boolean {
    const atA = this.atUs[a]!
    const atB = this.atUs[b]!
    return atA < atB || (atA === atB && this.seq[a]! < this.seq[b]!)
  }

  /** Inserts into the bucket being drained, after every pending event that comes before it. */
  private insertCurrent(slot: number): void {
    const current = this.current
    let low = this.cursor
    let high = current.length
    while (low < high) {
      const middle = (low + high) >> 1
      if (this.before(current[middle]!, slot)) low = middle + 1
      else high = middle
    }
    current.splice(low, 0, slot)
  }

  /** Makes `current[cursor]` the earliest event; false when there is none. */
  private fill(): boolean {
    while (this.cursor >= this.current.length) {
      if (this.count === 0) return false
      this.current.length = 0
      this.cursor = 0
      this.currentBucket = this.wheelCount > 0 ? this.currentBucket + 1 : Math.floor(this.atUs[this.overflow[0]!]! / bucketUs)
      const index = this.currentBucket % bucketCount
      const arrived = this.buckets[index]!
      if (arrived.length > 0) {
        this.wheelCount -= arrived.length
        this.buckets[index] = this.current
        this.current = arrived
      }
      // Overflow events whose bucket came within the wheel's horizon move in now.
      const horizon = this.currentBucket + bucketCount
      while (this.overflow.length > 0 && Math.floor(this.atUs[this.overflow[0]!]! / bucketUs) < horizon) {
        const slot = this.heapPop()
        const bucket = Math.floor(this.atUs[slot]! / bucketUs)
        if (bucket === this.currentBucket) this.current.push(slot)
        else {
          this.buckets[bucket % bucketCount]!.push(slot)
          this.wheelCount++
        }
      }
      this.sortCurrent()
    }
    return true
  }

  /** Insertion sort: buckets hold a few dozen events, mostly close to sorted already. */
  private sortCurrent(): void {
    const current = this.current
    for (let i = 1; i < current.length; i++) {
      const slot = current[i]!
      let j = i - 1
      while (j >= 0 && this.before(slot, current[j]!)) {
        current[j + 1] = current[j]!
        j--
      }
      current[j + 1] = slot
    }
  }

  private heapPush(slot: number): void {
    const heap = this.overflow
    let index = heap.length
    heap.push(slot)
    while (index > 0) {
      const parentIndex = (index - 1) >> 1
      const parent = heap[parentIndex]!
      if (!this.before(slot, parent)) break
      heap[index] = parent
      index = parentIndex
    }
    heap[index] = slot
  }

  private heapPop(): number {
    const heap = this.overflow
    const top = heap[0]!
    const last = heap.pop()!
    if (heap.length > 0) {
      let index = 0
      const length = heap.length
      for (;;) {
        const left = 2 * index + 1
        if (left >= length) break
        const right = left + 1
        const child = right < length && this.before(heap[right]!, heap[left]!) ? right : left
        if (!this.before(heap[child]!, last)) break
        heap[index] = heap[child]!
        index = child
      }
      heap[index] = last
    }
    return top
  }
}

function growFloat64(array: Float64Array<ArrayBuffer>, size: number): Float64Array<ArrayBuffer> {
  const grown = new Float64Array(size)
  grown.set(array)
  return grown
}
