/**
 * The ports a host gives the kernel beside the core's own (core/ports.ts):
 * where Ready writes go, where messages go, and a monotonic clock for ticks.
 * Real and simulated twins carry these names (DESIGN §1.2).
 */
import type { NodeId, StorageWrite } from '../core/index.ts'

/** Durable storage as the host writes it; the core reads it through `StorageReader`. */
export interface StorageWriter {
  write(write: StorageWrite): void
  /** Makes every write so far durable (fsync, synchronous=FULL commit); returns once it is. */
  sync(): void
}

/** Hands a message to the network. Delivery is not guaranteed; engines tolerate loss. */
export interface Transport<M> {
  send(to: NodeId, message: M): void
}

/**
 * Time that never goes back within one process lifetime (performance.now,
 * the simulator's virtual clock). Ticks are counted on it; the wall clock the
 * HLC reads (core `Clock`) may step.
 */
export interface MonotonicClock {
  nowMs(): number
}
