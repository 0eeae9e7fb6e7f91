/**
 * One peer's send queue: frames in order, each with the monotonic time it
 * may leave (now, or later under added latency), bounded in frames and bytes.
 * A frame that does not fit is refused (the caller counts the drop), so a
 * slow or absent peer costs at most the bound, and never blocks the others.
 */

interface Queued {
  readonly frame: Uint8Array
  readonly dueMs: number
}

export interface SendQueueLimits {
  readonly queueFramesMax: number
  readonly queueBytesMax: number
}

export class SendQueue {
  /** Taken entries are set to undefined at once, so their frames can be collected before the array is compacted. */
  private entries: (Queued | undefined)[] = []
  private head = 0
  private queuedBytes = 0
  private readonly limits: SendQueueLimits

  constructor(limits: SendQueueLimits) {
    this.limits = limits
  }

  get frames(): number {
    return this.entries.length - this.head
  }

  get bytes(): number {
    return this.queuedBytes
  }

  /** Queues `frame`; false (and nothing queued) when the queue is full. */
  push(frame: Uint8Array, dueMs: number): boolean {
    if (this.frames >= this.limits.queueFramesMax || this.queuedBytes + frame.length > this.limits.queueBytesMax) return false
    this.entries.push({ frame, dueMs })
    this.queuedBytes += frame.length
    return true
  }

  /** When the first frame may leave, or null when empty. */
  nextDueMs(): number | null {
    return this.head < this.entries.length ? this.entries[this.head]!.dueMs : null
  }

  /**
   * Takes frames from the front while they are due at `nowMs` and fit in
   * `bytesMax` by `sizeOf` (the first due frame is always taken) and `framesMax`.
   */
  takeDue(nowMs: number, framesMax: number, bytesMax: number, sizeOf: (frame: Uint8Array) => number): Uint8Array[] {
    const taken: Uint8Array[] = []
    let bytes = 0
    while (this.head < this.entries.length && taken.length < framesMax) {
      const next = this.entries[this.head]!
      if (next.dueMs > nowMs) break
      const size = sizeOf(next.frame)
      if (taken.length > 0 && bytes + size > bytesMax) break
      taken.push(next.frame)
      bytes += size
      this.removeHead()
    }
    this.compact()
    return taken
  }

  /** Drops frames from the front that were due before `cutoffMs`; returns how many. */
  expire(cutoffMs: number): number {
    let dropped = 0
    while (this.head < this.entries.length && this.entries[this.head]!.dueMs < cutoffMs) {
      this.removeHead()
      dropped++
    }
    this.compact()
    return dropped
  }

  /** Drops everything; returns how many frames. */
  clear(): number {
    const dropped = this.frames
    this.entries = []
    this.head = 0
    this.queuedBytes = 0
    return dropped
  }

  private removeHead(): void {
    this.queuedBytes -= this.entries[this.head]!.frame.length
    this.entries[this.head] = undefined
    this.head++
  }

  private compact(): void {
    if (this.head === this.entries.length) {
      this.entries = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head)
      this.head = 0
    }
  }
}
