/**
 * Hybrid logical clocks (Kulkarni et al.): timestamps that follow physical
 * time when clocks agree and still order causally related events when they
 * drift. Physical time comes only from the injected `Clock`.
 *
 * A remote timestamp more than `clockDriftMsMax` ahead of our physical clock
 * is refused: adopting it would drag this node's clock (and every LWW write it
 * makes) into the future.
 */
import type * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import { readUint, writeUint } from '../codec/fields.ts'
import type { Clock } from '../ports.ts'

export interface Hlc {
  readonly wallMs: number
  /** Events within one wall millisecond. */
  readonly logical: number
}

export const hlcLimits = {
  /** Largest accepted lead of a remote clock over ours. */
  clockDriftMsMax: 60_000,
  /** Logical counter bound; at it the clock moves one millisecond ahead of the wall instead of overflowing. */
  logicalMax: 0xffff_ffff,
  /**
   * How far ahead of the latest stamp the persisted high-water mark is set.
   * Every stamp handed out lies below a mark that is durable first, so a
   * restart (even with the wall clock stepped back) starts above every stamp
   * it ever issued. Longer: fewer synced writes (one per lease at most); shorter:
   * a smaller jump ahead after a restart. One second keeps both small.
   */
  highWaterLeaseMs: 1_000,
} as const

export const zeroHlc: Hlc = { wallMs: 0, logical: 0 }

export function compareHlc(a: Hlc, b: Hlc): number {
  return a.wallMs - b.wallMs || a.logical - b.logical
}

export type HlcRefusal = { readonly code: 'clockDrift'; readonly message: string }

/** The clock as status() shows it (plain data). */
export interface HlcStatus {
  /** The latest timestamp issued or observed. */
  readonly latest: Hlc
  /** Every stamp issued or adopted lies below this wall time; it is persisted before such a stamp leaves the node. */
  readonly highWaterMs: number
  /** Remote timestamps refused for being more than clockDriftMsMax ahead. */
  readonly refusedDrift: number
}

/** What the clock's users outside the CRDT engine need: stamps for local events (strong, auto and byzantine commands). */
export interface HlcStamper {
  now(): Hlc
}

export class HybridClock implements HlcStamper {
  private last: Hlc = zeroHlc
  private readonly clock: Clock
  private readonly driftMsMax: number
  /** Every stamp issued or adopted has wallMs below this; it must be durable before such a stamp leaves the node. */
  private highWaterMs = 0
  /** The high-water mark moved and is not yet handed to storage. */
  private highWaterMoved = false
  private refusedDriftCount = 0

  constructor(clock: Clock, driftMsMax: number = hlcLimits.clockDriftMsMax) {
    this.clock = clock
    this.driftMsMax = driftMsMax
  }

  /** True when the high-water mark moved: the owner persists it (synced) before anything carrying a new stamp is sent. */
  get needsPersist(): boolean {
    return this.highWaterMoved
  }

  /** The mark to persist; taking it clears `needsPersist`. */
  takeHighWater(): number {
    this.highWaterMoved = false
    return this.highWaterMs
  }

  private coverLast(): void {
    if (this.last.wallMs < this.highWaterMs) return
    this.highWaterMs = this.last.wallMs + hlcLimits.highWaterLeaseMs
    this.highWaterMoved = true
  }

  /** A timestamp for a local event, greater than every timestamp seen so far. */
  now(): Hlc {
    const physicalMs = this.clock.nowMs()
    const last = this.last
    this.last = physicalMs > last.wallMs ? { wallMs: physicalMs, logical: 0 } : successor(last.wallMs, last.logical)
    this.coverLast()
    return this.last
  }

  /** Takes a remote timestamp into account; refuses one too far ahead (and changes nothing then). */
  observe(remote: Hlc): HlcRefusal | null {
    const physicalMs = this.clock.nowMs()
    if (remote.wallMs > physicalMs + this.driftMsMax) {
      this.refusedDriftCount++
      return { code: 'clockDrift', message: `remote clock ${remote.wallMs} ms is more than clockDriftMsMax=${this.driftMsMax} ahead of ${physicalMs} ms` }
    }
    const last = this.last
    const wallMs = Math.max(physicalMs, last.wallMs, remote.wallMs)
    if (wallMs === last.wallMs && wallMs === remote.wallMs) this.last = successor(wallMs, Math.max(last.logical, remote.logical))
    else if (wallMs === last.wallMs) this.last = successor(wallMs, last.logical)
    else if (wallMs === remote.wallMs) this.last = successor(wallMs, remote.logical)
    else this.last = { wallMs, logical: 0 }
    this.coverLast()
    return null
  }

  /** The latest timestamp issued or observed. */
  get latest(): Hlc {
    return this.last
  }

  /** Remote timestamps refused for drift. */
  get refusedDrift(): number {
    return this.refusedDriftCount
  }

  status(): HlcStatus {
    return { latest: this.last, highWaterMs: this.highWaterMs, refusedDrift: this.refusedDriftCount }
  }

  /**
   * After a restart: continues from the persisted high-water mark, above every
   * stamp issued before (whatever the wall clock says now).
   */
  restore(highWaterMs: number): void {
    if (highWaterMs <= this.highWaterMs) return
    this.highWaterMs = highWaterMs
    if (highWaterMs > this.last.wallMs) this.last = { wallMs: highWaterMs, logical: 0 }
  }
}

/** The next timestamp after (wallMs, logical): when the counter is full it borrows the next millisecond, never repeating. */
function successor(wallMs: number, logical: number): Hlc {
  return logical >= hlcLimits.logicalMax ? { wallMs: wallMs + 1, logical: 0 } : { wallMs, logical: logical + 1 }
}

export function writeHlc(encoder: encoding.Encoder, hlc: Hlc): void {
  writeUint(encoder, hlc.wallMs)
  writeUint(encoder, hlc.logical)
}

export function readHlc(decoder: decoding.Decoder): Hlc {
  const wallMs = readUint(decoder, Number.MAX_SAFE_INTEGER, 'hlc wall time')
  const logical = readUint(decoder, hlcLimits.logicalMax, 'hlc logical counter')
  return { wallMs, logical }
}
