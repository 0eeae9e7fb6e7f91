/**
 * The simulator's twin of a node's durable storage, with the crash semantics
 * of a disk behind a page cache:
 *
 * - `write` changes what reads see at once, but nothing is durable yet;
 * - `sync` makes every earlier write durable;
 * - `crash` keeps every synced write and decides the fate of each unsynced
 *   one independently: kept, lost, or torn (the key holds a prefix of the new
 *   value, as when power fails halfway through a sector write). Later writes
 *   may survive while earlier ones are lost: without a sync there is no order;
 * - like an operating system's writeback, at most `unsyncedWritesMax` writes
 *   stay unsynced: beyond it the oldest becomes durable on its own.
 */
import { assertFailed } from '../core/lib/assert.ts'
import { limits } from '../core/lib/limits.ts'
import type { Rng } from '../core/lib/prng.ts'
import type { StorageReader, StorageWrite } from '../core/ports.ts'

export interface StorageFaults {
  /** Chance that an unsynced write is lost on crash. */
  readonly lostProbability: number
  /** Chance that an unsynced write is torn on crash (checked after lost). */
  readonly tornProbability: number
}

export const defaultStorageFaults: StorageFaults = { lostProbability: 0.5, tornProbability: 0.25 }

export interface StorageMetrics {
  writes: number
  syncs: number
  writtenBack: number
  crashes: number
  unsyncedKept: number
  unsyncedLost: number
  unsyncedTorn: number
}

export const storageLimits = {
  /** One stored value: a Raft snapshot or a PBFT checkpoint state is one (limits.messageBytesMax bounds both). */
  valueBytesMax: limits.messageBytesMax,
  /** Keys per node: a runaway engine shows up as a clear failure, not as memory exhaustion. */
  keysMax: 1_000_000,
  /** Dirty writes held before the oldest is written back (a page cache's dirty limit). */
  unsyncedWritesMax: 256,
} as const

export class SimStorage implements StorageReader {
  private readonly durable = new Map<string, Uint8Array>()
  private visible = new Map<string, Uint8Array>()
  private unsynced: StorageWrite[] = []
  readonly metrics: StorageMetrics = { writes: 0, syncs: 0, writtenBack: 0, crashes: 0, unsyncedKept: 0, unsyncedLost: 0, unsyncedTorn: 0 }

  get(key: string): Uint8Array | undefined {
    return this.visible.get(key)
  }

  keys(prefix: string): string[] {
    const found: string[] = []
    for (const key of this.visible.keys()) if (key.startsWith(prefix)) found.push(key)
    return found.sort()
  }

  write(change: StorageWrite): void {
    if (change.value === null) {
      this.visible.delete(change.key)
    } else {
      if (change.value.length > storageLimits.valueBytesMax) assertFailed(`value for ${change.key} above valueBytesMax`)
      this.visible.set(change.key, change.value)
      if (this.visible.size > storageLimits.keysMax) assertFailed(`more than keysMax=${storageLimits.keysMax} keys`)
    }
    this.unsynced.push(change)
    this.metrics.writes++
    if (this.unsynced.length > storageLimits.unsyncedWritesMax) {
      applyTo(this.durable, this.unsynced.shift()!)
      this.metrics.writtenBack++
    }
  }

  sync(): void {
    for (const change of this.unsynced) applyTo(this.durable, change)
    this.unsynced = []
    this.metrics.syncs++
  }

  get unsyncedCount(): number {
    return this.unsynced.length
  }

  /** Power loss: decides each unsynced write's fate with `rng`, then reads see only what survived. */
  crash(rng: Rng, faults: StorageFaults): void {
    for (const change of this.unsynced) {
      if (rng.chance(faults.lostProbability)) {
        this.metrics.unsyncedLost++
      } else if (change.value !== null && change.value.length > 0 && rng.chance(faults.tornProbability)) {
        this.durable.set(change.key, change.value.slice(0, rng.int(change.value.length)))
        this.metrics.unsyncedTorn++
      } else {
        applyTo(this.durable, change)
        this.metrics.unsyncedKept++
      }
    }
    this.unsynced = []
    this.visible = new Map(this.durable)
    this.metrics.crashes++
  }
}

function applyTo(map: Map<string, Uint8Array>, change: StorageWrite): void {
  if (change.value === null) map.delete(change.key)
  else map.set(change.key, change.value)
}
