/**
 * Reconnect delays: doubling from delayMsMin to delayMsMax, each drawn from
 * its upper half ("equal jitter"), so viewers that lost the same node do not
 * come back in lockstep and a node coming up is not hammered.
 */
export const reconnectLimits = {
  delayMsMin: 250,
  delayMsMax: 10_000,
} as const

/** The wait before attempt `attempt` (1 for the first retry); `random` is in [0, 1). */
export function reconnectDelayMs(attempt: number, random: () => number): number {
  const ceiling = Math.min(reconnectLimits.delayMsMax, reconnectLimits.delayMsMin * 2 ** Math.max(0, Math.min(attempt - 1, 30)))
  return Math.round(ceiling / 2 + (random() * ceiling) / 2)
}
