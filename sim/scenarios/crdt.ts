/**
 * crdt: replicas of the CRDT store take random concurrent operations of every
 * type (counters, LWW and MV registers, OR-sets, OR-maps, Yjs documents) while
 * messages are lost, duplicated and reordered, partitions come and go and
 * nodes crash; then the faults heal and the replicas must converge to the
 * values the acknowledged operations define (crdtOracle.ts). Seeds 1, 5, 9, …
 * run on a wall clock with 1 s steps and seeds 3, 7, 11, … on a frozen one,
 * so that equal hybrid timestamps are common; document edits insert and
 * delete whole unique tokens, so the final text can be checked edit by edit.
 */
import { crdtCodec } from '../../core/crdt/codec.ts'
import { CrdtEngine, type CrdtAck, type CrdtCommand, type CrdtEvent } from '../../core/crdt/engine.ts'
import type { CrdtMessage } from '../../core/crdt/messages.ts'
import type { CrdtOp } from '../../core/crdt/ops.ts'
import { crdtTypes, type CrdtType } from '../../core/crdt/value.ts'
import { Rng } from '../../core/lib/prng.ts'
import { CrdtChecker } from '../checkers/crdtChecker.ts'
import { docToken, docTokenPattern } from '../checkers/crdtOracle.ts'
import { poissonNextUs } from '../poisson.ts'
import { runResult, timelineSteps, scenarioSimulator, type ScenarioTiming } from '../timeline.ts'
import { runSteps, type RunSteps } from '../steps.ts'
import type { RunResult, Scenario, ScenarioOptions } from '../scenario.ts'
import { requestIdBinding } from '../requestBindings.ts'
import type { SimEngineSpec, Simulator } from '../simulator.ts'
import { ViolationLog } from '../violation.ts'
import { networkReport } from '../network.ts'

export const crdtTiming: ScenarioTiming & { readonly opIntervalUsMean: number; readonly conflictRoundDelayUs: number } = {
  tickUs: 10_000,
  faultWindowUs: 6_000_000,
  settleUs: 6_000_000,
  /** Mean virtual time between two client operations (to a random replica). */
  opIntervalUsMean: 6_000,
  /** From healing to the round of conflicting writes: a whole second, so the round starts a fresh wall-clock second. */
  conflictRoundDelayUs: 1_000_000,
  convergenceProbeUs: 10_000,
} as const

/** Keys per type, elements and fields: few, so that operations collide and concurrency is real. */
const keysPerType = 3
const elements = ['e0', 'e1', 'e2', 'e3', 'e4', 'e5']
const fields = ['f0', 'f1']
const subfields = ['g0', 'g1']

type CrdtSim = Simulator<CrdtCommand, CrdtMessage, CrdtAck, CrdtEvent>

/**
 * The engines' wall clock granularity for a seed: every other seed runs on a
 * clock that moves in whole seconds or not at all, so that many writes carry
 * equal hybrid timestamps and LWW order rests on the replica-id tie-break.
 */
export function crdtWallClockStepMs(seed: number): number {
  const variants = [1, 1000, 1, Infinity] as const
  return variants[((seed % variants.length) + variants.length) % variants.length]!
}

const crdtRequests = requestIdBinding<CrdtCommand, CrdtAck>()

export const crdtSpec: SimEngineSpec<CrdtCommand, CrdtMessage, CrdtAck, CrdtEvent> = {
  codec: crdtCodec,
  create: (context) => new CrdtEngine(context),
  requests: () => crdtRequests,
}

export const crdtScenario: Scenario = {
  name: 'crdt',
  summary: 'every CRDT type under concurrent operations, loss, partitions and crashes; replicas must converge to the operations’ semantics',
  defaultNodes: 8,
  maxMetrics: ['convergenceRounds'],
  run: (options) => runCrdt(options),
  steps: (options) => crdtSteps(options),
  stepsEndUs: crdtTiming.faultWindowUs + crdtTiming.settleUs,
}

export function runCrdt(options: ScenarioOptions, engine = crdtSpec): RunResult {
  return runSteps(crdtSteps(options, engine))
}

/** The run as steps (sim/steps.ts): `dwcp tui --sim crdt` drives it frame by frame. */
export function* crdtSteps(options: ScenarioOptions, engine = crdtSpec): RunSteps {
  const rng = Rng.fromSeed(options.seed).split('scenario/crdt')
  const wallClockStepMs = crdtWallClockStepMs(options.seed)
  const sim: CrdtSim = scenarioSimulator(options, engine, crdtTiming.tickUs, { wallClockStepMs })
  const violations = new ViolationLog()
  const checker = new CrdtChecker(sim, violations)
  sim.observers.push(checker)
  // The checker records each operation, with the request id its node's kernel gave it, before the engine sees it.
  sim.observers.push({ onCall: (node, command) => checker.noteRequest(command, node.index) })

  const client = new CrdtClient(sim)
  scheduleOperations(sim, client, rng.split('client'), crdtTiming.faultWindowUs)
  if (sim.nodes.length > 1) scheduleConflictRound(sim, client, rng.split('conflicts'), crdtTiming.faultWindowUs + crdtTiming.conflictRoundDelayUs)
  const convergedAtUs = yield* timelineSteps(sim, options, rng, crdtTiming, () => checker.converged())
  checker.checkFinal()

  const sums: Record<string, number> = {}
  for (const node of sim.nodes) {
    const metrics = (node.engine as CrdtEngine | null)?.status().metrics
    if (metrics !== undefined) for (const [key, value] of Object.entries(metrics)) sums[key] = (sums[key] ?? 0) + value
  }
  const digests = sim.nodes.map((node) => (node.engine === null ? 'down' : (node.engine as CrdtEngine).status().storeDigest))
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
    'client.unknown': client.unknown,
    'clock.coarseRuns': wallClockStepMs === 1 ? 0 : 1,
    'lww.stampTies': checker.lwwStampTies,
    'doc.tokensChecked': checker.docTokensChecked,
    'sim.crashes': sim.metrics.crashes,
    'sim.framesRefused': sim.metrics.framesRefused,
    ...networkReport(sim.network.metrics),
  }
  return runResult(options.seed, violations, metrics, digests)
}

/** Calls client operations, numbering them (the numbers name the values they write and the document tokens they insert). */
class CrdtClient {
  ops = 0
  refused = 0
  unknown = 0
  private readonly sim: CrdtSim

  constructor(sim: CrdtSim) {
    this.sim = sim
  }

  /** The number of the next operation: unique in the run, unlike request ids, which each node's kernel counts. */
  get nextId(): number {
    return this.ops + 1
  }

  issue(node: number, op: CrdtOp): void {
    this.ops++
    // The kernel puts its request id in: the one here is a placeholder.
    this.sim.call(node, { requestId: 0, op }, `${op.type} ${op.key} op${this.ops}`, (outcome) => {
      if (outcome.kind === 'refused') this.refused++
      else if (outcome.kind === 'unknown') this.unknown++
    })
  }
}

/** Random operations at Poisson times on random replicas and keys. */
function scheduleOperations(sim: CrdtSim, client: CrdtClient, rng: Rng, endUs: number): void {
  const next = (): void => {
    const node = rng.int(sim.nodes.length)
    const type = rng.pick(crdtTypes)
    client.issue(node, randomOp(rng, type, `${type}/k${rng.int(keysPerType)}`, sim, node, client.nextId))
    const atUs = poissonNextUs(rng, sim.nowUs, crdtTiming.opIntervalUsMean)
    if (atUs < endUs) sim.at(atUs, next)
  }
  sim.at(1, next)
}

/**
 * One round of conflicting writes, all at the same virtual instant (so no
 * replica has seen another's) and after every other write: every replica
 * writes each LWW register — on a fresh wall-clock second (or millisecond)
 * they all take the same hybrid timestamp, and the replica id decides; two
 * replicas write each MV register (both values stay); one adds an element of
 * each set while another removes it (the add wins); one puts into a map
 * field while another removes the field (the put wins). Operations on nodes
 * that are down are refused, as any.
 */
function scheduleConflictRound(sim: CrdtSim, client: CrdtClient, rng: Rng, atUs: number): void {
  sim.at(atUs, () => {
    const nodes = sim.nodes.length
    for (let index = 0; index < keysPerType; index++) {
      for (let node = 0; node < nodes; node++) client.issue(node, { type: 'register', key: `register/k${index}`, value: `v${client.nextId}` })
      const first = rng.int(nodes)
      const second = (first + 1 + rng.int(nodes - 1)) % nodes
      client.issue(first, { type: 'mvregister', key: `mvregister/k${index}`, value: `v${client.nextId}` })
      client.issue(second, { type: 'mvregister', key: `mvregister/k${index}`, value: `v${client.nextId}` })
      const element = rng.pick(elements)
      client.issue(first, { type: 'set', key: `set/k${index}`, action: 'add', element })
      client.issue(second, { type: 'set', key: `set/k${index}`, action: 'remove', element })
      const field = rng.pick(fields)
      client.issue(second, { type: 'map', key: `map/k${index}`, action: 'remove', path: [field] })
      client.issue(first, { type: 'map', key: `map/k${index}`, action: 'put', path: [field, rng.pick(subfields)], value: `v${client.nextId}` })
    }
  })
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
      // Whole tokens only: an insert adds a fresh token at a token boundary, a delete takes one whole token.
      const engine = sim.nodes[node]!.engine as CrdtEngine | null
      const text = engine?.read(key)
      const tokens = typeof text === 'string' ? [...text.matchAll(docTokenPattern)] : []
      if (tokens.length > 0 && rng.chance(0.3)) {
        const token = rng.pick(tokens)
        return { type, key, action: 'delete', index: token.index, count: token[0].length }
      }
      const boundaries = [0, ...tokens.map((token) => token.index + token[0].length)]
      return { type, key, action: 'insert', index: rng.pick(boundaries), text: docToken(id) }
    }
  }
}
