/**
 * The probes sent to one peer and not yet answered, by sequence number, in
 * send order (a Map keeps insertion order, and probes are sent with time
 * that never goes back), so the oldest is always first: eviction when full
 * and expiry at the timeout both look only at the front.
 */
import { assert } from '../lib/assert.ts'

export class OutstandingProbes {
  readonly max: number
  /** Exact send time (the host's nowMs, not the whole ms on the wire) by seq. */
  private readonly sentAtMsBySeq = new Map<number, number>()

  constructor(max: number) {
    assert(Number.isInteger(max) && max >= 1, 'outstanding probes need room for at least one')
    this.max = max
  }

  get size(): number {
    return this.sentAtMsBySeq.size
  }

  /** Records a probe; when full, first removes the oldest and returns its send time (it counts as lost). */
  add(seq: number, sentAtMs: number): number | null {
    let evictedSentAtMs: number | null = null
    if (this.sentAtMsBySeq.size >= this.max) {
      const [oldestSeq, oldestSentAtMs] = this.sentAtMsBySeq.entries().next().value!
      this.sentAtMsBySeq.delete(oldestSeq)
      evictedSentAtMs = oldestSentAtMs
    }
    this.sentAtMsBySeq.set(seq, sentAtMs)
    return evictedSentAtMs
  }

  sentAtMs(seq: number): number | undefined {
    return this.sentAtMsBySeq.get(seq)
  }

  delete(seq: number): boolean {
    return this.sentAtMsBySeq.delete(seq)
  }

  /** Send time of the oldest probe awaiting an answer, or Infinity when none does. */
  oldestSentAtMs(): number {
    for (const sentAtMs of this.sentAtMsBySeq.values()) return sentAtMs
    return Number.POSITIVE_INFINITY
  }

  /** Removes the probes sent at or before `nowMs - timeoutMs`; returns their send times, oldest first. */
  expire(nowMs: number, timeoutMs: number): number[] {
    const expired: number[] = []
    for (const [seq, sentAtMs] of this.sentAtMsBySeq) {
      if (nowMs - sentAtMs < timeoutMs) break
      this.sentAtMsBySeq.delete(seq)
      expired.push(sentAtMs)
    }
    return expired
  }
}
