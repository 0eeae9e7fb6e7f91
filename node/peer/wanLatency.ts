/**
 * Static extra one-way delay per pair of regions (`dwcp up --wan-latency
 * 80ms`): applied to every frame sent on an inter-region link, so a local
 * cluster's links between regions look like the internet to the adaptive
 * layer while links within a region stay datacenter-fast.
 */
import { faultLimits } from '../../host/faults.ts'

/** Extra one-way delay in ms of a frame sent from region `from` to region `to`. */
export type WanLatency = (from: string, to: string) => number

/** `delayMs` between different regions, 0 within one. */
export function interRegionLatency(delayMs: number): WanLatency {
  if (!(Number.isFinite(delayMs) && delayMs >= 0 && delayMs <= faultLimits.latencyMsMax)) throw new RangeError(`WAN latency must be 0 to ${faultLimits.latencyMsMax} ms, got ${delayMs}`)
  return (from, to) => (from === to ? 0 : delayMs)
}
