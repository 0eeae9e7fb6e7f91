/**
 * Reconnect delays: exponential in the failed dials since the last link,
 * from dialDelayMsMin to dialDelayMsMax, with "equal jitter" (half fixed,
 * half random) so nodes that lost a peer together do not redial in step.
 */

export interface BackoffLimits {
  readonly dialDelayMsMin: number
  readonly dialDelayMsMax: number
}

/** The wait before dial number `failures + 1`; 0 after no failure. `random` is in [0, 1). */
export function dialDelayMs(failures: number, limits: BackoffLimits, random: () => number): number {
  if (failures <= 0) return 0
  // 2^30 would overflow nothing, but no delay range needs more doublings.
  const ceiling = Math.min(limits.dialDelayMsMax, limits.dialDelayMsMin * 2 ** Math.min(failures - 1, 30))
  return Math.round(ceiling / 2 + random() * (ceiling / 2))
}
