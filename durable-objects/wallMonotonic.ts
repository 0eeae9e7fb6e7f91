/**
 * The monotonic clock of a region object. Workers have no clock that is both
 * monotonic and meaningful across the object's lives, and alarms are set in
 * wall time anyway, so ticks count on the wall clock made monotonic: the
 * largest `Date.now()` seen by this instance (it never goes back, even if the
 * host's clock steps back). In Workers `Date.now()` advances only between
 * I/O events (a timing side-channel defence), which a tick schedule, checked
 * at each event, does not notice.
 */
import type { MonotonicClock } from '../host/ports.ts'

export class WallMonotonic implements MonotonicClock {
  private lastMs = Number.NEGATIVE_INFINITY

  nowMs(): number {
    const wallMs = Date.now()
    if (wallMs > this.lastMs) this.lastMs = wallMs
    return this.lastMs
  }

  /** The wall time at which monotonic time reaches `deadlineMs` (now, if it already has): what an alarm is set to. */
  wallTimeOf(deadlineMs: number): number {
    return Date.now() + Math.max(0, deadlineMs - this.nowMs())
  }
}
