/**
 * The Convergence screen's memory: one sample of the cluster's divergence and
 * anti-entropy traffic per interval of cluster time, and how long each spell
 * of divergence lasted until every replica held the same (time to converge).
 */
import { BoundedQueue } from '../../core/lib/queue.ts'

export const historyLimits = {
  /** Samples kept (the sparklines' width at most). */
  samplesMax: 120,
  /** Cluster time between two samples. */
  sampleIntervalMs: 1_000,
  /** Times to converge kept. */
  convergeTimesMax: 64,
} as const

export interface HistorySample {
  readonly atMs: number
  /** Keys whose digest differs between replicas that are up. */
  readonly divergentKeys: number
  /** Anti-entropy bytes sent by every replica since the previous sample (deltas, digests, whole states). */
  readonly antiEntropyBytes: number
}

export interface HistoryView {
  readonly samples: readonly HistorySample[]
  /** Lengths of the spells of divergence that ended, oldest first. */
  readonly convergeMs: readonly number[]
  /** When the current spell of divergence began; null while converged. */
  readonly divergentSinceMs: number | null
}

export const emptyHistory: HistoryView = { samples: [], convergeMs: [], divergentSinceMs: null }

export class History {
  private samples = new BoundedQueue<HistorySample>(historyLimits.samplesMax)
  private converge = new BoundedQueue<number>(historyLimits.convergeTimesMax)
  private divergentSinceMs: number | null = null
  private lastBytes: number | null = null
  private view: HistoryView = emptyHistory

  get current(): HistoryView {
    return this.view
  }

  /** Whether a sample is due at `atMs`: an interval passed, or time went back (a simulation's jump: the history starts over). */
  due(atMs: number): boolean {
    const last = this.samples.at(this.samples.length - 1)
    return last === undefined || atMs < last.atMs || atMs - last.atMs >= historyLimits.sampleIntervalMs
  }

  /** Takes a sample at `atMs` (see `due`). */
  offer(atMs: number, divergentKeys: number, antiEntropyBytesTotal: number): HistoryView {
    const last = this.samples.at(this.samples.length - 1)
    if (last !== undefined && atMs < last.atMs) this.clear()
    if (divergentKeys > 0 && this.divergentSinceMs === null) this.divergentSinceMs = atMs
    if (divergentKeys === 0 && this.divergentSinceMs !== null) {
      this.push(this.converge, atMs - this.divergentSinceMs)
      this.divergentSinceMs = null
    }
    const bytes = this.lastBytes === null ? 0 : Math.max(0, antiEntropyBytesTotal - this.lastBytes)
    this.lastBytes = antiEntropyBytesTotal
    this.push(this.samples, { atMs, divergentKeys, antiEntropyBytes: bytes })
    this.view = { samples: this.items(this.samples), convergeMs: this.items(this.converge), divergentSinceMs: this.divergentSinceMs }
    return this.view
  }

  clear(): void {
    this.samples = new BoundedQueue(historyLimits.samplesMax)
    this.converge = new BoundedQueue(historyLimits.convergeTimesMax)
    this.divergentSinceMs = null
    this.lastBytes = null
    this.view = emptyHistory
  }

  private push<T>(queue: BoundedQueue<T>, item: T): void {
    if (queue.isFull()) queue.shift()
    queue.push(item)
  }

  private items<T>(queue: BoundedQueue<T>): T[] {
    return Array.from({ length: queue.length }, (_, index) => queue.at(index)!)
  }
}
