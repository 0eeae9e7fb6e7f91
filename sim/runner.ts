/**
 * Runs one scenario over one or more seeds and folds the runs into the report
 * `dwcp sim --json` prints (DESIGN §5): scenario, nodes, seeds, violations,
 * metrics; plus each run's fingerprint. Nothing in it depends on wall time,
 * so the same arguments print the same bytes.
 */
import type { PartitionMode } from './faults.ts'
import { summarize, type RunMetrics, type RunResult, type Scenario } from './scenario.ts'
import { Trace, type TraceSink } from './trace.ts'
import { worstViolationKind, type Violation, type ViolationKind } from './violation.ts'

export interface SimRunRequest {
  readonly seeds: readonly number[]
  readonly nodes: number
  readonly loss: number
  readonly partition: PartitionMode
  readonly crashes: boolean
  readonly wire: boolean
  /** Byzantine replicas and their mode, for scenarios that have them (undefined: the scenario's default). */
  readonly byzantine?: number
  readonly byzantineMode?: string
  /** A reconfiguration plan, for scenarios that have them (undefined: none). */
  readonly reconfigure?: string
  /** When set, every run writes its trace lines here (prefixed with the seed when there are several). */
  readonly traceSink: TraceSink | null
  /** Called after each run, for progress displays. */
  readonly onRun?: (result: RunResult, done: number) => void
  /** Called during a run with its seed and virtual progress. */
  readonly onProgress?: (seed: number, doneMs: number, totalMs: number) => void
}

export interface SimReport {
  readonly scenario: string
  readonly nodes: number
  readonly partition: PartitionMode
  readonly loss: number
  readonly seeds: readonly number[]
  /** 'ok', or the most serious kind of violation over every run (see sim/violation.ts); it decides the exit code. */
  readonly verdict: 'ok' | ViolationKind
  readonly violations: readonly Violation[]
  readonly metrics: Record<string, unknown>
  readonly runs: readonly { readonly seed: number; readonly verdict: 'ok' | ViolationKind; readonly violations: number; readonly fingerprint: string; readonly traceHash?: string }[]
}

export function runScenario(scenario: Scenario, request: SimRunRequest): SimReport {
  const violations: Violation[] = []
  const runs: SimReport['runs'][number][] = []
  let metrics: RunMetrics = {}
  const samples: Record<string, number[]> = {}
  for (const seed of request.seeds) {
    const sink = request.traceSink
    const trace = sink === null ? null : new Trace(request.seeds.length === 1 ? sink : (line) => sink(`seed=${seed} ${line}`))
    const onProgress = request.onProgress === undefined ? undefined : (doneMs: number, totalMs: number) => request.onProgress!(seed, doneMs, totalMs)
    const { byzantine, byzantineMode, reconfigure } = request
    const result = runCatchingCrash(scenario, seed, () =>
      scenario.run({
        seed,
        nodes: request.nodes,
        loss: request.loss,
        partition: request.partition,
        crashes: request.crashes,
        wire: request.wire,
        trace,
        onProgress,
        byzantine,
        byzantineMode,
        ...(reconfigure === undefined ? {} : { reconfigure }),
      }),
    )
    violations.push(...result.violations)
    metrics = mergeMetrics(metrics, result.metrics, scenario.maxMetrics ?? [])
    for (const [name, values] of Object.entries(result.samples ?? {})) (samples[name] ??= []).push(...values)
    const count = result.violations.length + result.violationsDropped
    runs.push({ seed, verdict: worstViolationKind(result.violations) ?? (count > 0 ? 'safety' : 'ok'), violations: count, fingerprint: result.fingerprint, ...(trace === null ? {} : { traceHash: trace.hash }) })
    request.onRun?.(result, runs.length)
  }
  const summaries = Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, summarize(values)]))
  const reported = scenario.report !== undefined ? scenario.report(metrics, summaries) : { ...metrics, ...summaries }
  const verdict = worstViolationKind(runs.flatMap((run) => (run.verdict === 'ok' ? [] : [{ kind: run.verdict }]))) ?? 'ok'
  return { scenario: scenario.name, nodes: request.nodes, partition: request.partition, loss: request.loss, seeds: request.seeds, verdict, violations, metrics: reported, runs }
}

/**
 * Runs one seed; an exception (an engine assertion, most often) ends that run with one violation of kind
 * 'crash' instead of ending the sweep, so the report still names the seed that replays it.
 */
function runCatchingCrash(scenario: Scenario, seed: number, run: () => RunResult): RunResult {
  try {
    return run()
  } catch (error) {
    const thrown = error instanceof Error ? error : new Error(String(error))
    const where =
      thrown.stack
        ?.split('\n')
        .find((line) => line.trimStart().startsWith('at '))
        ?.trim() ?? 'no stack'
    const violation: Violation = { seed, invariant: 'noCrash', kind: 'crash', atMs: -1, message: `${scenario.name} threw ${thrown.name}: ${thrown.message} (${where})` }
    return { seed, violations: [violation], violationsDropped: 0, metrics: {}, fingerprint: 'crashed' }
  }
}

/** Sums metrics over runs, except those named in `maxKeys`, which keep the largest value. */
export function mergeMetrics(into: RunMetrics, from: RunMetrics, maxKeys: readonly string[]): RunMetrics {
  const merged: RunMetrics = { ...into }
  for (const [key, value] of Object.entries(from)) {
    const held = merged[key]
    merged[key] = held === undefined ? value : maxKeys.includes(key) ? Math.max(held, value) : held + value
  }
  return merged
}
