/**
 * smoke: the replicated max-register under every fault the simulator has.
 *
 * Timeline (virtual time): clients write during the fault window; during the fault
 * window partitions, clogs and crash/restarts come and go; then the window
 * closes (heal, restart everyone) and the cluster settles with loss still on.
 * Safety is checked on every step, convergence at the end.
 */
import { Rng } from '../../core/lib/prng.ts'
import { maxRegCodec } from '../../core/maxreg/codec.ts'
import { MaxRegEngine, type MaxRegAck, type MaxRegEvent, type MaxRegWrite } from '../../core/maxreg/engine.ts'
import type { MaxRegMessage } from '../../core/maxreg/messages.ts'
import { MaxRegChecker } from '../checkers/maxRegChecker.ts'
import { poissonNextUs } from '../poisson.ts'
import { runResult, timelineSteps, scenarioSimulator, type ScenarioTiming } from '../timeline.ts'
import { runSteps, type RunSteps } from '../steps.ts'
import type { RunResult, Scenario, ScenarioOptions } from '../scenario.ts'
import { requestIdBinding } from '../requestBindings.ts'
import type { SimEngineSpec, Simulator } from '../simulator.ts'
import { ViolationLog } from '../violation.ts'

export const smokeTiming: ScenarioTiming & { readonly writeIntervalUsMean: number } = {
  tickUs: 10_000,
  faultWindowUs: 10_000_000,
  settleUs: 5_000_000,
  /** Mean virtual time between two client writes (to a random node). */
  writeIntervalUsMean: 10_000,
  /** How often convergence is sampled while settling, to report how long it took. */
  convergenceProbeUs: 10_000,
} as const

export const smokeScenario: Scenario = {
  name: 'smoke',
  summary: 'replicated max-register under loss, duplication, reordering, partitions, clogs and crashes',
  defaultNodes: 5,
  maxMetrics: ['maxreg.maxAcked', 'maxreg.convergenceAfterHealMs'],
  run: (options) => runSmoke(options),
  steps: (options) => smokeSteps(options),
  stepsEndUs: smokeTiming.faultWindowUs + smokeTiming.settleUs,
}

type MaxRegSim = Simulator<MaxRegWrite, MaxRegMessage, MaxRegAck, MaxRegEvent>

const maxRegRequests = requestIdBinding<MaxRegWrite, MaxRegAck>()

export const maxRegSpec: SimEngineSpec<MaxRegWrite, MaxRegMessage, MaxRegAck, MaxRegEvent> = {
  codec: maxRegCodec,
  create: (context) => new MaxRegEngine(context),
  requests: () => maxRegRequests,
}

/** `engine` exists so that tests can run the checkers against deliberately broken engines and hosts. */
export function runSmoke(options: ScenarioOptions, engine = maxRegSpec): RunResult {
  return runSteps(smokeSteps(options, engine))
}

/** The run as steps (sim/steps.ts): `dwcp tui --sim smoke` drives it frame by frame. */
export function* smokeSteps(options: ScenarioOptions, engine = maxRegSpec): RunSteps {
  const rng = Rng.fromSeed(options.seed).split('scenario/smoke')
  const sim: MaxRegSim = scenarioSimulator(options, engine, smokeTiming.tickUs)
  const violations = new ViolationLog()
  const checker = new MaxRegChecker(sim, violations)
  sim.observers.push(checker)
  // The checker learns each write, with the request id its node's kernel gave it, before the engine sees it.
  sim.observers.push({ onCall: (_node, write) => checker.noteProposal(write) })

  // Clients stop with the fault window, so the settle phase shows convergence, not a moving target.
  const client = scheduleClient(sim, rng.split('client'), smokeTiming.faultWindowUs)
  const convergedAtUs = yield* timelineSteps(sim, options, rng, smokeTiming, () => checker.converged())
  checker.checkConverged()

  const storage = { writes: 0, syncs: 0, writtenBack: 0, unsyncedKept: 0, unsyncedLost: 0, unsyncedTorn: 0 }
  for (const node of sim.nodes) {
    for (const key of Object.keys(storage) as (keyof typeof storage)[]) storage[key] += node.storage.metrics[key]
  }
  const finalValues = sim.nodes.map((node) => (node.engine === null ? -1 : (node.engine as MaxRegEngine).status().value))
  const metrics = {
    virtualMs: Math.floor(sim.nowUs / 1000),
    ...prefixed('sim', sim.metrics),
    ...prefixed('network', sim.network.metrics),
    ...prefixed('storage', storage),
    'client.writes': client.writes,
    'client.acks': client.acks,
    'client.refused': client.refused,
    'client.unknown': client.unknown,
    'maxreg.maxAcked': checker.maxAcked,
    'maxreg.convergenceAfterHealMs': convergedAtUs < 0 ? -1 : Math.floor((convergedAtUs - smokeTiming.faultWindowUs) / 1000),
  }
  return runResult(options.seed, violations, metrics, finalValues)
}

/** Client writes at Poisson times to random nodes, with values that mostly grow so writes race. */
function scheduleClient(sim: MaxRegSim, rng: Rng, endUs: number): { writes: number; acks: number; refused: number; unknown: number } {
  const counts = { writes: 0, acks: 0, refused: 0, unknown: 0 }
  const next = (): void => {
    // The kernel puts its request id in: the one here is a placeholder.
    const write: MaxRegWrite = { requestId: 0, value: Math.floor(sim.nowUs / 1000) * 1000 + rng.int(100_000) }
    const node = rng.int(sim.nodes.length)
    counts.writes++
    sim.call(node, write, `write ${write.value}`, (outcome) => {
      if (outcome.kind === 'reply') counts.acks++
      else if (outcome.kind === 'refused') counts.refused++
      else counts.unknown++
    })
    const atUs = poissonNextUs(rng, sim.nowUs, smokeTiming.writeIntervalUsMean)
    if (atUs < endUs) sim.at(atUs, next)
  }
  sim.at(1, next)
  return counts
}

function prefixed(prefix: string, values: object): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [key, value] of Object.entries(values)) out[`${prefix}.${key}`] = value as number
  return out
}
