/**
 * The tick schedule: engines count time in ticks of `tickMs`; a host asks
 * how many ticks are due at a monotonic time and when the next one is. A host
 * that was stopped for long (a paused process, a hibernated Durable Object)
 * does not replay every missed tick: it runs at most `catchUpTicksMax` and
 * counts the rest as skipped, since the time passed without them either way.
 */
import { assert, assertFailed, assertIntInRange } from '../core/index.ts'

export const tickLimits = {
  tickMsMin: 1,
  tickMsMax: 60_000,
  /** Ticks one call may run after a stall: enough to expire any timeout, few enough to answer soon. */
  catchUpTicksMax: 1_000,
} as const

export interface TickScheduleOptions {
  readonly tickMs: number
  /** Monotonic time of the start; the first tick is due `firstTickInMs` later. */
  readonly startMs: number
  /**
   * Time from the start to the first tick, in (0, tickMs]; default one tick. A host that starts many
   * nodes at once (a simulator) spreads their first ticks over a tick, so they do not tick in lockstep.
   */
  readonly firstTickInMs?: number
  readonly catchUpTicksMax?: number
}

export class TickSchedule {
  readonly tickMs: number
  private readonly catchUpTicksMax: number
  private nextDueMs: number
  private lastNowMs: number
  private ticksRun = 0
  private ticksSkipped = 0

  constructor(options: TickScheduleOptions) {
    this.tickMs = assertIntInRange(options.tickMs, tickLimits.tickMsMin, tickLimits.tickMsMax, 'tickMs')
    this.catchUpTicksMax = assertIntInRange(options.catchUpTicksMax ?? tickLimits.catchUpTicksMax, 1, tickLimits.catchUpTicksMax, 'catchUpTicksMax')
    assert(Number.isFinite(options.startMs), 'startMs must be finite')
    const firstTickInMs = options.firstTickInMs ?? this.tickMs
    if (!(firstTickInMs > 0 && firstTickInMs <= this.tickMs)) assertFailed(`firstTickInMs must be in (0, tickMs=${this.tickMs}], got ${firstTickInMs}`)
    this.nextDueMs = options.startMs + firstTickInMs
    this.lastNowMs = options.startMs
  }

  /** Ticks due at `nowMs` (monotonic); the schedule moves past them. */
  due(nowMs: number): number {
    if (!(nowMs >= this.lastNowMs)) assertFailed(`monotonic clock went back: ${nowMs} < ${this.lastNowMs}`)
    this.lastNowMs = nowMs
    if (nowMs < this.nextDueMs) return 0
    const elapsed = Math.floor((nowMs - this.nextDueMs) / this.tickMs) + 1
    const run = Math.min(elapsed, this.catchUpTicksMax)
    this.ticksSkipped += elapsed - run
    this.ticksRun += run
    this.nextDueMs += elapsed * this.tickMs
    return run
  }

  /** Monotonic time of the next tick. */
  nextDeadlineMs(): number {
    return this.nextDueMs
  }

  status(): { readonly tickMs: number; readonly ticksRun: number; readonly ticksSkipped: number; readonly nextDueMs: number } {
    return { tickMs: this.tickMs, ticksRun: this.ticksRun, ticksSkipped: this.ticksSkipped, nextDueMs: this.nextDueMs }
  }
}
