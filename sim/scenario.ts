/** The contract between the runner (and `dwcp sim`) and one scenario. */
import type { PartitionMode } from './faults.ts'
import type { RunSteps } from './steps.ts'
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
  /** Byzantine replicas, for scenarios that have them (see `Scenario.byzantine`); undefined: the scenario's default. */
  readonly byzantine?: number
  /** How the Byzantine replicas misbehave (one of `Scenario.byzantine.modes`); undefined: the scenario's default. */
  readonly byzantineMode?: string
  /** A change of the replica group during the fault window (one of `Scenario.reconfigurations`); undefined: none. */
  readonly reconfigure?: string
  /** Called about once per virtual second with the virtual time done and the run's total, for progress displays. */
  readonly onProgress?: (doneMs: number, totalMs: number) => void
  /** Hosts that sleep while their engine has no work (SimOptions.sleepWhenIdle), for scenarios that support it; default false. */
  readonly sleepWhenIdle?: boolean
}

/** Counters and gauges of one run; names say their unit. Over several seeds they add up, except a scenario's `maxMetrics`. */
export type RunMetrics = Record<string, number>

export interface RunResult {
  readonly seed: number
  readonly violations: readonly Violation[]
  /** Violations beyond violationsPerRunMax: counted, not kept. */
  readonly violationsDropped: number
  readonly metrics: RunMetrics
  /** Measurements with a distribution (detection times, spread rounds); the report summarizes them over every seed. */
  readonly samples?: Readonly<Record<string, readonly number[]>>
  /** A hash of the run's final state and metrics: equal for equal seeds. */
  readonly fingerprint: string
}

export interface Scenario {
  readonly name: string
  readonly summary: string
  readonly defaultNodes: number
  /** The partition mode when the run names none (default flaky). */
  readonly defaultPartition?: PartitionMode
  /** The loss rate when the run names none (default 0.01). */
  readonly defaultLoss?: number
  /** Nodes the scenario runs on, when it limits them (`dwcp sim` refuses others as a usage error). */
  readonly nodesMin?: number
  readonly nodesMax?: number
  /** For scenarios with Byzantine replicas: the modes `--mode` accepts, and how many of `nodes` replicas may be Byzantine. */
  readonly byzantine?: { readonly modes: readonly string[]; readonly replicasMax: (nodes: number) => number }
  /** For scenarios whose group can be reconfigured in a run: the plans `--reconfigure` accepts. */
  readonly reconfigurations?: readonly string[]
  /** Metrics that aggregate over seeds by their maximum (times, rounds) rather than by sum. */
  readonly maxMetrics?: readonly string[]
  /** Shapes the report's metrics from the merged metrics and sample summaries (default: both side by side). */
  readonly report?: (metrics: RunMetrics, samples: Readonly<Record<string, SampleSummary>>) => Record<string, unknown>
  run(options: ScenarioOptions): RunResult
  /** The same run as steps a viewer drives (sim/steps.ts: `dwcp tui --sim`); `run` is `runSteps(steps(options))`. */
  readonly steps?: (options: ScenarioOptions) => RunSteps
  /** Where a stepped run ends, when it is known before it ends (else it ends where its checks say: a viewer learns it then). */
  readonly stepsEndUs?: number
}

/** A distribution over every seed's samples. */
export interface SampleSummary {
  readonly count: number
  readonly mean: number
  readonly median: number
  readonly p99: number
}

export function summarize(values: readonly number[]): SampleSummary {
  if (values.length === 0) return { count: 0, mean: 0, median: 0, p99: 0 }
  const sorted = [...values].sort((a, b) => a - b)
  const at = (share: number) => sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))]!
  const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length
  return { count: sorted.length, mean: Math.round(mean * 1000) / 1000, median: at(0.5), p99: at(0.99) }
}
