/**
 * crdt: replicas of the CRDT store take random concurrent operations of every
 * type (counters, LWW and MV registers, OR-sets, OR-maps, Yjs documents) while
 * messages are lost, duplicated and reordered, partitions come and go and
 * nodes crash; then the faults heal and the replicas must converge to the
 * values the acknowledged operations define.
 */
import { crdtCodec } from '../../core/crdt/codec.ts'
import { CrdtEngine, type CrdtAck, type CrdtCommand, type CrdtEvent } from '../../core/crdt/engine.ts'
import type { CrdtMessage } from '../../core/crdt/messages.ts'
import type { CrdtOp } from '../../core/crdt/ops.ts'
import { crdtTypes, type CrdtType } from '../../core/crdt/value.ts'
import { Rng } from '../../core/lib/prng.ts'
import { CrdtChecker } from '../checkers/crdtChecker.ts'
import { poissonNextUs } from '../poisson.ts'
import { runResult, runTimeline, scenarioSimulator, type ScenarioTiming } from '../timeline.ts'
import type { RunResult, Scenario, ScenarioOptions } from '../scenario.ts'
import type { SimEngineSpec, Simulator } from '../simulator.ts'
import { ViolationLog } from '../violation.ts'
import { networkReport } from '../network.ts'

export const crdtTiming: ScenarioTiming & { readonly opIntervalUsMean: number } = {
  tickUs: 10_000,
  faultWindowUs: 6_000_000,
  settleUs: 6_000_000,
  /** Mean virtual time between two client operations (to a random replica). */
  opIntervalUsMean: 6_000,
  convergenceProbeUs: 10_000,
} as const

/** Keys per type, elements and fields: few, so that operations collide and concurrency is real. */
const keysPerType = 3
const elements = ['e0', 'e1', 'e2', 'e3', 'e4', 'e5']
const fields = ['f0', 'f1']
const subfields = ['g0', 'g1']

type CrdtSim = Simulator<CrdtCommand, CrdtMessage, CrdtAck, CrdtEvent>

export const crdtSpec: SimEngineSpec<CrdtCommand, CrdtMessage, CrdtAck, CrdtEvent> = {
  codec: crdtCodec,
  create: (context) => new CrdtEngine(context),
}

export const crdtScenario: Scenario = {
  name: 'crdt',
  summary: 'every CRDT type under concurrent operations, loss, partitions and crashes; replicas must converge to the operations’ semantics',
  defaultNodes: 8,
  maxMetrics: ['convergenceRounds'],
  run: (options) => runCrdt(options),
}

export function runCrdt(options: ScenarioOptions, engine = crdtSpec): RunResult {
  const rng = Rng.fromSeed(options.seed).split('scenario/crdt')
  const sim: CrdtSim = scenarioSimulator(options, engine, crdtTiming.tickUs)
  const violations = new ViolationLog()
  const checker = new CrdtChecker(sim, violations)
  sim.observers.push(checker)

  const client = scheduleOperations(sim, checker, rng.split('client'), crdtTiming.faultWindowUs)
  const convergedAtUs = runTimeline(sim, options, rng, crdtTiming, () => checker.converged())
  checker.checkFinal()

  const sums: Record<string, number> = {}
  for (const node of sim.nodes) {
    const metrics = (node.engine as CrdtEngine | null)?.metrics
    if (metrics !== undefined) for (const [key, value] of Object.entries(metrics)) sums[key] = (sums[key] ?? 0) + value
  }
  const digests = sim.nodes.map((node) => (node.engine === null ? 'down' : (node.engine as CrdtEngine).storeDigest()))
  const metrics = {
    virtualMs: Math.floor(sim.nowUs / 1000),
    converged: convergedAtUs >= 0 ? 1 : 0,
    convergenceRounds: convergedAtUs < 0 ? -1 : Math.ceil((convergedAtUs - crdtTiming.faultWindowUs) / crdtTiming.tickUs),
    deltaBytes: sums['deltaBytes'] ?? 0,
    fullStateBytes: sums['fullStateBytes'] ?? 0,
    deltaRawBytes: sums['deltaRawBytes'] ?? 0,
    digestBytes: sums['digestBytes'] ?? 0,
    stateBytes: sums['stateBytes'] ?? 0,
    deltaMessages: sums['deltaMessages'] ?? 0,
    digestMessages: sums['digestMessages'] ?? 0,
    stateMessages: sums['stateMessages'] ?? 0,
    entriesJoined: sums['entriesJoined'] ?? 0,
    entriesRefused: sums['entriesRefused'] ?? 0,
    'client.ops': client.ops,
    'client.acks': checker.acked.length,
    'client.refused': client.refused,
    'sim.crashes': sim.metrics.crashes,
    'sim.framesRefused': sim.metrics.framesRefused,
    ...networkReport(sim.network.metrics),
  }
  return runResult(options.seed, violations, metrics, digests)
}

/** Random operations at Poisson times on random replicas and keys. */
function scheduleOperations(sim: CrdtSim, checker: CrdtChecker, rng: Rng, endUs: number): { ops: number; refused: number } {
  const counts = { ops: 0, refused: 0 }
  let requestId = 0
  const next = (): void => {
    const node = rng.int(sim.nodes.length)
    const type = rng.pick(crdtTypes)
    const op = randomOp(rng, type, `${type}/k${rng.int(keysPerType)}`, sim, node, ++requestId)
    const command: CrdtCommand = { requestId, op }
    checker.noteRequest(command)
    counts.ops++
    if (sim.propose(node, command, `${op.type} ${op.key} #${requestId}`) !== null) counts.refused++
    const atUs = poissonNextUs(rng, sim.nowUs, crdtTiming.opIntervalUsMean)
    if (atUs < endUs) sim.at(atUs, next)
  }
  sim.at(1, next)
  return counts
}

function randomOp(rng: Rng, type: CrdtType, key: string, sim: CrdtSim, node: number, id: number): CrdtOp {
  switch (type) {
    case 'counter':
      return { type, key, amount: (rng.chance(0.7) ? 1 : -1) * rng.intBetween(1, 10) }
    case 'register':
    case 'mvregister':
      return { type, key, value: `v${id}` }
    case 'set':
      return { type, key, action: rng.chance(0.6) ? 'add' : 'remove', element: rng.pick(elements) }
    case 'map': {
      const path = rng.chance(0.8) ? [rng.pick(fields), rng.pick(subfields)] : [rng.pick(fields)]
      return rng.chance(0.7) && path.length === 2 ? { type, key, action: 'put', path, value: `v${id}` } : { type, key, action: 'remove', path }
    }
    case 'doc': {
      const engine = sim.nodes[node]!.engine as CrdtEngine | null
      const text = engine?.read(key)
      const length = typeof text === 'string' ? text.length : 0
      if (length > 0 && rng.chance(0.3)) {
        const index = rng.int(length)
        return { type, key, action: 'delete', index, count: Math.min(length - index, rng.intBetween(1, 3)) }
      }
      return { type, key, action: 'insert', index: rng.int(length + 1), text: `${String.fromCharCode(97 + rng.int(26))}${id % 10}` }
    }
  }
}
