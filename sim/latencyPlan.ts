/**
 * A latency matrix between regions that changes mid-run: a list of phases,
 * each giving every pair of distinct regions a one-way latency (base and
 * jitter, drawn per pair from the phase's range). Links inside a region keep
 * the network's LAN latency. The plan is the injected truth the adaptive
 * checkers compare the detector and the forecast with.
 */
import { classify, type LossLevel, type Mode } from '../core/adaptive/mode.ts'
import { defaultModeDetectorConfig } from '../core/adaptive/modeConfig.ts'
import type { Rng } from '../core/lib/prng.ts'
import type { LinkLatency, SimNetwork } from './network.ts'

export interface LatencyPhase {
  readonly name: string
  readonly startUs: number
  /** One-way base latency between regions is drawn from [baseUsMin, baseUsMax] per region pair. */
  readonly baseUsMin: number
  readonly baseUsMax: number
  /** Mean of the exponential jitter on top (the network caps it at 8 means). */
  readonly jitterUs: number
}

/** A phase as applied: each region pair's latency. */
export interface AppliedPhase {
  readonly phase: LatencyPhase
  /** By `${regionA}|${regionB}` (a < b). */
  readonly pairs: ReadonlyMap<string, LinkLatency>
}

export function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`
}

/** Mean round trip of a link with this one-way latency: two ways of base plus mean jitter. */
export function meanRttMs(latency: LinkLatency): number {
  return (2 * (latency.baseUs + latency.jitterUs)) / 1000
}

/** Longest round trip the network can produce on it (jitter is capped at 8 means). */
export function maxRttMs(latency: LinkLatency): number {
  return (2 * (latency.baseUs + 8 * latency.jitterUs)) / 1000
}

/**
 * The mode DESIGN's thresholds give a link's mean round trip (bandwidth
 * unknown) at a loss level: the detector's own rule (`classify`), so where a
 * run injects loss the level it allows (`lossLevelsFor`) moves the truth the
 * same way it moves the detector.
 */
export function truthMode(latency: LinkLatency, lossLevel: LossLevel = 'low'): Mode {
  const rttMs = meanRttMs(latency)
  return classify({ rttMsP50: rttMs, rttMsP99: rttMs, lossRate: 0, bandwidthBitsPerSecond: null, samples: 0 }, defaultModeDetectorConfig, lossLevel)
}

export class LatencyPlan {
  readonly applied: AppliedPhase[] = []
  private readonly regions: readonly string[]

  constructor(phases: readonly LatencyPhase[], regions: readonly string[], rng: Rng) {
    this.regions = regions
    for (const phase of phases) {
      const pairs = new Map<string, LinkLatency>()
      for (let a = 0; a < regions.length; a++) {
        for (let b = a + 1; b < regions.length; b++) pairs.set(pairKey(regions[a]!, regions[b]!), { baseUs: rng.intBetween(phase.baseUsMin, phase.baseUsMax), jitterUs: phase.jitterUs })
      }
      this.applied.push({ phase, pairs })
    }
  }

  /** Sets every cross-region link of `network` to the phase's latency; `regionOf[i]` is node i's region. */
  apply(index: number, network: SimNetwork, regionOf: readonly string[]): void {
    const { pairs } = this.applied[index]!
    for (let from = 0; from < regionOf.length; from++) {
      for (let to = 0; to < regionOf.length; to++) {
        if (regionOf[from] === regionOf[to]) continue
        network.setLatency(from, to, pairs.get(pairKey(regionOf[from]!, regionOf[to]!))!)
      }
    }
  }

  /** The phase in force at `atUs`. */
  phaseAt(atUs: number): number {
    let index = 0
    while (index + 1 < this.applied.length && this.applied[index + 1]!.phase.startUs <= atUs) index++
    return index
  }

  latency(phaseIndex: number, regionA: string, regionB: string): LinkLatency | null {
    return regionA === regionB ? null : (this.applied[phaseIndex]!.pairs.get(pairKey(regionA, regionB)) ?? null)
  }

  get regionList(): readonly string[] {
    return this.regions
  }
}
