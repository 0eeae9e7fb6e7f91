/**
 * swim: failure detection and membership agreement. Each seed runs three
 * experiments on N nodes that join through one seed member:
 *
 * 1. detection — under the run's message loss, k nodes crash at once; how long
 *    until some member declares each dead (`detectionSeconds`), and whether
 *    every live member ends up agreeing;
 * 2. starvation — one node's processing falls seconds behind (everything that
 *    reaches it waits); healthy members it declares dead are false positives,
 *    counted with Lifeguard and again with plain SWIM (`falsePositives`); with
 *    Lifeguard (and no loss) there must be none;
 * 3. faults — partitions, clogs and crash/restart as the run asks, then healing;
 *    every live member must agree on the membership again.
 */
import { gossipCodec } from '../../core/gossip/codec.ts'
import { MemberDirectory } from '../../core/gossip/memberTable.ts'
import { defaultGossipConfig, type GossipConfig } from '../../core/gossip/config.ts'
import { GossipEngine, type GossipApplied, type GossipCommand, type GossipEngineOptions, type GossipEvent } from '../../core/gossip/engine.ts'
import type { GossipMessage } from '../../core/gossip/messages.ts'
import { Rng } from '../../core/lib/prng.ts'
import type { Ready } from '../../core/ready.ts'
import { defaultFaultPlan, scheduleFaults } from '../faults.ts'
import type { RunMetrics, RunResult, SampleSummary, Scenario, ScenarioOptions } from '../scenario.ts'
import { gossipRequests } from '../requestBindings.ts'
import type { EngineContext, SimNode, Simulator } from '../simulator.ts'
import { runResult, scenarioSimulator } from '../timeline.ts'
import { runSteps, runTo, type RunSteps } from '../steps.ts'
import { MembershipChecker } from '../checkers/membershipChecker.ts'
import { ViolationLog } from '../violation.ts'

export const swimTiming = {
  /** 50 ms ticks: a probe interval is 20 ticks, fine enough for SWIM's timeouts. */
  tickUs: 50_000,
  warmupUsMax: 60_000_000,
  agreementProbeUs: 1_000_000,
  detectionWindowUs: 120_000_000,
  starvationUs: 60_000_000,
  /** How far behind the starved node's processing runs. */
  starvationBacklogUs: 8_000_000,
  faultWindowUs: 30_000_000,
  settleUs: 90_000_000,
} as const

type SwimSim = Simulator<GossipCommand, GossipMessage, GossipApplied, GossipEvent>
type SwimNode = SimNode<GossipCommand, GossipMessage, GossipApplied, GossipEvent>

export const swimScenario: Scenario = {
  name: 'swim',
  summary: 'SWIM with Lifeguard: crash detection time, false positives of a starved node with and without Lifeguard, agreement after faults',
  defaultNodes: 32,
  maxMetrics: ['faults.agreementSecondsMax'],
  report: (metrics: RunMetrics, samples: Readonly<Record<string, SampleSummary>>) => {
    const { 'falsePositives.lifeguard': lifeguard, 'falsePositives.plain': plain, ...rest } = metrics
    const detection = samples['detectionSeconds']
    return { ...rest, detectionSeconds: detection === undefined ? null : { median: detection.median, p99: detection.p99, mean: detection.mean, count: detection.count }, falsePositives: { lifeguard: lifeguard ?? 0, plain: plain ?? 0 } }
  },
  run: (options) => runSwim(options),
  steps: (options) => swimSteps(options),
}

/** How a scenario makes its engines; tests pass broken ones to prove the checkers bite. */
export type GossipFactory = (options: GossipEngineOptions) => GossipEngine

const realGossip: GossipFactory = (options) => new GossipEngine(options)

function createSim(options: ScenarioOptions, label: string, config: GossipConfig, loss: number, factory: GossipFactory): SwimSim {
  // One id table for every node of this simulation: each engine keeps only its own state bytes.
  const directory = new MemberDirectory()
  const engine = {
    codec: gossipCodec,
    create: (context: EngineContext) => factory({ id: context.id, seeds: ['n1'], storage: context.storage, rng: context.rng, tickMs: swimTiming.tickUs / 1000, config, directory }),
    requests: gossipRequests,
  }
  return scenarioSimulator(options, engine, swimTiming.tickUs, { regions: ['eu'], seed: Rng.fromSeed(options.seed).split(label).nextU32(), loss })
}

/** Records who declared whom dead, and when. */
class DeathLog {
  readonly declarations: { atUs: number; by: string; member: string }[] = []
  private readonly sim: SwimSim

  constructor(sim: SwimSim) {
    this.sim = sim
    sim.observers.push({ onReady: (node, ready) => this.onReady(node, ready) })
  }

  private onReady(node: SwimNode, ready: Ready<GossipMessage, GossipApplied, GossipEvent>): void {
    for (const event of ready.events) {
      if (event.kind === 'member' && event.state === 'dead' && event.by === node.id) this.declarations.push({ atUs: this.sim.nowUs, by: node.id, member: event.member })
    }
  }
}

/**
 * SWIM's promise of a constant load: each member sends a few messages per protocol period, whatever the
 * cluster's size. A node that sends more than `sendsPerNodePerSecondMax` in one simulated second is in a
 * message storm (two nodes answering each other's news forever, say): a violation, and the run stops there,
 * since simulating the storm would take hours of wall time.
 */
const sendsPerNodePerSecondMax = 5_000

class LoadGuard {
  private windowStartUs = 0
  private readonly sends = new Map<number, number>()

  constructor(sim: SwimSim, fail: (invariant: string, kind: 'safety' | 'liveness', sim: SwimSim, message: string) => void) {
    sim.observers.push({
      onReady: (node, ready) => {
        if (ready.messages.length === 0 || sim.haltedBecause !== null) return
        if (sim.nowUs - this.windowStartUs >= 1_000_000) {
          this.windowStartUs = sim.nowUs
          this.sends.clear()
        }
        const count = (this.sends.get(node.index) ?? 0) + ready.messages.length
        this.sends.set(node.index, count)
        if (count > sendsPerNodePerSecondMax) {
          fail('messageLoad', 'liveness', sim, `${node.id} sent more than sendsPerNodePerSecondMax=${sendsPerNodePerSecondMax} messages within a second; run stopped`)
          sim.halt('message storm')
        }
      },
    })
  }
}

/** Runs until `condition` holds (checked every agreementProbeUs) or `limitUs` passes; returns whether it held. */
function* runUntilHolds(sim: SwimSim, limitUs: number, condition: () => boolean): RunSteps<boolean> {
  const endUs = sim.nowUs + limitUs
  while (sim.nowUs < endUs) {
    yield* runTo(sim, Math.min(endUs, sim.nowUs + swimTiming.agreementProbeUs))
    if (condition()) return true
  }
  return condition()
}

export function runSwim(options: ScenarioOptions, factory: GossipFactory = realGossip): RunResult {
  return runSteps(swimSteps(options, factory))
}

/** The run as steps (sim/steps.ts): `dwcp tui --sim swim` drives it frame by frame, one experiment's simulator after another. */
export function* swimSteps(options: ScenarioOptions, factory: GossipFactory = realGossip): RunSteps {
  const violations = new ViolationLog()
  const fail = (invariant: string, kind: 'safety' | 'liveness', sim: SwimSim, message: string) => violations.add({ seed: options.seed, invariant, kind, atMs: Math.floor(sim.nowUs / 1000), message })
  const rng = Rng.fromSeed(options.seed).split('scenario/swim')
  const metrics: RunMetrics = {}
  const detectionSeconds: number[] = []
  const add = (name: string, value: number) => (metrics[name] = (metrics[name] ?? 0) + value)

  // 1. Detection of crashed nodes under the run's loss.
  {
    const sim = createSim(options, 'detection', defaultGossipConfig, options.loss, factory)
    new LoadGuard(sim, fail)
    const membership = new MembershipChecker(sim, violations, options.seed)
    const deaths = new DeathLog(sim)
    sim.startAll()
    yield* membership.awaitAgreement('join', swimTiming.warmupUsMax, swimTiming.agreementProbeUs, 'members did not all learn of each other after joining')
    const crashCount = options.nodes < 3 ? 0 : Math.max(1, Math.round(options.nodes / 32))
    const victims = rng.shuffle(sim.nodes.map((node) => node.index)).slice(0, crashCount)
    const crashUs = sim.nowUs
    const before = deaths.declarations.length
    for (const victim of victims) sim.crash(victim)
    const victimIds = new Set(victims.map((index) => sim.nodes[index]!.id))
    yield* runUntilHolds(sim, swimTiming.detectionWindowUs, () => membership.agreed())
    for (const victim of victimIds) {
      const first = deaths.declarations.find((declaration, index) => index >= before && declaration.member === victim)
      if (first === undefined) fail('detection', 'liveness', sim, `${victim} crashed and was never declared dead`)
      else detectionSeconds.push(Math.round((first.atUs - crashUs) / 1000) / 1000)
    }
    const wrongful = deaths.declarations.filter((declaration) => !victimIds.has(declaration.member))
    add('detection.falsePositives', wrongful.length)
    // With little loss, a healthy member must never be declared dead.
    if (options.loss <= 0.01 && wrongful.length > 0) fail('falsePositive', 'safety', sim, `${wrongful[0]!.by} declared live ${wrongful[0]!.member} dead`)
    if (!membership.agreed()) fail('agreement', 'liveness', sim, `live members disagree on the membership after the crashes: ${membership.disagreements(6).join(', ')}`)
    add('detection.crashed', victims.length)
    add('detection.messages', sim.network.metrics.sent)
  }

  // 2. One starved node, with Lifeguard and with plain SWIM.
  for (const lifeguard of [true, false]) {
    const sim = createSim(options, 'starvation', { ...defaultGossipConfig, lifeguard }, 0, factory)
    new LoadGuard(sim, fail)
    const membership = new MembershipChecker(sim, violations, options.seed)
    const deaths = new DeathLog(sim)
    sim.startAll()
    yield* runUntilHolds(sim, swimTiming.warmupUsMax, () => membership.agreed())
    const starved = sim.nodes[rng.int(sim.nodes.length)]!
    const before = deaths.declarations.length
    sim.network.setInboundDelay(starved.index, swimTiming.starvationBacklogUs)
    yield* runTo(sim, sim.nowUs + swimTiming.starvationUs)
    const wrongful = deaths.declarations.slice(before).filter((declaration) => declaration.member !== starved.id)
    add(lifeguard ? 'falsePositives.lifeguard' : 'falsePositives.plain', wrongful.length)
    // Lifeguard's promise: the slow node doubts itself before it doubts others, so no healthy member dies
    // of its slowness. Plain SWIM's false positives are the comparison, not a violation.
    if (lifeguard && wrongful.length > 0) fail('lifeguardFalsePositive', 'safety', sim, `with Lifeguard, ${wrongful[0]!.by} declared healthy ${wrongful[0]!.member} dead while ${starved.id} was starved (${wrongful.length} in all)`)
  }

  // 3. Partitions, clogs and crash/restart, then healing: agreement must come back.
  {
    const sim = createSim(options, 'faults', defaultGossipConfig, options.loss, factory)
    new LoadGuard(sim, fail)
    const membership = new MembershipChecker(sim, violations, options.seed)
    sim.startAll()
    yield* runUntilHolds(sim, swimTiming.warmupUsMax, () => membership.agreed())
    const startUs = sim.nowUs + 1
    scheduleFaults(sim, rng.split('faults'), { ...defaultFaultPlan, partition: options.partition, crashes: options.crashes }, { startUs, endUs: startUs + swimTiming.faultWindowUs })
    yield* runTo(sim, startUs + swimTiming.faultWindowUs)
    const agreementSeconds = yield* membership.awaitAgreement('agreement', swimTiming.settleUs, swimTiming.agreementProbeUs, `no agreement ${swimTiming.settleUs / 1e6} s after healing`)
    if (agreementSeconds !== null) add('faults.agreementSecondsMax', agreementSeconds)
    add('faults.crashes', sim.metrics.crashes)
    add('faults.droppedPartition', sim.network.metrics.droppedPartition)
  }

  return { ...runResult(options.seed, violations, metrics, detectionSeconds), samples: { detectionSeconds } }
}
