/**
 * Wall time and timers for the data layer, injected so that tests drive
 * reconnects, polling and simulation frames by hand instead of waiting.
 */
export interface Timers {
  /** Milliseconds of a monotonic clock (pacing, latency). */
  nowMs(): number
  /** Milliseconds since the epoch (reconnect times shown to the user, event times of live nodes). */
  wallMs(): number
  setTimeout(run: () => void, delayMs: number): unknown
  clearTimeout(handle: unknown): void
}

export const systemTimers: Timers = {
  nowMs: () => performance.now(),
  wallMs: () => Date.now(),
  setTimeout: (run, delayMs) => {
    const handle = setTimeout(run, delayMs)
    // A pending timer alone never keeps the process alive: quitting the UI ends it.
    handle.unref?.()
    return handle
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
}

/** Timers that run only when told: `advance(ms)` moves both clocks and runs what fell due, in order. */
export class ManualTimers implements Timers {
  private now = 0
  private readonly epochMs: number
  private nextId = 1
  private readonly pending = new Map<number, { readonly atMs: number; readonly run: () => void }>()

  constructor(epochMs = 1_700_000_000_000) {
    this.epochMs = epochMs
  }

  nowMs = (): number => this.now
  wallMs = (): number => this.epochMs + this.now

  setTimeout = (run: () => void, delayMs: number): unknown => {
    const id = this.nextId++
    this.pending.set(id, { atMs: this.now + Math.max(0, delayMs), run })
    return id
  }

  clearTimeout = (handle: unknown): void => {
    this.pending.delete(handle as number)
  }

  get pendingCount(): number {
    return this.pending.size
  }

  /** When the next timer is due, or null. */
  nextDueMs(): number | null {
    let next: number | null = null
    for (const { atMs } of this.pending.values()) if (next === null || atMs < next) next = atMs
    return next
  }

  advance(ms: number): void {
    const endMs = this.now + ms
    for (;;) {
      let dueId = -1
      let dueAt = Infinity
      for (const [id, { atMs }] of this.pending) if (atMs <= endMs && atMs < dueAt) [dueId, dueAt] = [id, atMs]
      if (dueId === -1) break
      const { run } = this.pending.get(dueId)!
      this.pending.delete(dueId)
      this.now = Math.max(this.now, dueAt)
      run()
    }
    this.now = endMs
  }
}
