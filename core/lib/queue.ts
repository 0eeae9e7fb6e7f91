import { assert, assertIntInRange } from './assert.ts'

/**
 * A FIFO ring buffer with a fixed capacity. `push` refuses (returns false)
 * when full instead of growing: the caller decides what a full queue means
 * (drop and count, back-pressure, refuse the client) and says so.
 */
export class BoundedQueue<T> {
  private readonly items: (T | undefined)[]
  private head = 0
  private count = 0
  readonly capacity: number

  constructor(capacity: number) {
    this.capacity = assertIntInRange(capacity, 1, 1 << 24, 'BoundedQueue capacity')
    this.items = new Array<T | undefined>(capacity)
  }

  get length(): number {
    return this.count
  }

  isFull(): boolean {
    return this.count === this.capacity
  }

  /** Appends `item`; false when the queue is full (nothing is changed then). */
  push(item: T): boolean {
    if (this.count === this.capacity) return false
    this.items[(this.head + this.count) % this.capacity] = item
    this.count++
    return true
  }

  /** Removes and returns the oldest item, or undefined when empty. */
  shift(): T | undefined {
    if (this.count === 0) return undefined
    const item = this.items[this.head]
    this.items[this.head] = undefined
    this.head = (this.head + 1) % this.capacity
    this.count--
    return item
  }

  /** The item `index` places from the oldest (0: the oldest), or undefined past the end. */
  at(index: number): T | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) return undefined
    return this.items[(this.head + index) % this.capacity]
  }

  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head]
  }

  /** Removes every item and returns them oldest first. */
  drain(): T[] {
    const out: T[] = []
    while (this.count > 0) out.push(this.shift() as T)
    assert(this.count === 0, 'drained queue is empty')
    return out
  }
}
