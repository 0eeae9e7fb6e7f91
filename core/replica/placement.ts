/**
 * Placement: which region should be a namespace's home, and where the Raft
 * leader should sit, from where writes come from (DESIGN §3 adaptive). Each
 * decision is an event whose `reason` says why in one sentence, so the TUI
 * and logs can show it as is.
 *
 * Sans-IO and deterministic: the time comes in as `nowMs`, nothing is read
 * from a clock, and every iteration is in name order, so the same inputs give
 * the same decisions on every node.
 */
import { isValidId } from '../lib/limits.ts'
import type { Refusal } from '../ready.ts'
import { defaultPlacementConfig, placementLimits, validatePlacementConfig, type PlacementConfig } from './placementConfig.ts'

export interface HomeProposal {
  readonly kind: 'homeProposed'
  readonly namespace: string
  /** The home when the proposal was made; null when the namespace had none. */
  readonly from: string | null
  readonly to: string
  readonly atMs: number
  /** The window's writes per region, in region name order. */
  readonly writesByRegion: Readonly<Record<string, number>>
  /** `to`'s share of the window's writes, in [shareMin, 1]. */
  readonly share: number
  readonly reason: string
}

export interface LeaderTransfer {
  readonly kind: 'leaderTransfer'
  /** The leader's region. */
  readonly from: string
  /** The voter to hand leadership to. */
  readonly to: string
  readonly toRegion: string
  readonly atMs: number
  readonly writesByRegion: Readonly<Record<string, number>>
  readonly share: number
  readonly reason: string
}

export interface LeaderTargetInput {
  readonly leaderRegion: string
  /** Voter ids of the Raft group, by region. */
  readonly votersByRegion: Readonly<Record<string, readonly string[]>>
  /** Strong writes per region, summed over the group's namespaces by the caller; when absent, `totalWritesByRegion(nowMs)`. */
  readonly homeWrites?: Readonly<Record<string, number>>
  readonly nowMs: number
}

/**
 * Smoothing of round trips as TCP's SRTT (RFC 6298): each sample moves the
 * estimate by 1/8, so one slow probe does not make a region look far.
 */
const rttSampleWeight = 0.125

/** Writes per region per bucket; the ring of `bucketsPerWindow` buckets is the window. */
interface Bucket {
  /** floor(atMs * bucketsPerWindow / windowMs); -Infinity while unused. */
  index: number
  readonly counts: Map<string, number>
}

class WriteWindow {
  private readonly buckets: Bucket[] = []
  private readonly windowMs: number
  /** Time of the last proposal for this namespace, for the cooldown. */
  lastProposalAtMs = -Infinity

  constructor(windowMs: number) {
    this.windowMs = windowMs
    for (let i = 0; i < placementLimits.bucketsPerWindow; i++) this.buckets.push({ index: -Infinity, counts: new Map() })
  }

  add(region: string, atMs: number): void {
    const index = this.indexOf(atMs)
    const bucket = this.buckets[slotOf(index)]!
    if (bucket.index !== index) {
      // The slot held a bucket one window old or more: its writes are forgotten.
      bucket.index = index
      bucket.counts.clear()
    }
    bucket.counts.set(region, (bucket.counts.get(region) ?? 0) + 1)
  }

  /** Adds the counts of buckets inside the window ending at `nowMs` into `into`. */
  addCountsAt(nowMs: number, into: Map<string, number>): void {
    const newest = this.indexOf(nowMs)
    for (const bucket of this.buckets) {
      if (bucket.index > newest - placementLimits.bucketsPerWindow && bucket.index <= newest) {
        for (const [region, count] of bucket.counts) into.set(region, (into.get(region) ?? 0) + count)
      }
    }
  }

  isEmptyAt(nowMs: number): boolean {
    const counts = new Map<string, number>()
    this.addCountsAt(nowMs, counts)
    return counts.size === 0
  }

  private indexOf(atMs: number): number {
    // Integer arithmetic for integer times: bucket edges do not drift with windowMs / 10 rounding.
    return Math.floor((atMs * placementLimits.bucketsPerWindow) / this.windowMs)
  }
}

function slotOf(index: number): number {
  const n = placementLimits.bucketsPerWindow
  return ((index % n) + n) % n
}

export class Placement {
  private readonly config: PlacementConfig
  private readonly windows = new Map<string, WriteWindow>()
  /** Every region seen in a write or a latency; bounded by regionsMax. */
  private readonly regions = new Set<string>()
  /** Smoothed round trip from this node to each region. */
  private readonly rttMsByRegion = new Map<string, number>()
  /** Latest write time: writes must not go back, or a reused bucket would be counted twice. */
  private lastWriteAtMs = -Infinity
  private lastTransferAtMs = -Infinity

  constructor(config: PlacementConfig = defaultPlacementConfig) {
    validatePlacementConfig(config)
    this.config = config
  }

  /** One write to `namespace` that came from `region` at `nowMs`. */
  recordWrite(namespace: string, region: string, nowMs: number): Refusal | null {
    if (!isValidId(namespace)) return { code: 'invalidId', message: `invalid namespace ${JSON.stringify(namespace)}` }
    if (!isValidId(region)) return { code: 'invalidId', message: `invalid region ${JSON.stringify(region)}` }
    if (!Number.isFinite(nowMs)) return { code: 'invalidTime', message: `nowMs must be finite, got ${nowMs}` }
    if (nowMs < this.lastWriteAtMs) return { code: 'timeWentBack', message: `nowMs ${nowMs} is before the last write at ${this.lastWriteAtMs}` }
    const refusal = this.admitRegion(region)
    if (refusal !== null) return refusal
    let window = this.windows.get(namespace)
    if (window === undefined) {
      if (this.windows.size >= placementLimits.namespacesMax) this.dropIdle(nowMs)
      if (this.windows.size >= placementLimits.namespacesMax) {
        return { code: 'tooManyNamespaces', message: `namespacesMax=${placementLimits.namespacesMax}, all with writes in the window` }
      }
      window = new WriteWindow(this.config.windowMs)
      this.windows.set(namespace, window)
    }
    this.lastWriteAtMs = nowMs
    window.add(region, nowMs)
    return null
  }

  /** A round trip measured from this node to `region`; the estimate is smoothed. */
  recordLatency(region: string, rttMs: number): Refusal | null {
    if (!isValidId(region)) return { code: 'invalidId', message: `invalid region ${JSON.stringify(region)}` }
    if (!(Number.isFinite(rttMs) && rttMs >= 0)) return { code: 'invalidRtt', message: `rttMs must be finite and >= 0, got ${rttMs}` }
    const refusal = this.admitRegion(region)
    if (refusal !== null) return refusal
    const previous = this.rttMsByRegion.get(region)
    this.rttMsByRegion.set(region, previous === undefined ? rttMs : previous + rttSampleWeight * (rttMs - previous))
    return null
  }

  /** The smoothed round trip to `region`, or null before any sample. */
  rttMs(region: string): number | null {
    return this.rttMsByRegion.get(region) ?? null
  }

  /**
   * The window's writes to `namespace` per region, in region name order;
   * regions without writes are left out. `nowMs` is meant to be at or after
   * the latest write: buckets are reused, so the past is not kept.
   */
  /** Namespaces with writes tracked, in ascending order. */
  namespaces(): string[] {
    return [...this.windows.keys()].sort()
  }

  writesByRegion(namespace: string, nowMs: number): Record<string, number> {
    const counts = new Map<string, number>()
    this.windows.get(namespace)?.addCountsAt(nowMs, counts)
    return sortedRecord(counts)
  }

  /** The window's writes per region summed over every namespace, in region name order. */
  totalWritesByRegion(nowMs: number): Record<string, number> {
    const counts = new Map<string, number>()
    for (const namespace of [...this.windows.keys()].sort()) this.windows.get(namespace)!.addCountsAt(nowMs, counts)
    return sortedRecord(counts)
  }

  /**
   * Proposes `namespace`'s home be moved to the region most of its writes
   * come from. Null with fewer than writesMin writes in the window, when that
   * region's share is below shareMin, when it already is the home, or within
   * cooldownMs of the last proposal for the namespace.
   */
  proposeHome(namespace: string, currentHome: string | null, nowMs: number): HomeProposal | null {
    const window = this.windows.get(namespace)
    if (window === undefined) return null
    const writesByRegion = this.writesByRegion(namespace, nowMs)
    const top = topRegion(writesByRegion, this.config)
    if (top === null || top.region === currentHome) return null
    if (nowMs - window.lastProposalAtMs < this.config.cooldownMs) return null
    window.lastProposalAtMs = nowMs
    const move = currentHome === null ? `${top.region} becomes the home` : `home moves from ${currentHome} to ${top.region}`
    return {
      kind: 'homeProposed',
      namespace,
      from: currentHome,
      to: top.region,
      atMs: nowMs,
      writesByRegion,
      share: top.share,
      reason: `${this.describeShare(top, writesByRegion, true)}; ${move}`,
    }
  }

  /**
   * Proposes handing Raft leadership to a voter in the region most strong
   * writes come from, when that is not the leader's region, it has a voter,
   * passes writesMin and shareMin, and cooldownMs has passed since the last
   * transfer. The voter is the lowest id of that region, so every node picks
   * the same one. Refuses write counts that are not counts.
   */
  leaderTarget(input: LeaderTargetInput): LeaderTransfer | Refusal | null {
    const { leaderRegion, votersByRegion, nowMs } = input
    let writesByRegion: Record<string, number>
    if (input.homeWrites === undefined) {
      writesByRegion = this.totalWritesByRegion(nowMs)
    } else {
      const regions = Object.keys(input.homeWrites)
      if (regions.length > placementLimits.regionsMax) return { code: 'tooManyRegions', message: `homeWrites has ${regions.length} regions, regionsMax=${placementLimits.regionsMax}` }
      const counts = new Map<string, number>()
      for (const region of regions) {
        const count = input.homeWrites[region]!
        if (!isValidId(region)) return { code: 'invalidId', message: `invalid region ${JSON.stringify(region)}` }
        if (!(Number.isSafeInteger(count) && count >= 0)) return { code: 'invalidWrites', message: `writes from ${region} must be an integer >= 0, got ${count}` }
        if (count > 0) counts.set(region, count)
      }
      writesByRegion = sortedRecord(counts)
    }
    const top = topRegion(writesByRegion, this.config)
    if (top === null || top.region === leaderRegion) return null
    const voters = votersByRegion[top.region] ?? []
    if (voters.length === 0) return null
    if (nowMs - this.lastTransferAtMs < this.config.cooldownMs) return null
    this.lastTransferAtMs = nowMs
    const to = [...voters].sort()[0]!
    const rtt = this.rttMs(top.region)
    const distance = rtt === null ? '' : `, ~${Math.round(rtt)} ms from here`
    return {
      kind: 'leaderTransfer',
      from: leaderRegion,
      to,
      toRegion: top.region,
      atMs: nowMs,
      writesByRegion,
      share: top.share,
      reason: `${this.describeShare(top, writesByRegion, input.homeWrites === undefined)}${distance}; leadership moves from ${leaderRegion} to ${to} (lowest voter id in ${top.region})`,
    }
  }

  /** "72% of 50 writes in the last 10 s came from us (ap 4, eu 10, us 36)". */
  private describeShare(top: Top, writesByRegion: Record<string, number>, tracked: boolean): string {
    const counts = Object.entries(writesByRegion)
      .map(([region, count]) => `${region} ${count}`)
      .join(', ')
    const window = tracked ? ` in the last ${this.config.windowMs / 1000} s` : ''
    return `${Math.round(top.share * 100)}% of ${top.total} writes${window} came from ${top.region} (${counts})`
  }

  private admitRegion(region: string): Refusal | null {
    if (this.regions.has(region)) return null
    if (this.regions.size >= placementLimits.regionsMax) return { code: 'tooManyRegions', message: `regionsMax=${placementLimits.regionsMax}` }
    this.regions.add(region)
    return null
  }

  /** Frees room for a new namespace: drops those with no write in the window and no cooldown running, in name order. */
  private dropIdle(nowMs: number): void {
    for (const namespace of [...this.windows.keys()].sort()) {
      const window = this.windows.get(namespace)!
      if (window.isEmptyAt(nowMs) && nowMs - window.lastProposalAtMs >= this.config.cooldownMs) this.windows.delete(namespace)
    }
  }
}

interface Top {
  readonly region: string
  readonly count: number
  readonly total: number
  readonly share: number
}

/** The region with most writes (lowest name on a tie) when the total reaches writesMin and its share shareMin; else null. */
function topRegion(writesByRegion: Record<string, number>, config: PlacementConfig): Top | null {
  let total = 0
  let best: { region: string; count: number } | null = null
  for (const region of Object.keys(writesByRegion).sort()) {
    const count = writesByRegion[region]!
    total += count
    if (best === null || count > best.count) best = { region, count }
  }
  if (best === null || total < config.writesMin) return null
  const share = best.count / total
  if (share < config.shareMin) return null
  return { region: best.region, count: best.count, total, share }
}

function sortedRecord(counts: Map<string, number>): Record<string, number> {
  const record: Record<string, number> = {}
  for (const region of [...counts.keys()].sort()) record[region] = counts.get(region)!
  return record
}
