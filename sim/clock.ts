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
