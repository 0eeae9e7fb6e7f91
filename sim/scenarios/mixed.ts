/**
 * mixed: every consistency level at once while the latency matrix goes
 * datacenter → internet → datacenter and regions are cut off now and then.
 * Checks: linearizability of strong keys, convergence and bounds of eventual
 * counters, agreement and durability of byzantine writes, no acknowledged
 * auto write lost across mode switches, detection and no flapping on links
 * no partition disturbed.
 */
import type { LatencyPhase } from '../latencyPlan.ts'
import { replicaScenario } from './replicaRun.ts'

export const mixedPhases: readonly LatencyPhase[] = [
  { name: 'datacenter', startUs: 0, baseUsMin: 1_000, baseUsMax: 2_000, jitterUs: 100 },
  { name: 'internet', startUs: 7_000_000, baseUsMin: 40_000, baseUsMax: 70_000, jitterUs: 1_000 },
  { name: 'datacenter-again', startUs: 14_000_000, baseUsMin: 1_000, baseUsMax: 2_000, jitterUs: 100 },
]

export const mixedScenario = replicaScenario('mixed', 'strong, auto, eventual and byzantine requests under latency phases and region partitions; every checker', {
  phases: mixedPhases,
  mix: { strong: 3, auto: 3, eventual: 2, byzantine: 1 },
  partitions: { startUs: 2_000_000, endUs: 17_000_000 },
  clientsEndUs: 18_000_000,
  endUs: 22_000_000,
  thinkUsMax: 40_000,
})
