/**
 * The timeline every fault scenario shares: a simulator with the scenario's
 * loss rate, a fault window in which partitions, clogs and crashes come and
 * go, then healing and a settle phase in which convergence is watched for.
 */
import type { Rng } from '../core/lib/prng.ts'
import { defaultFaultPlan, scheduleFaults } from './faults.ts'
import { defaultNetworkConfig } from './network.ts'
import { fnv1a32String, hex32 } from '../core/lib/hash.ts'
import type { RunMetrics, RunResult, ScenarioOptions } from './scenario.ts'
import type { ViolationLog } from './violation.ts'
import { Simulator, type SimEngineSpec } from './simulator.ts'
import { runTo, type RunSteps } from './steps.ts'

export interface ScenarioTiming {
  readonly tickUs: number
  readonly faultWindowUs: number
  readonly settleUs: number
  /** How often convergence is sampled while settling, to report how long it took. */
  readonly convergenceProbeUs: number
}

/** Virtual time from which progress is reported and the run advanced, one step at a time. */
const progressStepUs = 1_000_000

/** What a scenario may set apart from its options: one region (a LAN), a seed per experiment, another loss rate, a coarse clock. */
export interface SimulatorOverrides {
  readonly regions?: readonly string[]
  readonly seed?: number
  readonly loss?: number
  /** The engines' wall clock granularity (Infinity: frozen); default 1 ms. */
  readonly wallClockStepMs?: number
}

/** A simulator for a scenario run: the run's seed, nodes, loss, wire mode and trace, three regions by default. */
export function scenarioSimulator<C, M, A, E>(options: ScenarioOptions, engine: SimEngineSpec<C, M, A, E>, tickUs: number, overrides: SimulatorOverrides = {}): Simulator<C, M, A, E> {
  return new Simulator({
    seed: overrides.seed ?? options.seed,
    nodes: options.nodes,
    regions: overrides.regions ?? ['eu', 'us', 'ap'],
    engine,
    network: { ...defaultNetworkConfig, faults: { ...defaultNetworkConfig.faults, lossProbability: overrides.loss ?? options.loss } },
    tickUs,
    wire: options.wire,
    trace: options.trace,
    sleepWhenIdle: options.sleepWhenIdle,
    ...(overrides.wallClockStepMs === undefined ? {} : { wallClockStepMs: overrides.wallClockStepMs }),
  })
}

/**
 * Schedules the faults, starts every node and runs to the end of the settle
 * phase (as steps: sim/steps.ts). Returns the virtual time at which `converged` first held after the
 * fault window closed, or -1 when it never did.
 */
export function* timelineSteps<C, M, A, E>(sim: Simulator<C, M, A, E>, options: ScenarioOptions, rng: Rng, timing: ScenarioTiming, converged: () => boolean): RunSteps<number> {
  const faultWindow = { startUs: 0, endUs: timing.faultWindowUs }
  const endUs = faultWindow.endUs + timing.settleUs
  scheduleFaults(sim, rng.split('faults'), { ...defaultFaultPlan, partition: options.partition, crashes: options.crashes }, faultWindow)
  let convergedAtUs = -1
  const probe = (): void => {
    if (converged()) convergedAtUs = sim.nowUs
    else if (sim.nowUs + timing.convergenceProbeUs <= endUs) sim.at(sim.nowUs + timing.convergenceProbeUs, probe)
  }
  sim.at(faultWindow.endUs, probe)
  sim.startAll()
  for (let untilUs = 0; untilUs < endUs;) {
    untilUs = Math.min(endUs, untilUs + progressStepUs)
    yield* runTo(sim, untilUs)
    options.onProgress?.(untilUs / 1000, endUs / 1000)
  }
  return convergedAtUs
}

/** A run's result; the fingerprint covers the metrics and `finalState` (what the replicas hold at the end). */
export function runResult(seed: number, violations: ViolationLog, metrics: RunMetrics, finalState: unknown): RunResult {
  return {
    seed,
    violations: violations.kept,
    violationsDropped: violations.dropped,
    metrics,
    fingerprint: hex32(fnv1a32String(JSON.stringify({ metrics, finalState }))),
  }
}
