/**
 * Placement settings, each with its reason, and the limits that bound what
 * placement tracks (DESIGN §3 adaptive: "which region is a namespace's home,
 * by observed write sources and latency").
 */

export interface PlacementConfig {
  /** Writes older than this are forgotten: placement follows where writes come from now, not last hour. */
  readonly windowMs: number
  /** Writes in the window before any proposal: a handful of writes says nothing about where a namespace is used. */
  readonly writesMin: number
  /**
   * Share of the window's writes a region needs to be proposed (as home, or
   * as the leader's region). Above one half, so at most one region can pass,
   * and well above it so two regions near 50% never flip the home back and
   * forth: leaving a home takes a clear majority elsewhere.
   */
  readonly shareMin: number
  /**
   * Minimum time between two home proposals for one namespace, and between
   * two leader transfers: moving a home or a leader costs a Raft round and
   * a pause in writes, so it is not redone faster than this.
   */
  readonly cooldownMs: number
}

export const defaultPlacementConfig: PlacementConfig = {
  windowMs: 10_000,
  writesMin: 20,
  shareMin: 0.6,
  cooldownMs: 5_000,
}

const bucketsPerWindow = 10
const regionsMax = 64

export const placementLimits = {
  /** Namespaces one node tracks; beyond it a new namespace is refused (ones with no write in the window are dropped first). */
  namespacesMax: 1024,
  /** Regions one node knows (from writes and latencies); a deployment has a few. */
  regionsMax,
  /**
   * The window is counted in this many buckets of windowMs / bucketsPerWindow,
   * a ring per namespace: memory stays bounded whatever the write rate, and a
   * write is forgotten between 0.9 and 1 window after it.
   */
  bucketsPerWindow,
  /** Counters one namespace holds: one per region per bucket. */
  countersPerNamespaceMax: bucketsPerWindow * regionsMax,
  /** Largest window: a day; placement reacts to traffic, not to history. */
  windowMsMax: 86_400_000,
} as const

/** Throws a RangeError naming the first setting that is out of range. */
export function validatePlacementConfig(config: PlacementConfig): void {
  const { windowMsMax } = placementLimits
  // An integer number of ms of at least one per bucket, so bucket edges are exact.
  if (!(Number.isSafeInteger(config.windowMs) && config.windowMs >= bucketsPerWindow && config.windowMs <= windowMsMax)) {
    throw new RangeError(`placement config windowMs must be an integer in [${bucketsPerWindow}, ${windowMsMax}], got ${config.windowMs}`)
  }
  if (!(Number.isSafeInteger(config.writesMin) && config.writesMin >= 1)) {
    throw new RangeError(`placement config writesMin must be an integer >= 1, got ${config.writesMin}`)
  }
  // At or below one half two regions could both pass, and a 50/50 split would flip the home.
  if (!(config.shareMin > 0.5 && config.shareMin <= 1)) {
    throw new RangeError(`placement config shareMin must be in (0.5, 1], got ${config.shareMin}`)
  }
  if (!(Number.isSafeInteger(config.cooldownMs) && config.cooldownMs >= 0)) {
    throw new RangeError(`placement config cooldownMs must be an integer >= 0, got ${config.cooldownMs}`)
  }
}
