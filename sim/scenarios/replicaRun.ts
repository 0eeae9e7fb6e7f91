/**
 * The run behind `adaptive` and `mixed`: replicas over three regions whose
 * latency matrix changes by phases (sim/latencyPlan.ts), clients on every
 * node issuing a mix of strong, auto, eventual and byzantine requests,
 * optionally partitions between regions, then healing and settling, and the
 * checkers: linearizability of strong keys, convergence of eventual counters,
 * agreement of the PBFT replicas, no acknowledged auto write lost, the mode
 * detector's detection bound and no flapping, and the mode switch.
 */
import type { LwwRegister } from '../../core/crdt/lwwRegister.ts'
import type { ModeChangedEvent } from '../../core/adaptive/modeEvents.ts'
import { Rng } from '../../core/lib/prng.ts'
import { sameBytes } from '../../core/pbft/messages.ts'
import type { NodeId } from '../../core/ports.ts'
import type { ReplicaCommand, ReplicaReply } from '../../core/replica/commands.ts'
import type { Policy } from '../../core/replica/policy.ts'
import { raftGroupId, type Replica } from '../../core/replica/replica.ts'
import { registerValue } from '../../core/replica/registerValue.ts'
import { defaultProberConfig } from '../../core/adaptive/proberConfig.ts'
import { defaultLinkEstimatorConfig } from '../../core/adaptive/linkConfig.ts'
import { AutoWriteChecker, type AutoWrite } from '../checkers/autoWriteChecker.ts'
import { checkLinearizable, linearizabilityViolation, type RegisterOp } from '../checkers/linearizability.ts'
import { ModeChecker } from '../checkers/modeChecker.ts'
import { LatencyPlan, meanRttMs, type LatencyPhase } from '../latencyPlan.ts'
import { defaultNetworkConfig, networkReport } from '../network.ts'
import { replicaSpec, simMembers, type ReplicaSim } from '../replicaSpec.ts'
import type { RunResult, Scenario, ScenarioOptions } from '../scenario.ts'
import { Simulator } from '../simulator.ts'
import { runResult } from '../timeline.ts'
import { ViolationLog } from '../violation.ts'

export const replicaRegions = ['eu', 'us', 'ap'] as const

export const replicaPolicies: Readonly<Record<string, Policy>> = {
  cfg: { consistency: 'strong', valueType: 'register', home: null },
  cnt: { consistency: 'eventual', valueType: 'counter', home: null },
  bft: { consistency: 'byzantine', valueType: 'register', home: null },
  edge: { consistency: 'auto', valueType: 'register', home: null },
}

/** Weights of each kind of request in the clients' mix. */
export interface WorkloadMix {
  readonly strong: number
  readonly auto: number
  readonly eventual: number
  readonly byzantine: number
}

export interface ReplicaRunPlan {
  readonly name: string
  readonly phases: readonly LatencyPhase[]
  readonly mix: WorkloadMix
  /** Partitions isolating one region come and go in [start, end) when set. */
  readonly partitions: { readonly startUs: number; readonly endUs: number } | null
  /** Clients stop at this time; the run goes on to `endUs` so that everything heals and converges. */
  readonly clientsEndUs: number
  readonly endUs: number
  /** Pause between a client's requests. */
  readonly thinkUsMax: number
}

const tickUs = 10_000
/**
 * The noise model: exponential jitter on every link, plus the usual 1% of
 * messages held back for reordering, here by at most 5 ms. Holds of up to
 * 50 ms (the other scenarios') are a fault, not noise: two of them among three
 * probes would move a 3 ms link past the 12 ms margin and back.
 */
const reorderDelayUsMax = 5_000
const keysPerNamespace = 6
/** PBFT's group: the first 4 nodes (f = 1). */
const pbftReplicas = 4

type Kind = keyof WorkloadMix

/** A request a client made, and what its answer updates. */
interface Outstanding {
  readonly op: (RegisterOp & { returnUs: number | null; value: string | null }) | null
  readonly auto: AutoWrite | null
  readonly counter: { readonly key: string; readonly amount: number } | null
  readonly byzantine: { readonly key: string } | null
}

export function runReplicaPlan(plan: ReplicaRunPlan, options: ScenarioOptions): RunResult {
  const steps = replicaPlanSteps(plan, options)
  steps.next()
  const end = steps.next()
  if (!end.done) throw new Error(`${plan.name}: the run yielded twice`)
  return end.value
}

/**
 * The run in two steps, for a viewer that drives the simulator itself (`dwcp tui --sim`, paced to its
 * clock): the first `next()` sets everything up, starts every node and yields the simulator; the viewer
 * runs it as far as it likes (`runUntil`); the second `next()` runs it on to `plan.endUs` if it is not
 * there yet and returns the checkers' verdict. Running past `endUs` before that changes what they see.
 */
export function* replicaPlanSteps(plan: ReplicaRunPlan, options: ScenarioOptions): Generator<ReplicaSim, RunResult, void> {
  if (options.nodes < pbftReplicas || options.nodes > 9) throw new RangeError(`${plan.name} runs on ${pbftReplicas} to 9 nodes`)
  const rng = Rng.fromSeed(options.seed).split(`scenario/${plan.name}`)
  const regions = [...replicaRegions]
  const spec = replicaSpec({ nodes: options.nodes, regions, pbftReplicas, keyRng: rng.split('keys'), policies: replicaPolicies })
  const members = simMembers(options.nodes, regions)
  const regionOf = new Map(members.map((member) => [member.id, member.region]))
  const regionList = members.map((member) => member.region)
  const sim: ReplicaSim = new Simulator({
    seed: options.seed,
    nodes: options.nodes,
    regions,
    engine: spec,
    network: { ...defaultNetworkConfig, faults: { ...defaultNetworkConfig.faults, lossProbability: options.loss, reorderDelayUsMax: reorderDelayUsMax } },
    tickUs,
    wire: options.wire,
    trace: options.trace,
    sleepWhenIdle: options.sleepWhenIdle,
  })
  const latencyPlan = new LatencyPlan(plan.phases, regions, rng.split('latency'))
  const violations = new ViolationLog()
  const replicaAt = (index: number) => sim.nodes[index]!.engine as Replica | null

  // Latency phases. At each boundary (and at the end) the checker reads every link's loss level first: a level can rise without a change of mode.
  const modeChecker = new ModeChecker()
  const readLossLevels = () => {
    sim.nodes.forEach((_, index) => {
      const replica = replicaAt(index)
      if (replica === null) return
      for (const link of replica.prober.snapshot().links) modeChecker.recordLossLevel(replica.id, link.peer, sim.nowUs, link.modeState.lossLevel)
    })
  }
  sim.at(plan.endUs - 1, readLossLevels)
  latencyPlan.applied.forEach((applied, index) => {
    const apply = () => {
      if (applied.phase.startUs > 0) readLossLevels()
      latencyPlan.apply(index, sim.network, regionList)
      sim.note(`latency phase ${applied.phase.name}`)
    }
    if (applied.phase.startUs === 0) apply()
    else sim.at(applied.phase.startUs, apply)
  })

  // Partitions between regions: one region cut off from the others for a while.
  const partitionWindows: { readonly region: string; readonly startUs: number; readonly endUs: number }[] = []
  if (plan.partitions !== null) {
    const partitionRng = rng.split('partitions')
    let atUs = plan.partitions.startUs + partitionRng.int(1_000_000)
    while (atUs < plan.partitions.endUs) {
      const region = partitionRng.pick(regions)
      const durationUs = 800_000 + partitionRng.int(1_700_000)
      const window = { region, startUs: atUs, endUs: Math.min(atUs + durationUs, plan.partitions.endUs) }
      partitionWindows.push(window)
      sim.at(window.startUs, () => {
        const inside = members.flatMap((member, index) => (member.region === region ? [index] : []))
        const outside = members.flatMap((member, index) => (member.region === region ? [] : [index]))
        sim.network.partition(inside, outside)
        sim.note(`partition ${region} | rest`)
      })
      sim.at(window.endUs, () => {
        sim.network.heal()
        sim.note('heal')
      })
      atUs = window.endUs + 1_000_000 + partitionRng.int(2_000_000)
    }
  }
  // Crashes (with --crashes, the default): whole replicas lose power and restart from their storage (Raft's log and
  // hard state, the CRDT store, gossip's published state, PBFT's records), their unsynced writes kept, lost or torn
  // (sim/storage.ts). One node at a time goes down for 0.5–2 s: the last PBFT member or a node outside the group
  // (crashed + Byzantine stays within f = 1: the replica scenarios run no Byzantine replica), so that the links
  // among the other PBFT members stay for the mode checker to judge (a crash disturbs a node's links for a loss
  // window). And once per run every node crashes at the same instant and restarts 0.2–0.6 s later (a redeploy), with
  // no other crash near it, and at least 2.5 s before the clients stop: after the last latency change (by 0.6 s, so
  // that the mode checker judges every phase) when the run leaves room, else anywhere. A single crash ends 3 s
  // before the clients stop.
  const crashWindows: { readonly index: number; readonly node: NodeId; readonly startUs: number; readonly endUs: number }[] = []
  let clusterRestarts = 0
  if (options.crashes) {
    const crashRng = rng.split('crashes')
    const lastUs = plan.clientsEndUs - 3_000_000
    const firstUs = 2_000_000
    const clusterLastUs = plan.clientsEndUs - 2_500_000 - 600_000
    const afterLastChangeUs = Math.max(...plan.phases.map((phase) => phase.startUs)) + 600_000
    const clusterFromUs = afterLastChangeUs < clusterLastUs ? afterLastChangeUs : firstUs
    const cluster = clusterLastUs > clusterFromUs ? { startUs: clusterFromUs + crashRng.int(clusterLastUs - clusterFromUs) } : null
    const clusterEndUs = cluster === null ? 0 : cluster.startUs + 200_000 + crashRng.int(400_000)
    if (cluster !== null) {
      clusterRestarts = 1
      for (const [index, member] of members.entries()) crashWindows.push({ index, node: member.id, startUs: cluster.startUs, endUs: clusterEndUs })
      sim.at(cluster.startUs, () => {
        for (let index = 0; index < options.nodes; index++) sim.crash(index)
        sim.note('crash every node')
      })
      sim.at(clusterEndUs, () => {
        for (let index = 0; index < options.nodes; index++) sim.restart(index)
        sim.note('restart every node')
      })
    }
    const clearOfCluster = (startUs: number, endUs: number): boolean => cluster === null || endUs + 1_000_000 < cluster.startUs || startUs > clusterEndUs + 1_000_000
    let atUs = firstUs + crashRng.int(1_000_000)
    while (atUs < lastUs) {
      const index = pbftReplicas - 1 + crashRng.int(options.nodes - pbftReplicas + 1)
      const window = { index, node: members[index]!.id, startUs: atUs, endUs: Math.min(atUs + 500_000 + crashRng.int(1_500_000), lastUs) }
      atUs = window.endUs + 2_000_000 + crashRng.int(3_000_000)
      if (!clearOfCluster(window.startUs, window.endUs)) continue
      crashWindows.push(window)
      sim.at(window.startUs, () => {
        sim.crash(index)
        sim.note(`crash ${window.node}`)
      })
      sim.at(window.endUs, () => {
        sim.restart(index)
        sim.note(`restart ${window.node}`)
      })
    }
  }

  // Probes lost to a partition stay in the link's loss window (1024 probes, 102.4 s): until they leave it, the link
  // is lossy in fact (its loss level may be raised and falls only once the window is nearly clean), and its mode
  // is not the latency plan's to judge.
  const lossMemoryUs = defaultLinkEstimatorConfig.lossWindowSamples * defaultProberConfig.probeIntervalMs * 1000
  // A crashed node's peers lose their probes to it the same way, and the restarted node's detector starts over.
  const linkDisturbed = (node: NodeId, peer: NodeId, fromUs: number, toUs: number): boolean =>
    partitionWindows.some((window) => window.startUs < toUs && window.endUs + lossMemoryUs > fromUs && (regionOf.get(node) === window.region || regionOf.get(peer) === window.region)) ||
    crashWindows.some((window) => window.startUs < toUs && window.endUs + lossMemoryUs > fromUs && (node === window.node || peer === window.node))

  // Observers: mode changes.
  const autoChecker = new AutoWriteChecker()
  const history: (RegisterOp & { returnUs: number | null; value: string | null })[] = []
  const ackedIncrements = new Map<string, number>()
  const issuedIncrements = new Map<string, number>()
  const ackedByzantine: { key: string; version: number }[] = []
  const pathCounts: Record<string, number> = { raft: 0, crdt: 0, pbft: 0, local: 0, published: 0, failed: 0 }
  const failures: Record<string, number> = {}
  sim.observers.push({
    onStart: (node, restarted) => {
      if (!restarted) return
      // The restarted detector starts from its initial mode, a decision the auto writes follow.
      const replica = node.engine as Replica
      autoChecker.decisions.push({ node: node.id, atUs: sim.nowUs, to: replica.prober.groupMode(raftGroupId) ?? 'hybrid' })
    },
    onReady: (node, ready) => {
      for (const event of ready.events) {
        if (event.source === 'crdt' && (event.event.kind === 'keysChanged' || (event.event.kind === 'keyChanged' && event.event.key.startsWith('edge/')))) recordAutoRegisters(node.engine as Replica)
        if (event.source !== 'adaptive') continue
        const change: ModeChangedEvent = event.event
        modeChecker.record(node.id, sim.nowUs, change)
        if (change.scope === 'group' && change.id === raftGroupId) autoChecker.decisions.push({ node: node.id, atUs: sim.nowUs, to: change.to })
      }
    },
  })

  // What the auto keys' registers hold whenever they change, for the checker: a write answered failed must never show.
  const recordAutoRegisters = (replica: Replica): void => {
    for (let index = 0; index < keysPerNamespace; index++) {
      const key = `edge/k${index}`
      const register = replica.crdt.register(key)
      if (register?.written === true) autoChecker.recordVisible(replica.id, key, register.value, sim.nowUs)
    }
  }

  const answer = (request: Outstanding, reply: ReplicaReply): void => {
    pathCounts[reply.ok ? reply.path : 'failed']!++
    if (!reply.ok) failures[reply.code] = (failures[reply.code] ?? 0) + 1
    if (request.op !== null) {
      if (reply.ok) {
        request.op.returnUs = sim.nowUs
        if (request.op.kind === 'read') request.op.value = typeof reply.value === 'string' ? reply.value : null
      } else if (reply.code !== 'timeout') {
        // Refused before it was proposed, or refused by the state machine: it never took effect.
        history.splice(history.indexOf(request.op), 1)
      }
    }
    if (request.auto !== null) {
      request.auto.answeredUs = sim.nowUs
      request.auto.ok = reply.ok
      request.auto.code = reply.ok ? null : reply.code
      if (reply.ok) {
        request.auto.path = reply.path
        request.auto.mode = reply.auto?.mode ?? null
        request.auto.timestamp = reply.auto?.timestamp ?? null
      }
    }
    if (request.counter !== null && reply.ok) ackedIncrements.set(request.counter.key, (ackedIncrements.get(request.counter.key) ?? 0) + request.counter.amount)
    if (request.byzantine !== null && reply.ok && reply.position.kind === 'pbft') ackedByzantine.push({ key: request.byzantine.key, version: reply.position.version })
  }

  // Clients: one per node, one request at a time, each answered through its node's kernel.
  let requestsIssued = 0
  const weights = Object.entries(plan.mix) as [Kind, number][]
  const totalWeight = weights.reduce((sum, [, weight]) => sum + weight, 0)
  for (let client = 0; client < options.nodes; client++) {
    const clientRng = rng.split(`client/${client}`)
    let sequence = 0
    const next = (): void => {
      if (sim.nowUs + 1 < plan.clientsEndUs) sim.at(sim.nowUs + 1 + clientRng.int(plan.thinkUsMax), issue)
    }
    const issue = (): void => {
      if (sim.nowUs >= plan.clientsEndUs) return
      let draw = clientRng.float() * totalWeight
      const kind = weights.find(([, weight]) => (draw -= weight) < 0)?.[0] ?? 'auto'
      // The kernel puts its request id in: the ones here are placeholders.
      const requestId = 0
      requestsIssued++
      sequence++
      const value = `c${client}-${sequence}`
      const keyIndex = clientRng.int(keysPerNamespace)
      const write = clientRng.chance(0.6)
      let target = client
      let command: ReplicaCommand
      let request: Outstanding
      if (kind === 'strong') {
        const key = `cfg/k${keyIndex}`
        const op = { client: `c${client}`, key, kind: write ? ('write' as const) : ('read' as const), value: write ? value : null, invokeUs: sim.nowUs, returnUs: null as number | null }
        history.push(op)
        command = write ? { type: 'put', requestId, key, value } : { type: 'get', requestId, key }
        request = { op, auto: null, counter: null, byzantine: null }
      } else if (kind === 'auto') {
        const key = `edge/k${keyIndex}`
        const auto: AutoWrite = { node: sim.nodes[client]!.id, key, registerValue: registerValue(value), issuedUs: sim.nowUs, answeredUs: null, ok: false, code: null, path: null, mode: null, timestamp: null }
        autoChecker.writes.push(auto)
        command = { type: 'put', requestId, key, value }
        request = { op: null, auto, counter: null, byzantine: null }
      } else if (kind === 'eventual') {
        const key = `cnt/k${keyIndex}`
        const amount = 1 + clientRng.int(3)
        issuedIncrements.set(key, (issuedIncrements.get(key) ?? 0) + amount)
        command = { type: 'crdt', requestId, op: { type: 'counter', key, amount } }
        request = { op: null, auto: null, counter: { key, amount }, byzantine: null }
      } else {
        const key = `bft/k${keyIndex}`
        target = client % pbftReplicas
        command = write ? { type: 'put', requestId, key, value } : { type: 'get', requestId, key }
        request = { op: null, auto: null, counter: null, byzantine: write ? { key } : null }
      }
      sim.call(target, command, `${kind} ${command.type} ${value}`, (outcome) => {
        if (outcome.kind === 'reply') answer(request, outcome.reply)
        else if (outcome.kind === 'refused') answer(request, { type: 'reply', requestId, ok: false, code: outcome.refusal.code, message: outcome.refusal.message })
        // unknown: the node crashed first; the request stays pending (it may or may not have taken effect).
        next()
      })
    }
    sim.at(1_000_000 + clientRng.int(plan.thinkUsMax), issue)
  }

  // Forecast accuracy against the injected truth: each node's one-probe-ahead forecast of each cross-region link, every probe interval.
  const forecastErrors: number[] = []
  const sampleForecasts = (): void => {
    const phase = latencyPlan.phaseAt(sim.nowUs + defaultProberConfig.probeIntervalMs * 1000)
    for (let index = 0; index < options.nodes; index++) {
      const replica = replicaAt(index)
      if (replica === null) continue
      for (const peer of members) {
        const latency = latencyPlan.latency(phase, members[index]!.region, peer.region)
        if (latency === null || linkDisturbed(members[index]!.id, peer.id, sim.nowUs - 3_000_000, sim.nowUs + 1)) continue
        const forecast = replica.prober.estimate(peer.id)?.forecastRttMs
        if (forecast === null || forecast === undefined) continue
        const truth = meanRttMs(latency)
        forecastErrors.push(Math.abs(forecast - truth) / truth)
      }
    }
    if (sim.nowUs + 100_000 < plan.endUs) sim.at(sim.nowUs + defaultProberConfig.probeIntervalMs * 1000, sampleForecasts)
  }
  sim.at(2_000_000, sampleForecasts)

  sim.startAll()
  yield sim
  for (let untilUs = sim.nowUs; untilUs < plan.endUs;) {
    untilUs = Math.min(plan.endUs, untilUs + 1_000_000)
    sim.runUntil(untilUs)
    options.onProgress?.(untilUs / 1000, plan.endUs / 1000)
  }

  // ---- checks --------------------------------------------------------------
  const replicas = sim.nodes.map((node) => node.engine as Replica)
  const atMs = Math.floor(plan.endUs / 1000)
  const linearizable = checkLinearizable(history)
  const linearizabilityFailure = linearizabilityViolation(linearizable, options.seed, atMs)
  if (linearizabilityFailure !== null) violations.add(linearizabilityFailure)

  const digests = new Set(replicas.map((replica) => replica.crdt.status().storeDigest))
  if (digests.size > 1) violations.add({ seed: options.seed, invariant: 'convergence', kind: 'liveness', atMs, message: `${digests.size} different CRDT stores after healing` })
  for (const [key, issued] of issuedIncrements) {
    const acked = ackedIncrements.get(key) ?? 0
    for (const replica of replicas) {
      const value = replica.crdt.read(key)
      const count = typeof value === 'number' ? value : 0
      if (count < acked || count > issued) violations.add({ seed: options.seed, invariant: 'counter', kind: 'safety', atMs, node: replica.id, message: `counter ${key} is ${count}; acknowledged ${acked}, issued ${issued}` })
    }
  }

  const pbftStates = replicas.filter((replica) => replica.pbft !== null).map((replica) => replica.byzantine.snapshot())
  const agreeing = pbftStates.filter((state) => sameBytes(state, pbftStates[0]!)).length
  if (agreeing !== pbftStates.length) violations.add({ seed: options.seed, invariant: 'byzantineAgreement', kind: 'safety', atMs, message: `PBFT replicas hold ${pbftStates.length - agreeing + 1}+ different states after settling` })
  for (const acked of ackedByzantine) {
    for (const replica of replicas) {
      if (replica.pbft === null) continue
      if (replica.byzantine.get(acked.key).version < acked.version) {
        violations.add({
          seed: options.seed,
          invariant: 'byzantineDurability',
          kind: 'safety',
          atMs,
          node: replica.id,
          message: `acknowledged byzantine write of ${acked.key} at version ${acked.version} missing (holds ${replica.byzantine.get(acked.key).version})`,
        })
        break
      }
    }
  }

  const registers = new Map<NodeId, Map<string, LwwRegister | undefined>>()
  for (const replica of replicas) {
    const held = new Map<string, LwwRegister | undefined>()
    for (let index = 0; index < keysPerNamespace; index++) {
      held.set(`edge/k${index}`, replica.crdt.register(`edge/k${index}`))
    }
    registers.set(replica.id, held)
  }
  const autoResult = autoChecker.check(options.seed, plan.endUs, registers, violations)
  const modeResult = modeChecker.check({ seed: options.seed, plan: latencyPlan, regionOf, probeIntervalMs: defaultProberConfig.probeIntervalMs, linkDisturbed, endUs: plan.endUs, oneWayLoss: options.loss }, violations)

  const sums: Record<string, number> = {}
  for (const replica of replicas) for (const [key, value] of Object.entries(replica.metrics)) sums[key] = (sums[key] ?? 0) + value
  let forecastObservedSamples = 0
  let forecastObservedErrorSum = 0
  for (const replica of replicas) {
    const stats = replica.prober.forecastStats()
    if (stats.mape !== null) {
      forecastObservedSamples += stats.samples
      forecastObservedErrorSum += stats.mape * stats.samples
    }
  }
  const autoWrites = autoChecker.writes.filter((write) => write.ok)
  const metrics = {
    'client.requests': requestsIssued,
    'client.strongOps': history.length,
    'client.autoWritesAcked': autoWrites.length,
    'client.byzantineWritesAcked': ackedByzantine.length,
    ...Object.fromEntries(Object.entries(pathCounts).map(([path, count]) => [`pathCounts.${path}`, count])),
    'auto.raft': sums['auto.raft'] ?? 0,
    'auto.groupMode': sums['auto.groupMode'] ?? 0,
    'auto.deadline': sums['auto.deadline'] ?? 0,
    'auto.raftUnavailable': sums['auto.raftUnavailable'] ?? 0,
    ...Object.fromEntries(Object.entries(failures).map(([code, count]) => [`failed.${code}`, count])),
    lostWrites: autoResult.lostWrites,
    modeDecisions: autoChecker.decisions.length,
    modeSwitchMsMax: autoResult.modeSwitchMs.length === 0 ? 0 : Math.max(...autoResult.modeSwitchMs),
    detectionMsMax: modeResult.detectionMs.length === 0 ? 0 : Math.max(...modeResult.detectionMs),
    detectionsMissed: modeResult.detectionsMissed,
    flaps: modeResult.flaps,
    lossLevelViolations: modeResult.lossLevelViolations,
    unjustifiedChanges: modeResult.unjustifiedChanges,
    forecastSamples: forecastErrors.length,
    forecastErrorSum: forecastErrors.reduce((sum, error) => sum + error, 0),
    forecastObservedSamples,
    forecastObservedErrorSum,
    linearizabilityUnknown: linearizable.ok === 'unknown' ? 1 : 0,
    leaderTransfers: sums['leaderTransfers'] ?? 0,
    homeProposals: sums['homeProposals'] ?? 0,
    forwards: sums['forwardsSent'] ?? 0,
    peerMessagesRefused: sums['peerMessagesRefused'] ?? 0,
    partitions: partitionWindows.length,
    crashes: sim.metrics.crashes,
    clusterRestarts,
    ...networkReport(sim.network.metrics),
  }
  const finalState = replicas.map((replica) => [replica.crdt.status().storeDigest, replica.strong.size, replica.byzantine.size])
  return { ...runResult(options.seed, violations, metrics, finalState), samples: { detectionMs: modeResult.detectionMs, modeSwitchMs: autoResult.modeSwitchMs } }
}

/** A scenario of replicas: its plan is there for viewers that step the run (`replicaPlanSteps`). */
export interface ReplicaScenario extends Scenario {
  readonly plan: ReplicaRunPlan
}

/** A scenario over `runReplicaPlan`: 6 nodes by default (4..9), no random loss unless asked. */
export function replicaScenario(name: string, summary: string, plan: Omit<ReplicaRunPlan, 'name'>): ReplicaScenario {
  return {
    name,
    plan: { name, ...plan },
    summary,
    defaultNodes: 6,
    defaultLoss: 0,
    nodesMin: pbftReplicas,
    nodesMax: 9,
    maxMetrics: ['modeSwitchMsMax', 'detectionMsMax'],
    report: replicaReport,
    run: (options) => runReplicaPlan({ name, ...plan }, options),
  }
}

/** Shapes a report: path counts together, MAPE from its sums, the distributions as summaries. */
export function replicaReport(metrics: Record<string, number>, samples: Readonly<Record<string, { count: number; mean: number; median: number; p99: number }>>): Record<string, unknown> {
  const pathCounts: Record<string, number> = {}
  const rest: Record<string, number> = {}
  for (const [key, value] of Object.entries(metrics)) {
    if (key.startsWith('pathCounts.')) pathCounts[key.slice('pathCounts.'.length)] = value
    else if (!key.startsWith('forecast')) rest[key] = value
  }
  const mape = (sum: number | undefined, count: number | undefined) => (count === undefined || count === 0 ? null : Math.round(((sum ?? 0) / count) * 10_000) / 10_000)
  return {
    lostWrites: metrics['lostWrites'] ?? 0,
    detectionMs: samples['detectionMs'],
    modeSwitchMs: samples['modeSwitchMs'],
    forecastMape: mape(metrics['forecastErrorSum'], metrics['forecastSamples']),
    forecastMapeObserved: mape(metrics['forecastObservedErrorSum'], metrics['forecastObservedSamples']),
    pathCounts,
    ...rest,
  }
}
