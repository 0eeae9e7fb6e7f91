/**
 * The simulator's agenda: every pending event, ordered by (time, sequence).
 * The sequence number breaks ties in insertion order, so two events at the
 * same virtual microsecond always run in the same order for the same seed.
 *
 * Built for millions of events per wall second without garbage: events are
 * slots of one Float64Array, `slotFields` numbers side by side so that one
 * event sits in one cache line (a free list recycles slots), never objects.
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
/** Numbers per slot, in this order: time, sequence, kind, node, from, order. */
const slotFields = 6
const fieldSeq = 1
const fieldKind = 2
const fieldNode = 3
const fieldFrom = 4
const fieldOrder = 5

export interface AgendaEvent<P> {
  atUs: number
  kind: number
  node: number
  from: number
  order: number
  payload: P | null
}

export class Agenda<P> {
  private slots = new Float64Array(slotsInitial * slotFields)
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
    const base = slot * slotFields
    const slots = this.slots
    slots[base] = atUs
    slots[base + fieldSeq] = this.nextSeq++
    slots[base + fieldKind] = kind
    slots[base + fieldNode] = node
    slots[base + fieldFrom] = from
    slots[base + fieldOrder] = order
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
    return this.slots[this.current[this.cursor]! * slotFields]!
  }

  /** Removes the earliest event and copies it into `into`; false when empty. */
  pop(into: AgendaEvent<P>): boolean {
    return this.popUntil(Number.POSITIVE_INFINITY, into)
  }

  /** Like `pop`, but only an event due at or before `endUs`; false (and nothing removed) otherwise. */
  popUntil(endUs: number, into: AgendaEvent<P>): boolean {
    if (!this.fill()) return false
    const slot = this.current[this.cursor]!
    const base = slot * slotFields
    const slots = this.slots
    const atUs = slots[base]!
    if (atUs > endUs) return false
    this.cursor++
    into.atUs = atUs
    into.kind = slots[base + fieldKind]!
    into.node = slots[base + fieldNode]!
    into.from = slots[base + fieldFrom]!
    into.order = slots[base + fieldOrder]!
    into.payload = this.payload[slot]!
    this.payload[slot] = null
    this.free.push(slot)
    this.count--
    return true
  }

  private allocate(): number {
    if (this.free.length > 0) return this.free.pop()!
    if (this.slotsUsed === this.payload.length) this.grow()
    return this.slotsUsed++
  }

  private grow(): void {
    const size = this.payload.length * 2
    if (size > this.eventsMax * 2) assertFailed('agenda grew past its limit')
    const slots = new Float64Array(size * slotFields)
    slots.set(this.slots)
    this.slots = slots
    for (let slot = this.payload.length; slot < size; slot++) this.payload.push(null)
  }

  private timeOf(slot: number): number {
    return this.slots[slot * slotFields]!
  }

  private before(a: number, b: number): boolean {
    const slots = this.slots
    const atA = slots[a * slotFields]!
    const atB = slots[b * slotFields]!
    return atA < atB || (atA === atB && slots[a * slotFields + fieldSeq]! < slots[b * slotFields + fieldSeq]!)
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
      this.currentBucket = this.wheelCount > 0 ? this.currentBucket + 1 : Math.floor(this.timeOf(this.overflow[0]!) / bucketUs)
      const index = this.currentBucket % bucketCount
      const arrived = this.buckets[index]!
      if (arrived.length > 0) {
        this.wheelCount -= arrived.length
        this.buckets[index] = this.current
        this.current = arrived
      }
      // Overflow events whose bucket came within the wheel's horizon move in now.
      const horizon = this.currentBucket + bucketCount
      while (this.overflow.length > 0 && Math.floor(this.timeOf(this.overflow[0]!) / bucketUs) < horizon) {
        const slot = this.heapPop()
        const bucket = Math.floor(this.timeOf(slot) / bucketUs)
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
