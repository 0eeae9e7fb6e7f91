/**
 * adaptive: the adaptive layer on its own terms. Three regions whose links go
 * datacenter → internet → datacenter → a noisy middle (hybrid), with auto
 * writes and reads from every node and no partitions. Checks: each change
 * detected within 3 probe intervals (plus the new round trip), no flapping
 * in any phase, no acknowledged auto write lost, every write after a mode
 * decision on the new path; reports detectionMs, modeSwitchMs, forecastMape
 * (one probe ahead against the injected mean round trip) and pathCounts.
 */
import type { LatencyPhase } from '../latencyPlan.ts'
import { replicaScenario } from './replicaRun.ts'

/** One-way latencies: datacenter ~1–2 ms, internet 40–70 ms, hybrid 10–14 ms; jitter well inside the 20% hysteresis margin. */
export const adaptivePhases: readonly LatencyPhase[] = [
  { name: 'datacenter', startUs: 0, baseUsMin: 1_000, baseUsMax: 2_000, jitterUs: 100 },
  { name: 'internet', startUs: 6_000_000, baseUsMin: 40_000, baseUsMax: 70_000, jitterUs: 1_000 },
  { name: 'datacenter-again', startUs: 12_000_000, baseUsMin: 1_000, baseUsMax: 2_000, jitterUs: 100 },
  { name: 'hybrid-noisy', startUs: 18_000_000, baseUsMin: 10_000, baseUsMax: 14_000, jitterUs: 600 },
]

export const adaptiveScenario = replicaScenario('adaptive', 'latency phases datacenter → internet → datacenter → noisy hybrid with auto writes; detection, no flapping, no lost writes, mode switch, forecast accuracy', {
  phases: adaptivePhases,
  mix: { strong: 0, auto: 1, eventual: 0, byzantine: 0 },
  partitions: null,
  clientsEndUs: 23_000_000,
  endUs: 26_000_000,
  thinkUsMax: 30_000,
})
