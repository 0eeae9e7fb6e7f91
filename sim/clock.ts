import type { Clock } from '../core/ports.ts'

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
