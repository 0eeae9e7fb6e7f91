/**
 * The optional event trace: one line per event, and a 64-bit hash of all
 * lines (two FNV-1a streams with different offsets). Two runs of one seed
 * must give the same hash; the determinism tests compare it.
 */
import { fnv1a32String, hex32 } from '../core/lib/hash.ts'

export type TraceSink = (line: string) => void

export class Trace {
  private hashLow = 0x811c9dc5
  private hashHigh = 0x01000193
  lines = 0
  private readonly sink: TraceSink | null

  constructor(sink: TraceSink | null) {
    this.sink = sink
  }

  line(text: string): void {
    this.hashLow = fnv1a32String(text + '\n', this.hashLow)
    this.hashHigh = fnv1a32String(text + '\n', this.hashHigh ^ 0x5bd1e995)
    this.lines++
    if (this.sink !== null) this.sink(text)
  }

  get hash(): string {
    return hex32(this.hashHigh) + hex32(this.hashLow)
  }
}

/** Formats virtual microseconds as milliseconds with three decimals, e.g. `1234.567`. */
export function formatUs(us: number): string {
  const ms = Math.floor(us / 1000)
  return `${ms}.${String(us - ms * 1000).padStart(3, '0')}`
}
