/**
 * pbft: a KV store replicated by PBFT on n = 4 to 13 replicas, f = ⌊(n−1)/3⌋
 * of them Byzantine (sim/byzantine.ts: equivocate, forge, replay, silent,
 * delay, conflicting commits, or mixed), while messages are lost, duplicated
 * and reordered and partitions, one-way cuts and clogs come and go. A few
 * clients at each correct replica (their gateway) put keys, one request at a
 * time each. The checkers: agreement, at-most-once execution, validity and
 * replies (pbftChecker.ts), and evidence against each Byzantine replica whose
 * misbehaviour a correct replica was shown (pbftWitness.ts). After healing,
 * a new request at every correct gateway, and every request still waiting,
 * must be answered within the settle window.
 *
 * Crashes (unless `--no-crashes`): correct replicas lose power, up to f of
 * them down at once, and restart from what they stored (their unsynced
 * writes kept, lost or torn). They do not count among the f faulty: a replica
 * sends nothing that depends on a write not yet synced (core/pbft/records.ts),
 * so every message it sent before the crash agrees with the state it recovers,
 * and to the others its outage is only messages lost or late, which PBFT's
 * safety does not depend on. Liveness needs 2f+1 correct replicas up, which
 * holds once every replica restarts at the end of the fault window. A client
 * whose gateway crashed under its request gives up on that request (the
 * gateway forgot it; it may or may not have executed) and goes on with its
 * next; `requestsLostToCrash` counts them, and `allAnswered` skips them.
 *
 * Without `--mode`, the mode cycles with the seed (seed mod 9 over
 * equivocate, forge, replay, silent, delay, conflictingCommits, mixed, collude,
 * splitQuorum), so a sweep meets every mode under every kind of network fault.
 * About half the seeds make the primary of view 0 Byzantine, so that modes that
 * need to be primary (equivocate, silent, delay) are.
 *
 * The two collusion modes (collude, splitQuorum; sim/byzantine.ts) attack
 * quorums: the f Byzantine replicas act together with an adversary that places
 * the partitions itself, in strikes through the fault window, in place of the
 * random partitions (loss, duplication and reordering stay). collude makes the
 * primary of view 0 Byzantine, splitQuorum makes the primaries of views 0 and
 * 1 correct, so that the first strike fits.
 *
 * With `--reconfigure` (replace, overlap, grow; pbftReconfigure.ts) the group
 * changes in the middle of the fault window through a reconfiguration it
 * orders itself; clients at replicas that leave stop, clients at replicas
 * that join start once they joined, and the requests after healing go to the
 * correct replicas of the new group.
 */
import { KvStateMachine, writeKvPut } from '../../core/kv.ts'
import { Rng } from '../../core/lib/prng.ts'
import type { NodeId, Signer } from '../../core/ports.ts'
import { pbftCodec } from '../../core/pbft/codec.ts'
import { limits } from '../../core/lib/limits.ts'
import { defaultPbftConfig, faultsTolerated, viewChangeBytesMax, type PbftConfig } from '../../core/pbft/config.ts'
import { PbftEngine, type PbftApplied, type PbftCommand, type PbftEvent } from '../../core/pbft/engine.ts'
import { PbftGroup } from '../../core/pbft/group.ts'
import { digestKey, type PbftMessage } from '../../core/pbft/messages.ts'
import { byzantineModeChoices, Collusion, collusionModes, collusionTiming, ByzantineEngine, InjectionLog, soloByzantineModes, type ByzantineMode, type ByzantineModeChoice, type CollusionMode, type PbftEngineLike } from '../byzantine.ts'
import { PbftChecker, ResultRecorder } from '../checkers/pbftChecker.ts'
import { PbftWitness, WitnessedEngine } from '../checkers/pbftWitness.ts'
import { defaultFaultPlan, scheduleFaults } from '../faults.ts'
import type { RunResult, Scenario, ScenarioOptions } from '../scenario.ts'
import { pbftMetrics, pbftReport, reputationSamples } from './pbftMetrics.ts'
import { pbftRequests } from '../requestBindings.ts'
import { byzantineInNewGroupError, pbftReconfigurations, plannedReconfiguration, reconfigured, reconfigureLayout, reconfigureTiming } from './pbftReconfigure.ts'
import type { SimEngineSpec, Simulator } from '../simulator.ts'
import { SimKeyring } from '../signer.ts'
import { runResult, scenarioSimulator } from '../timeline.ts'
import { runSteps, runTo, type RunSteps } from '../steps.ts'
import { ViolationLog } from '../violation.ts'

export const pbftTiming = {
  /** 10 ms ticks, as the engine's config assumes: a request times out after 500 ms, status every 100 ms. */
  tickUs: 10_000,
  faultWindowUs: 6_000_000,
  /** Long enough for a view change whose timeout doubled four times (8 s), then one more view. */
  settleUs: 16_000_000,
  /** A client waiting longer than this counts a timeout and keeps waiting: its gateway sends the request again by itself. */
  opTimeoutUs: 2_000_000,
  /** Pause between a client's requests. */
  thinkUsMax: 50_000,
  /** Once every request is answered after healing, the run goes on this long, then ends (what follows would be idle). */
  quietTailUs: 1_000_000,
  /** The run advances (and reports progress) in steps of this much virtual time. */
  stepUs: 100_000,
} as const

export const pbftNodesMin = 4
export const pbftNodesMax = 13
const clientsPerGateway = 2
const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7']
/** A delaying replica holds its messages twice the request timeout. */
const delayTicks = 2 * defaultPbftConfig.requestTimeoutTicks
/** The engine's defaults, with the window (and checkpoint interval) halved until a new view of n replicas fits one frame. */
export function pbftConfigFor(replicaCount: number): PbftConfig {
  let config = defaultPbftConfig
  while (viewChangeBytesMax(config, replicaCount) > limits.messageBytesMax && config.checkpointInterval > 1) {
    config = { ...config, windowSeqs: Math.floor(config.windowSeqs / 2), checkpointInterval: Math.floor(config.checkpointInterval / 2) }
  }
  return config
}

/** Chance that the primary of view 0 is among the Byzantine replicas. */
const byzantinePrimaryChance = 0.5

type PbftSim = Simulator<PbftCommand, PbftMessage, PbftApplied, PbftEvent>

/** Test hooks: what wraps each correct replica's engine (a broken engine the checkers must catch). */
export interface PbftRunHooks {
  readonly wrapCorrect?: (engine: WitnessedEngine, context: { readonly id: NodeId; readonly group: PbftGroup; readonly signer: Signer }) => PbftEngineLike
}

export const pbftScenario: Scenario = {
  name: 'pbft',
  summary: 'a KV store under PBFT with f Byzantine replicas (equivocating, forging, replaying, silent, delaying, conflicting commits) and network faults; agreement, at-most-once, replies, evidence, liveness after healing',
  defaultNodes: 4,
  nodesMin: pbftNodesMin,
  nodesMax: pbftNodesMax,
  byzantine: { modes: byzantineModeChoices, replicasMax: faultsTolerated },
  reconfigurations: pbftReconfigurations,
  maxMetrics: ['maxReplyLatencyMs', 'maxReconfigureMs'],
  report: pbftReport,
  run: (options) => runPbft(options),
  steps: (options) => pbftSteps(options),
  stepsEndUs: pbftTiming.faultWindowUs + pbftTiming.settleUs,
}

/** The mode a run uses: the one asked for, else one by the seed. */
export function pbftModeFor(options: Pick<ScenarioOptions, 'seed' | 'byzantineMode'>): ByzantineModeChoice {
  if (options.byzantineMode !== undefined) {
    if (!(byzantineModeChoices as readonly string[]).includes(options.byzantineMode)) throw new RangeError(`unknown Byzantine mode ${options.byzantineMode}; modes: ${byzantineModeChoices.join(', ')}`)
    return options.byzantineMode as ByzantineModeChoice
  }
  const count = byzantineModeChoices.length
  return byzantineModeChoices[((options.seed % count) + count) % count]!
}

function isCollusion(choice: ByzantineModeChoice): choice is CollusionMode {
  return (collusionModes as readonly string[]).includes(choice)
}

/** Which replicas are Byzantine, and how. */
function chooseByzantine(rng: Rng, ids: readonly NodeId[], count: number, choice: ByzantineModeChoice): Map<NodeId, ByzantineMode> {
  if (choice === 'splitQuorum') {
    // The primaries of views 0 and 1 correct: the first strike cuts off replicas that prepare in view 0, and view 1 must install without them.
    return new Map(
      rng
        .shuffle(ids.slice(2))
        .slice(0, count)
        .map((id) => [id, choice]),
    )
  }
  const others = rng.shuffle(ids.slice(1))
  const primaryByzantine = count > 0 && (choice === 'collude' || rng.chance(byzantinePrimaryChance))
  const chosen = primaryByzantine ? [ids[0]!, ...others.slice(0, count - 1)] : others.slice(0, count)
  const offset = rng.int(soloByzantineModes.length)
  return new Map(chosen.map((id, index) => [id, choice === 'mixed' ? soloByzantineModes[(offset + index) % soloByzantineModes.length]! : choice]))
}

/**
 * The collusion's strikes through the fault window: each begins in the highest view a correct replica has installed
 * (when the views fit its mode), holds its partition for a while, heals, and after a pause the next one begins.
 */
function scheduleStrikes(sim: PbftSim, collusion: Collusion, rng: Rng, engines: ReadonlyMap<NodeId, PbftEngine>, correct: readonly NodeId[], endUs: number): void {
  const strikeAt = (atUs: number): void => {
    if (atUs >= endUs) return
    sim.at(atUs, () => {
      let view = 0
      for (const id of correct) {
        const status = engines.get(id)?.status()
        if (status !== undefined && status.phase === 'normal') view = Math.max(view, status.view)
      }
      if (!collusion.begin(view)) return strikeAt(sim.nowUs + rng.intBetween(collusionTiming.pauseUsMin, collusionTiming.pauseUsMax))
      const untilUs = Math.min(endUs, sim.nowUs + rng.intBetween(collusionTiming.strikeUsMin, collusionTiming.strikeUsMax))
      sim.at(untilUs, () => {
        collusion.end()
        strikeAt(sim.nowUs + rng.intBetween(collusionTiming.pauseUsMin, collusionTiming.pauseUsMax))
      })
    })
  }
  strikeAt(collusionTiming.firstStrikeUs)
}

interface ClientRequest {
  readonly gateway: number
  readonly client: string
  readonly timestamp: number
  readonly sentUs: number
  answeredUs: number | null
  /** Its gateway crashed before answering: the client gave up on it. */
  lostToCrash: boolean
  readonly onAnswer: () => void
}

export function runPbft(options: ScenarioOptions, hooks: PbftRunHooks = {}): RunResult {
  return runSteps(pbftSteps(options, hooks))
}

/** The run as steps (sim/steps.ts): `dwcp tui --sim pbft` drives it frame by frame. */
export function* pbftSteps(options: ScenarioOptions, hooks: PbftRunHooks = {}): RunSteps {
  const n = options.nodes
  if (n < pbftNodesMin || n > pbftNodesMax) throw new RangeError(`pbft runs on ${pbftNodesMin} to ${pbftNodesMax} nodes, got ${n}`)
  const f = faultsTolerated(n)
  const byzantineCount = options.byzantine ?? f
  if (!Number.isSafeInteger(byzantineCount) || byzantineCount < 0 || byzantineCount > f) throw new RangeError(`${n} replicas tolerate at most f = ${f} Byzantine ones, asked for ${byzantineCount}`)
  const choice = pbftModeFor(options)
  const config = pbftConfigFor(n)
  const rng = Rng.fromSeed(options.seed).split('scenario/pbft')
  const layout = reconfigureLayout(options.reconfigure, n, pbftNodesMax)
  // The nodes a reconfiguration takes in run from the start, outside the first group (numbered after it).
  const ids = Array.from({ length: n + (layout?.spares ?? 0) }, (_, index) => `n${index + 1}`)
  const keyring = new SimKeyring(rng.split('keys'))
  const signers = ids.map(() => keyring.signer())
  const replicas = ids.slice(0, n).map((id, index) => ({ id, publicKey: signers[index]!.publicKey }))
  const modes = chooseByzantine(rng.split('byzantine'), ids.slice(0, n), byzantineCount, choice)
  const newMembers = layout === null ? null : layout.members(ids)
  const tooMany = newMembers === null ? null : byzantineInNewGroupError(newMembers, new Set(modes.keys()))
  if (tooMany !== null) throw new RangeError(tooMany)
  const log = new InjectionLog()
  // The group as every replica knows it (who is primary, batch digests), for the witness, the Byzantine wrappers and the test hooks.
  const group = new PbftGroup(replicas, signers[0]!)
  const witness = new PbftWitness({ modes, log, group })
  const recorders = new Map<NodeId, ResultRecorder>()
  /** Each replica's engine now, and those of its earlier incarnations (for the metrics). */
  const engines = new Map<NodeId, PbftEngine>()
  const pastEngines: [NodeId, PbftEngine][] = []
  const proposed = new Set<string>()
  let sim: PbftSim | null = null
  const note = (text: () => string) => {
    if (sim !== null && sim.trace !== null) sim.note(text())
  }

  let collusion: Collusion | null = null
  const spec: SimEngineSpec<PbftCommand, PbftMessage, PbftApplied, PbftEvent> = {
    codec: pbftCodec,
    create: (context) => {
      const earlier = engines.get(context.id)
      if (earlier !== undefined) pastEngines.push([context.id, earlier])
      const index = ids.indexOf(context.id)
      const signer = signers[index]!
      const recorder = new ResultRecorder(new KvStateMachine())
      const engine = new PbftEngine({ id: context.id, replicas, signer, stateMachine: recorder, storage: context.storage, config })
      engines.set(context.id, engine)
      const mode = modes.get(context.id)
      if (mode !== undefined) return new ByzantineEngine({ inner: engine, group, signer, mode, rng: context.rng.split('byzantine'), log, delayTicks, note, ...(collusion === null ? {} : { collusion }) })
      recorders.set(context.id, recorder)
      const witnessed = new WitnessedEngine(engine, witness)
      return hooks.wrapCorrect?.(witnessed, { id: context.id, group, signer }) ?? witnessed
    },
    requests: pbftRequests,
  }
  sim = scenarioSimulator({ ...options, nodes: ids.length }, spec, pbftTiming.tickUs, { regions: ['eu'] })
  if (isCollusion(choice) && modes.size > 0) {
    const network = sim.network
    const indexesOf = (group: readonly NodeId[]) => group.map((id) => ids.indexOf(id))
    collusion = new Collusion({
      mode: choice,
      group,
      byzantine: new Map([...modes.keys()].map((id) => [id, signers[ids.indexOf(id)]!])),
      network: { partition: (a, b) => network.partition(indexesOf(a), indexesOf(b)), heal: () => network.heal() },
      rng: rng.split('collusion'),
      note,
    })
  }
  const violations = new ViolationLog()
  const checker = new PbftChecker(sim, violations, { modes, witness, recorders, proposed })
  sim.observers.push(checker)
  // A restarted correct replica rolled back to its stable checkpoint: what it applied above it, it applies again.
  sim.observers.push({ onStart: (node, restarted) => restarted && checker.onRestart(node.id, engines.get(node.id)!.status().lowWatermark) })
  for (const [id, mode] of modes) sim.note(`byzantine ${id} mode=${mode}`)

  const endOfFaultsUs = pbftTiming.faultWindowUs
  const endUs = endOfFaultsUs + pbftTiming.settleUs
  const requests: ClientRequest[] = []
  /** Requests their gateway accepted and has not answered yet. */
  let waiting = 0
  let timedOut = 0
  let refused = 0
  let lostToCrash = 0
  let replyLatencyUsMax = 0
  const correctIndexes = ids.flatMap((id, index) => (modes.has(id) ? [] : [index]))

  // What correct replicas prepared (a replica commits what it prepared), by sequence number: set against what executed
  // there, it shows whether an adversary made correct replicas prepare a batch the group then ordered otherwise.
  const preparedDigests = new Map<number, Set<string>>()
  sim.observers.push({
    onReady: (node, ready) => {
      if (modes.has(node.id)) return
      for (const { message } of ready.messages) {
        const body = message.signed.body
        if (body.type !== 'commit' || body.replica !== node.id) continue
        let digests = preparedDigests.get(body.seq)
        if (digests === undefined) preparedDigests.set(body.seq, (digests = new Set()))
        digests.add(digestKey(body.digest))
      }
    },
  })

  /**
   * Calls a put for `client` at gateway `index`; retries after a pause when the gateway refuses. The gateway answers
   * with a reply (f+1 replicas agree), or refuses a request its client had superseded; a gateway that crashes forgets
   * the request (its outcome is unknown): the client gives up on it and goes on.
   */
  const submit = (index: number, client: string, timestamp: number, clientRng: Rng, onAnswer: () => void): void => {
    const gateway = ids[index]!
    const requestId = `${gateway}/${client}/${timestamp}`
    const operation = writeKvPut({ requestId, key: clientRng.pick(keys), value: requestId })
    const key = `${gateway}/${client}@${timestamp}`
    const request: ClientRequest = { gateway: index, client, timestamp, sentUs: sim!.nowUs, answeredUs: null, lostToCrash: false, onAnswer }
    // The checker knows what was proposed before the engine sees it.
    proposed.add(key)
    let accepted = true
    sim!.call(index, { type: 'request', client, timestamp, operation }, `request ${requestId}`, (outcome) => {
      if (outcome.kind === 'refused') {
        accepted = false
        proposed.delete(key)
        // Its gateway left the group (a reconfiguration): the client stops. One that has not joined yet: it waits.
        const status = engines.get(gateway)?.status()
        if (outcome.refusal.code === 'notMember' && status !== undefined && status.epoch > 0 && !status.member) return
        sim!.at(sim!.nowUs + 1 + clientRng.int(pbftTiming.thinkUsMax), () => submit(index, client, timestamp, clientRng, onAnswer))
        return
      }
      waiting--
      if (outcome.kind === 'unknown') {
        request.lostToCrash = true
        lostToCrash++
      } else {
        if (outcome.reply.type === 'refused') refused++
        request.answeredUs = sim!.nowUs
        replyLatencyUsMax = Math.max(replyLatencyUsMax, request.answeredUs - request.sentUs)
      }
      request.onAnswer()
    })
    if (!accepted) return
    requests.push(request)
    waiting++
    sim!.at(sim!.nowUs + pbftTiming.opTimeoutUs, () => {
      if (request.answeredUs === null && !request.lostToCrash) timedOut++
    })
  }

  // Clients: one request at a time each, at the correct gateways, during the fault window.
  for (const index of correctIndexes) {
    for (let client = 0; client < clientsPerGateway; client++) {
      const clientRng = rng.split(`client/${ids[index]}/${client}`)
      let timestamp = 0
      const next = (): void => {
        if (sim!.nowUs >= endOfFaultsUs) return
        submit(index, `c${client}`, ++timestamp, clientRng, () => sim!.at(sim!.nowUs + 1 + clientRng.int(pbftTiming.thinkUsMax), next))
      }
      sim.at(1 + clientRng.int(pbftTiming.thinkUsMax), next)
    }
  }

  // The collusion places the partitions itself: random ones would heal its strikes early.
  // Crashes: correct replicas only, at most f down at once (see above).
  const faultPlan = { ...defaultFaultPlan, partition: collusion === null ? options.partition : 'none', crashes: options.crashes, crashable: correctIndexes, downMax: faultsTolerated(n) }
  scheduleFaults(sim, rng.split('faults'), faultPlan, { startUs: 1, endUs: endOfFaultsUs })
  if (collusion !== null)
    scheduleStrikes(
      sim,
      collusion,
      rng.split('strikes'),
      engines,
      correctIndexes.map((index) => ids[index]!),
      endOfFaultsUs,
    )
  sim.startAll()
  // The reconfiguration: proposed at a correct replica of the first group, approved by 2f+1 correct ones; proposed
  // again (at the next correct replica) while no correct replica executed it.
  const correctFirst = ids.slice(0, n).filter((id) => !modes.has(id))
  let reconfigureProposedUs = -1
  let reconfiguredUs = -1
  if (newMembers !== null) {
    const reconfiguration = plannedReconfiguration(newMembers, ids, signers, correctFirst, n)
    const propose = (attempt: number): void => {
      const executed = correctFirst.some((id) => {
        const status = engines.get(id)?.status()
        return status !== undefined && (status.epoch > 0 || status.nextGroup !== null)
      })
      if (executed) return
      const proposer = correctFirst[attempt % correctFirst.length]!
      if (reconfigureProposedUs < 0) reconfigureProposedUs = sim!.nowUs
      sim!.note(`reconfigure proposed at ${proposer} (attempt ${attempt + 1}): ${newMembers.join(',')}`)
      sim!.call(ids.indexOf(proposer), { type: 'reconfigure', reconfiguration }, `reconfigure to ${newMembers.join(',')}`, () => {})
      sim!.at(sim!.nowUs + reconfigureTiming.retryUs, () => propose(attempt + 1))
    }
    sim.at(reconfigureTiming.proposeAtUs, () => propose(0))
  }
  const finalIndexes = newMembers === null ? correctIndexes : newMembers.filter((id) => !modes.has(id)).map((id) => ids.indexOf(id))
  // After healing: a new client at every correct gateway (of the new group, after a reconfiguration).
  sim.at(endOfFaultsUs + 1, () => {
    for (const index of finalIndexes) submit(index, 'final', 1, rng.split(`final/${ids[index]}`), () => {})
  })
  // Until the settle window ends, or shortly after every request is answered once healed (the rest would be idle).
  let answeredAllUs = -1
  for (let untilUs = 0; untilUs < endUs && (answeredAllUs < 0 || untilUs < answeredAllUs + pbftTiming.quietTailUs);) {
    untilUs = Math.min(endUs, untilUs + pbftTiming.stepUs)
    yield* runTo(sim, untilUs)
    if (newMembers !== null && reconfiguredUs < 0 && reconfigured(newMembers, (id) => !modes.has(id), engines)) reconfiguredUs = sim.nowUs
    if (answeredAllUs < 0 && untilUs > endOfFaultsUs && waiting === 0 && (newMembers === null || reconfiguredUs >= 0)) answeredAllUs = untilUs
    options.onProgress?.(untilUs / 1000, endUs / 1000)
  }

  const atMs = Math.floor(sim.nowUs / 1000)
  if (newMembers !== null && reconfiguredUs < 0) {
    violations.add({
      seed: options.seed,
      invariant: 'reconfigured',
      kind: 'liveness',
      atMs,
      message: `the correct replicas of ${newMembers.join(',')} did not all enter epoch 1 as its members within ${pbftTiming.settleUs / 1e6} s after healing`,
    })
  }
  for (const index of finalIndexes) {
    const final = requests.find((request) => request.gateway === index && request.client === 'final')
    if (final === undefined || final.answeredUs === null)
      violations.add({ seed: options.seed, invariant: 'progressAfterHealing', kind: 'liveness', atMs, node: ids[index], message: `a request submitted at ${ids[index]} after healing got no reply within ${pbftTiming.settleUs / 1e6} s` })
  }
  const unanswered = requests.filter((request) => request.answeredUs === null && !request.lostToCrash)
  if (unanswered.length > 0) {
    const first = unanswered[0]!
    violations.add({
      seed: options.seed,
      invariant: 'allAnswered',
      kind: 'liveness',
      atMs,
      message: `${unanswered.length} requests unanswered ${pbftTiming.settleUs / 1e6} s after healing, first ${ids[first.gateway]}/${first.client}@${first.timestamp} sent at ${Math.floor(first.sentUs / 1000)} ms`,
    })
  }
  checker.checkEvidence()
  let preparedSupersededSeqs = 0
  for (const [seq, digests] of preparedDigests) {
    const executed = checker.executed.get(seq)
    if (executed !== undefined && [...digests].some((digest) => digest !== executed.digest)) preparedSupersededSeqs++
  }

  const finalState = [...checker.executed.entries()].map(([seq, held]) => `${seq}:${held.digest.length}:${[...held.digest].map((char) => char.charCodeAt(0).toString(16)).join('')}`)
  const metrics = pbftMetrics({ sim, checker, engines, pastEngines, modes, log, witness, requests, timedOut, refused, lostToCrash, replyLatencyUsMax, strikes: collusion?.strikes ?? 0, preparedSupersededSeqs })
  if (newMembers !== null) {
    metrics.reconfigurations = reconfiguredUs >= 0 ? 1 : 0
    metrics.maxReconfigureMs = reconfiguredUs >= 0 ? Math.ceil((reconfiguredUs - reconfigureProposedUs) / 1000) : 0
    metrics.groupEpochs = checker.groups.size
  }
  const result = runResult(options.seed, violations, metrics, finalState)
  return { ...result, samples: reputationSamples(engines, modes) }
}
