import type { Clock } from '../core/ports.ts'
import type { MonotonicClock } from '../host/ports.ts'

/** A fixed epoch, so that hybrid logical clocks read the same timestamps for the same seed. */
export const simEpochMs = Date.UTC(2026, 0, 1)

/** The simulator's twin of the node host's clock: virtual time, advanced only by the simulator. */
export class VirtualClock implements Clock {
  nowUs = 0

  nowMs(): number {
    return simEpochMs + Math.floor(this.nowUs / 1000)
  }
}

/**
 * A wall clock that reads the virtual time rounded down to whole steps of
 * `stepMs` (a coarse clock: many events share one reading), or never moves
 * at all when `stepMs` is Infinity (a frozen clock). Hybrid logical clocks
 * over it fall back on their logical counters, so equal stamps are common.
 */
export class SteppedClock implements Clock {
  private readonly virtual: VirtualClock
  private readonly stepMs: number

  constructor(virtual: VirtualClock, stepMs: number) {
    this.virtual = virtual
    this.stepMs = stepMs
  }

  nowMs(): number {
    if (this.stepMs === Infinity) return simEpochMs
    const elapsedMs = Math.floor(this.virtual.nowUs / 1000)
    return simEpochMs + elapsedMs - (elapsedMs % this.stepMs)
  }
}

/**
 * The simulator's twin of a process's monotonic clock (performance.now): virtual time since the
 * node's process started, in milliseconds. It reads whole milliseconds at every whole millisecond
 * of virtual time after the start, so the kernel's tick deadlines fall on exact microseconds.
 */
export class ProcessClock implements MonotonicClock {
  private readonly virtual: VirtualClock
  private readonly startedUs: number

  constructor(virtual: VirtualClock, startedUs: number) {
    this.virtual = virtual
    this.startedUs = startedUs
  }

  nowMs(): number {
    return (this.virtual.nowUs - this.startedUs) / 1000
  }
}
