/** The contract between the runner (and `dwcp sim`) and one scenario. */
import type { PartitionMode } from './faults.ts'
import type { Trace } from './trace.ts'
import type { Violation } from './violation.ts'

export interface ScenarioOptions {
  readonly seed: number
  readonly nodes: number
  /** Chance that any one message is lost during the run. */
  readonly loss: number
  readonly partition: PartitionMode
  readonly crashes: boolean
  /** Encode and decode every message as a real host does (slower; on by default). */
  readonly wire: boolean
  readonly trace: Trace | null
  /** Called about once per virtual second with the virtual time done and the run's total, for progress displays. */
  readonly onProgress?: (doneMs: number, totalMs: number) => void
}

/** Counters and gauges of one run; names say their unit. Over several seeds they add up, except a scenario's `maxMetrics`. */
export type RunMetrics = Record<string, number>

export interface RunResult {
  readonly seed: number
  readonly violations: readonly Violation[]
  /** Violations beyond violationsPerRunMax: counted, not kept. */
  readonly violationsDropped: number
  readonly metrics: RunMetrics
  /** A hash of the run's final state and metrics: equal for equal seeds. */
  readonly fingerprint: string
}

export interface Scenario {
  readonly name: string
  readonly summary: string
  readonly defaultNodes: number
  /** Metrics that aggregate over seeds by their maximum (times, rounds) rather than by sum. */
  readonly maxMetrics?: readonly string[]
  run(options: ScenarioOptions): RunResult
}
