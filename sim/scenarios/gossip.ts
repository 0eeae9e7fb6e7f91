/**
 * gossip: how fast one update spreads, and what it costs. N nodes that know
 * each other; under the run's message loss one node publishes an update, and
 * the run counts gossip rounds (gossip intervals) until every node holds it.
 * Then a steady period with no news and no loss measures the background load
 * of SWIM itself (messages per member per probe period, which should not grow
 * with N; news, such as a refuted suspicion, costs every member a share).
 * Last, updates keep coming during partitions, clogs and crash/restart; after
 * healing every live node must hold every update's latest version and, within
 * the same bound, agree on the membership (sim/checkers/membershipChecker.ts).
 */
import { gossipCodec } from '../../core/gossip/codec.ts'
import { MemberDirectory } from '../../core/gossip/memberTable.ts'
import { defaultGossipConfig, toTicks } from '../../core/gossip/config.ts'
import { GossipEngine, type GossipApplied, type GossipCommand, type GossipEngineOptions, type GossipEvent } from '../../core/gossip/engine.ts'
import type { GossipMessage } from '../../core/gossip/messages.ts'
import { Rng } from '../../core/lib/prng.ts'
import { defaultFaultPlan, scheduleFaults } from '../faults.ts'
import type { RunMetrics, RunResult, SampleSummary, Scenario, ScenarioOptions } from '../scenario.ts'
import { gossipRequests } from '../requestBindings.ts'
import type { EngineContext, Simulator } from '../simulator.ts'
import { runResult, scenarioSimulator } from '../timeline.ts'
import { runSteps, runTo, type RunSteps } from '../steps.ts'
import { MembershipChecker } from '../checkers/membershipChecker.ts'
import { ViolationLog } from '../violation.ts'

export const gossipTiming = {
  /** 100 ms ticks: half of a gossip round, a fifth of a probe timeout; finer costs time at 10,000 nodes and changes no count. */
  tickUs: 100_000,
  spreadRoundsMax: 200,
  steadyUs: 20_000_000,
  faultWindowUs: 30_000_000,
  /**
   * Mean time between two updates published during the fault window (about a dozen, over 8 keys,
   * so that versions overwrite). Each costs N · λ·log10(N + 1) transmissions: at 10,000 nodes one
   * update is some 200,000 messages to simulate.
   */
  publishIntervalUs: 2_500_000,
  settleUs: 90_000_000,
  agreementProbeUs: 1_000_000,
} as const

type GossipSim = Simulator<GossipCommand, GossipMessage, GossipApplied, GossipEvent>

export const gossipScenario: Scenario = {
  name: 'gossip',
  summary: 'one update spreading to every node (rounds, messages), steady SWIM load, and every update reaching every live node after faults',
  defaultNodes: 100,
  // Spread and load are what this scenario measures, at up to ten thousand nodes. Partitions that flap
  // halves of such a cluster every second make O(N²) membership news (every node suspects, every
  // suspect refutes, everyone hears it all); swim exercises those, and --partition asks for them here.
  defaultPartition: 'none',
  maxMetrics: ['faults.deliverySecondsMax', 'faults.agreementSecondsMax'],
  report: (metrics: RunMetrics, samples: Readonly<Record<string, SampleSummary>>) => {
    const rounds = samples['roundsToFullSpread']
    const perRound = samples['messagesPerNodePerRound']
    const perPeriod = samples['messagesPerMemberPerPeriod']
    return {
      ...metrics,
      roundsToFullSpread: rounds === undefined ? null : { mean: rounds.mean, p99: rounds.p99, count: rounds.count },
      messagesPerNodePerRound: perRound?.mean ?? null,
      messagesPerMemberPerPeriod: perPeriod?.mean ?? null,
    }
  },
  run: (options) => runGossip(options),
  steps: (options) => gossipSteps(options),
}

/** How the scenario makes its engines; tests pass broken ones to prove the checkers bite. */
export type GossipFactory = (options: GossipEngineOptions) => GossipEngine

export function runGossip(options: ScenarioOptions, factory: GossipFactory = (engineOptions) => new GossipEngine(engineOptions)): RunResult {
  return runSteps(gossipSteps(options, factory))
}

/** The run as steps (sim/steps.ts): `dwcp tui --sim gossip` drives it frame by frame. */
export function* gossipSteps(options: ScenarioOptions, factory: GossipFactory = (engineOptions) => new GossipEngine(engineOptions)): RunSteps {
  const violations = new ViolationLog()
  const rng = Rng.fromSeed(options.seed).split('scenario/gossip')
  const ids = Array.from({ length: options.nodes }, (_, index) => `n${index + 1}`)
  const tickMs = gossipTiming.tickUs / 1000
  // One id table for every node of this simulation: each engine keeps only its own state bytes.
  const directory = new MemberDirectory()
  const engine = {
    codec: gossipCodec,
    create: (context: EngineContext) => factory({ id: context.id, seeds: ['n1'], knownMembers: ids, storage: context.storage, rng: context.rng, tickMs, directory }),
    requests: gossipRequests,
  }
  const sim: GossipSim = scenarioSimulator(options, engine, gossipTiming.tickUs, { regions: ['eu'] })
  const fail = (invariant: string, message: string) => violations.add({ seed: options.seed, invariant, kind: 'liveness', atMs: Math.floor(sim.nowUs / 1000), message })
  const engines = () => sim.nodes.map((node) => node.engine as GossipEngine | null)
  const holders = (key: string, version: number) => engines().filter((engine) => engine !== null && (engine.update(key)?.version ?? 0) >= version).length
  const roundUs = toTicks(defaultGossipConfig.gossipIntervalMs, tickMs) * gossipTiming.tickUs
  const metrics: RunMetrics = {}
  const samples: Record<string, number[]> = { roundsToFullSpread: [], messagesPerNodePerRound: [], messagesPerMemberPerPeriod: [] }
  sim.startAll()
  yield* runTo(sim, 5 * roundUs) // let the first probes and gossip rounds start

  // 1. One update spreads.
  const publisher = rng.int(options.nodes)
  const sentBefore = sim.network.metrics.sent
  sim.call(publisher, { type: 'publish', key: 'spread', version: 1, value: new Uint8Array([1, 2, 3]) }, 'publish spread@1', () => {})
  let rounds = 0
  while (holders('spread', 1) < options.nodes && rounds < gossipTiming.spreadRoundsMax) {
    yield* runTo(sim, sim.nowUs + roundUs)
    rounds++
  }
  if (holders('spread', 1) < options.nodes) fail('spread', `after ${rounds} rounds only ${holders('spread', 1)} of ${options.nodes} nodes hold the update`)
  else samples['roundsToFullSpread']!.push(rounds)
  samples['messagesPerNodePerRound']!.push(Math.round(((sim.network.metrics.sent - sentBefore) / options.nodes / Math.max(1, rounds)) * 1000) / 1000)

  // 2. Steady state: SWIM's own load per member per probe period, on a loss-free network, so
  //    that a chance suspicion (and the news that spreads it to every member) does not count.
  const faults = sim.network.faults
  sim.network.faults = { ...faults, lossProbability: 0 }
  yield* runTo(sim, sim.nowUs + 4 * defaultGossipConfig.probeIntervalMs * 1000) // let news in flight drain
  const steadyBefore = sim.network.metrics.sent
  yield* runTo(sim, sim.nowUs + gossipTiming.steadyUs)
  sim.network.faults = faults
  const periods = gossipTiming.steadyUs / (defaultGossipConfig.probeIntervalMs * 1000)
  samples['messagesPerMemberPerPeriod']!.push(Math.round(((sim.network.metrics.sent - steadyBefore) / options.nodes / periods) * 1000) / 1000)

  // 3. Updates during faults; after healing every live node holds every latest version.
  const startUs = sim.nowUs + 1
  const endUs = startUs + gossipTiming.faultWindowUs
  scheduleFaults(sim, rng.split('faults'), { ...defaultFaultPlan, partition: options.partition, crashes: options.crashes }, { startUs, endUs })
  const latest = new Map<string, number>()
  let published = 0
  for (let atUs = startUs; atUs < endUs; atUs += 1 + rng.int(2 * gossipTiming.publishIntervalUs)) {
    const key = `k${rng.int(8)}`
    const node = rng.int(options.nodes)
    sim.at(atUs, () => {
      const version = (latest.get(key) ?? 0) + 1
      sim.call(node, { type: 'publish', key, version, value: new Uint8Array([version & 0xff]) }, `publish ${key}@${version}`, (outcome) => {
        if (outcome.kind !== 'reply') return
        latest.set(key, version)
        published++
      })
    })
  }
  yield* runTo(sim, endUs)
  const healedUs = sim.nowUs
  const everywhere = () => [...latest].every(([key, version]) => holders(key, version) === options.nodes)
  while (sim.nowUs < healedUs + gossipTiming.settleUs && !everywhere()) yield* runTo(sim, sim.nowUs + gossipTiming.agreementProbeUs)
  if (!everywhere()) {
    const lagging = [...latest].filter(([key, version]) => holders(key, version) < options.nodes).map(([key, version]) => `${key}@${version}: ${holders(key, version)}/${options.nodes}`)
    fail('delivery', `updates missing ${gossipTiming.settleUs / 1e6} s after healing: ${lagging.join(', ')}`)
  } else metrics['faults.deliverySecondsMax'] = Math.round((sim.nowUs - healedUs) / 1000) / 1000
  // Membership too: every live node sees every live node alive (and the down ones not), by the same bound.
  const membership = new MembershipChecker(sim, violations, options.seed)
  const agreementSeconds = yield* membership.awaitAgreement('agreement', Math.max(0, healedUs + gossipTiming.settleUs - sim.nowUs), gossipTiming.agreementProbeUs, `no membership agreement ${gossipTiming.settleUs / 1e6} s after healing`)
  if (agreementSeconds !== null) metrics['faults.agreementSecondsMax'] = Math.round((sim.nowUs - healedUs) / 1000) / 1000
  metrics['faults.published'] = published
  metrics['faults.crashes'] = sim.metrics.crashes
  metrics['messages'] = sim.network.metrics.sent
  return { ...runResult(options.seed, violations, metrics, samples), samples }
}
