/**
 * raft: a replicated key-value store on 3 to 7 nodes, with concurrent clients
 * writing and reading a few keys while messages are lost, duplicated and
 * reordered, and the membership changes (a spare node is added as a learner,
 * promoted, and a voter removed, over and over). Each seed runs one fault
 * schedule (`raftScheduleFor`): random partitions, one-way cuts and crashes
 * that lose unsynced writes; or one of the targeted schedules of
 * raftSchedules.ts (a deposed leader that clients keep reading through, a
 * correlated power loss of a leader and its quorum, the figure-8 interleaving).
 * After healing, every client reads every key, and then keeps working for a
 * while. The checkers: election safety, state machine safety, leader
 * completeness, log matching, linearizability of the clients' history; and
 * liveness: a last write commits after healing, every read after healing is
 * answered, and every key saw at least `acknowledgedOpsPerKeyMin`
 * acknowledged operations (a seed that checked nothing is not a pass).
 */
import { raftCodec } from '../../core/raft/codec.ts'
import { defaultRaftConfig } from '../../core/raft/config.ts'
import { RaftEngine, type RaftApplied, type RaftCommand, type RaftEvent, type RaftRefusal } from '../../core/raft/engine.ts'
import { KvStateMachine, readKvValue, writeKvGet, writeKvPut } from '../../core/kv.ts'
import type { RaftMessage } from '../../core/raft/messages.ts'
import { Rng } from '../../core/lib/prng.ts'
import type { NodeId } from '../../core/ports.ts'
import { checkLinearizable, linearizabilityViolation, type RegisterOp } from '../checkers/linearizability.ts'
import { RaftChecker } from '../checkers/raftChecker.ts'
import { defaultFaultPlan, scheduleFaults } from '../faults.ts'
import type { RunResult, Scenario, ScenarioOptions } from '../scenario.ts'
import { raftKvRequests } from '../requestBindings.ts'
import type { SimCallOutcome, SimEngineSpec, Simulator } from '../simulator.ts'
import { runResult, scenarioSimulator } from '../timeline.ts'
import { runSteps, runTo, type RunSteps } from '../steps.ts'
import { ViolationLog } from '../violation.ts'
import { networkReport } from '../network.ts'
import { currentLeader, raftSchedules, scheduleTargetedFaults, type RaftSchedule, type RaftScheduleCounters } from './raftSchedules.ts'

export const raftTiming = {
  /** 10 ms ticks: heartbeats every tick, elections after 100 to 200 ms of silence. */
  tickUs: 10_000,
  faultWindowUs: 8_000_000,
  settleUs: 4_000_000,
  /** After healing, clients read every key and then keep working this long (inside the settle phase). */
  clientsAfterHealUs: 2_500_000,
  /** A whole-window partition (halves, oneway) is drawn again this often, so that a split with no quorum on either side does not stall a whole run. */
  partitionEpochUs: 1_000_000,
  /** A client waits this long for an answer, then gives up (the outcome stays unknown). */
  opTimeoutUs: 500_000,
  /** Pause between a client's operations, and before retrying at another node. */
  thinkUsMax: 20_000,
  /** Time between two membership changes. */
  membershipChangeUs: 1_000_000,
} as const

/**
 * Small snapshots, so that compaction and InstallSnapshot happen many times in every run; and small
 * append batches, so that a follower catching up gets a log in several pieces, and a new leader may
 * hear a quorum hold an earlier term's entries before its own (the figure-8 situation).
 */
const raftConfig = { ...defaultRaftConfig, snapshotEntries: 64, entriesPerMessageMax: 4 }
const clients = 4
/** Enough keys that each one's history stays within the linearizability checker's opsPerKeyMax. */
const keys = Array.from({ length: 16 }, (_, index) => `k${index}`)
/** Keys clients choose among while a targeted schedule wants reads and writes to meet (a fresh choice each time). */
const hotKeysCount = 4
/** Acknowledged operations (answered reads and acknowledged writes) each key must see in a run; fewer is a liveness violation: the seed checked too little. */
export const acknowledgedOpsPerKeyMin = 10

type RaftSim = Simulator<RaftCommand, RaftMessage, RaftApplied, RaftEvent>

/**
 * The group starts with an odd number of voters, the most the nodes allow with at least one spare
 * left to be added (3 nodes: all three vote). An even group has no majority side in a split of two
 * equal halves, and 6 voters of 7 nodes stalled most one-way cuts for their whole length.
 */
function initialVoters(ids: readonly NodeId[]): NodeId[] {
  if (ids.length <= 3) return [...ids]
  const voters = ids.length - 1
  return ids.slice(0, voters % 2 === 1 ? voters : voters - 1)
}

/**
 * The fault schedule of a seed: the random one and the targeted ones take turns, two seeds each, so
 * that every schedule meets both read paths (odd seeds read through leases). A schedule that needs a
 * fault the run turned off (partitions with --partition none, crashes with --no-crashes) gives way to
 * the random one.
 */
export function raftScheduleFor(options: Pick<ScenarioOptions, 'seed' | 'partition' | 'crashes'>): RaftSchedule {
  const schedule = raftSchedules[Math.floor(Math.abs(options.seed) / 2) % raftSchedules.length]!
  if (options.partition === 'none' && schedule !== 'random') return 'random'
  if (!options.crashes && schedule === 'powerLoss') return 'random'
  return schedule
}

/** The engines of a run; odd seeds read through leases, even seeds through ReadIndex, so both paths meet every fault. */
export function raftSpecFor(seed: number): SimEngineSpec<RaftCommand, RaftMessage, RaftApplied, RaftEvent> {
  const config = { ...raftConfig, leaseReads: Math.abs(seed) % 2 === 1 }
  return {
    codec: raftCodec,
    create: (context) => {
      const voters = initialVoters(context.peers)
      return new RaftEngine({ id: context.id, voters: voters.includes(context.id) ? voters : [], storage: context.storage, rng: context.rng, stateMachine: new KvStateMachine(), config })
    },
    requests: raftKvRequests,
  }
}

export const raftSpec = raftSpecFor(0)

export const raftScenario: Scenario = {
  name: 'raft',
  summary: 'a replicated KV store under loss, duplication, partitions, crashes and membership changes; Raft safety and linearizable client histories',
  defaultNodes: 5,
  nodesMin: 3,
  nodesMax: 7,
  maxMetrics: ['maxCommitLatencyTicks', 'client.opsOnOneKeyMax'],
  run: (options) => runRaft(options),
  steps: (options) => raftSteps(options),
  stepsEndUs: raftTiming.faultWindowUs + raftTiming.settleUs,
}

type ClientOp = RegisterOp & { returnUs: number | null; value: string | null }

interface Pending {
  readonly op: ClientOp
  /** The client's name for the operation (`c0-3`): what a write writes, so that the checker tells writes apart. */
  readonly name: string
  timeoutAtUs: number
  /** The client's next step once this operation is answered or given up. */
  readonly done: () => void
  /** Sends it again (after a refusal; a read that failed at a deposed leader, or whose node crashed). */
  readonly retry: () => void
}

export function runRaft(options: ScenarioOptions, spec = raftSpecFor(options.seed)): RunResult {
  return runSteps(raftSteps(options, spec))
}

/** The run as steps (sim/steps.ts): `dwcp tui --sim raft` drives it frame by frame. */
export function* raftSteps(options: ScenarioOptions, spec = raftSpecFor(options.seed)): RunSteps {
  if (options.nodes < 3 || options.nodes > 7) throw new RangeError('raft runs on 3 to 7 nodes')
  const rng = Rng.fromSeed(options.seed).split('scenario/raft')
  const sim: RaftSim = scenarioSimulator(options, spec, raftTiming.tickUs, { regions: ['eu'] })
  const violations = new ViolationLog()
  const checker = new RaftChecker(sim, violations)
  sim.observers.push(checker)
  const schedule = raftScheduleFor(options)
  const history: ClientOp[] = []
  /** Reads after healing: each must be answered before the run ends. */
  const readsAfterHealing: ClientOp[] = []
  let acknowledgedWrites = 0
  let commitLatencyUsMax = 0
  const endOfFaultsUs = raftTiming.faultWindowUs
  const clientsStopUs = endOfFaultsUs + raftTiming.clientsAfterHealUs
  const endUs = endOfFaultsUs + raftTiming.settleUs

  const statusOf = (node: { readonly engine: unknown }) => (node.engine as RaftEngine | null)?.status() ?? null
  const indexOf = (id: NodeId) => sim.nodes.findIndex((node) => node.id === id)
  const complete = (pending: Pending, value: string | null) => {
    if (pending.op.returnUs !== null || pending.timeoutAtUs < 0) return
    pending.op.returnUs = sim.nowUs
    if (pending.op.kind === 'read') pending.op.value = value
    else {
      acknowledgedWrites++
      commitLatencyUsMax = Math.max(commitLatencyUsMax, sim.nowUs - pending.op.invokeUs)
    }
    pending.timeoutAtUs = -1
    pending.done()
  }

  const giveUp = (pending: Pending) => {
    if (pending.timeoutAtUs < 0) return
    pending.timeoutAtUs = -1
    pending.done()
  }
  /**
   * What a call ended with, other than a refusal. The node that was asked answers once it applied the entry
   * (it is committed) or served the read. A read that failed (the leader moved) tries again, as does a read
   * whose node crashed first; its interval stays open from its first invocation. A write whose node crashed
   * first is given up: its outcome stays unknown, and sending it again could apply it twice.
   */
  const answered = (pending: Pending, outcome: Exclude<SimCallOutcome<RaftApplied>, { kind: 'refused' }>): void => {
    if (outcome.kind === 'unknown') {
      if (pending.op.kind === 'write') giveUp(pending)
      else if (pending.timeoutAtUs >= 0) sim.at(sim.nowUs + 1, pending.retry)
      return
    }
    const applied = outcome.reply
    if (applied.type === 'entry') complete(pending, null)
    else if (applied.type === 'read') complete(pending, readKvValue(applied.reply))
    else if (applied.type === 'readFailed' && pending.timeoutAtUs >= 0) sim.at(sim.nowUs + 1, pending.retry)
  }

  // The kernel puts its request ids in (raftKvRequests): the ones here are placeholders.
  const command = (pending: Pending): RaftCommand =>
    pending.op.kind === 'write' ? { type: 'propose', data: writeKvPut({ requestId: '', key: pending.op.key, value: pending.name }) } : { type: 'read', readId: 0, query: writeKvGet(pending.op.key) }
  const newPending = (client: string, name: string, key: string, write: boolean, timeoutAtUs: number, done: () => void, attempt: (pending: Pending) => void): Pending => {
    const op: ClientOp = { client, key, kind: write ? 'write' : 'read', value: write ? name : null, invokeUs: sim.nowUs, returnUs: null }
    history.push(op)
    const pending: Pending = { op, name, timeoutAtUs, done, retry: () => attempt(pending) }
    return pending
  }

  // What the targeted schedules steer: clients pinned to a node, and a few hot keys.
  const pins: ({ nodes: readonly number[]; untilUs: number; kind: 'read' | 'write' | 'any' } | null)[] = Array.from({ length: clients }, () => null)
  let hotKeysUntilUs = 0
  let hotKeys = keys.slice(0, hotKeysCount)
  let burstSequence = 0

  // Clients: one operation at a time, sent to the node they believe leads (or where a schedule pins them); redirected by refusals.
  for (let client = 0; client < clients; client++) {
    const clientRng = rng.split(`client/${client}`)
    let target = clientRng.int(options.nodes)
    let sequence = 0
    /** After healing: every key once, in a random order, each read retried until answered. */
    const healReads = clientRng.shuffle([...keys])
    const pinFor = (kind: 'read' | 'write') => {
      const pin = pins[client]
      return pin !== null && pin !== undefined && sim.nowUs < pin.untilUs && (pin.kind === 'any' || pin.kind === kind) ? pin : null
    }
    const startOp = (): void => {
      const afterHealing = sim.nowUs >= endOfFaultsUs
      if (afterHealing && healReads.length === 0 && sim.nowUs >= clientsStopUs) return
      sequence++
      const name = `c${client}-${sequence}`
      if (afterHealing && healReads.length > 0) {
        const pending = newPending(`c${client}`, name, healReads.pop()!, false, endUs, next, attempt)
        readsAfterHealing.push(pending.op)
        return attempt(pending)
      }
      const pinned = pins[client] !== null && sim.nowUs < pins[client]!.untilUs ? pins[client]! : null
      const write = pinned !== null && pinned.kind !== 'any' ? pinned.kind === 'write' : clientRng.chance(0.5)
      const key = clientRng.pick(sim.nowUs < hotKeysUntilUs ? hotKeys : keys)
      attempt(newPending(`c${client}`, name, key, write, sim.nowUs + raftTiming.opTimeoutUs, next, attempt))
    }
    const attempt = (pending: Pending): void => {
      if (pending.timeoutAtUs < 0) return // answered (or given up) already
      if (sim.nowUs >= pending.timeoutAtUs) {
        // Given up: a write's outcome stays unknown (returnUs null); an unanswered read constrains nothing.
        pending.timeoutAtUs = -1
        return next()
      }
      const pin = pinFor(pending.op.kind)
      if (pin !== null && !pin.nodes.includes(target)) target = clientRng.pick(pin.nodes)
      let refused = false
      sim.call(target, command(pending), `${pending.op.kind} ${pending.op.key} ${pending.name}`, (outcome) => {
        if (outcome.kind !== 'refused') return answered(pending, outcome)
        refused = true
        const leader = (outcome.refusal as RaftRefusal).leader
        target = leader !== undefined && leader !== null && indexOf(leader) >= 0 ? indexOf(leader) : clientRng.int(options.nodes)
        // A pinned client stays among its nodes while another of them may lead; pinned to one that refused, it is let go.
        if (pin !== null && !pin.nodes.includes(target)) {
          if (pin.nodes.length > 1) target = clientRng.pick(pin.nodes)
          else pins[client] = null
        }
        sim.at(sim.nowUs + 1 + clientRng.int(raftTiming.thinkUsMax), () => attempt(pending))
      })
      // A lease read is answered inside the call: then the client has moved on already. Otherwise wait for the answer,
      // or (after healing, when the first try landed before a leader was known) try again a little later.
      if (!refused && pending.timeoutAtUs >= 0) sim.at(Math.min(pending.timeoutAtUs, sim.nowUs + raftTiming.opTimeoutUs), () => attempt(pending))
    }
    const next = (): void => {
      sim.at(sim.nowUs + 1 + clientRng.int(raftTiming.thinkUsMax), startOp)
    }
    sim.at(1 + clientRng.int(raftTiming.thinkUsMax), startOp)
  }

  const control = {
    pinClients: (nodes: readonly number[], untilUs: number, kind: 'read' | 'write' | 'any', which?: readonly number[]) => {
      for (let client = 0; client < clients; client++) if (which === undefined || which.includes(client)) pins[client] = { nodes, untilUs, kind }
    },
    hotKeysUntil: (untilUs: number) => {
      hotKeys = rng.shuffle([...keys]).slice(0, hotKeysCount)
      hotKeysUntilUs = untilUs
    },
    burstWrites: (index: number, count: number) => {
      for (let i = 0; i < count; i++) {
        const name = `burst-${++burstSequence}`
        const pending = newPending(
          'burst',
          name,
          rng.pick(hotKeys),
          true,
          sim.nowUs + raftTiming.opTimeoutUs,
          () => {},
          () => {},
        )
        sim.call(index, command(pending), `write ${pending.op.key} ${name}`, (outcome) => {
          if (outcome.kind === 'refused') pending.timeoutAtUs = -1
          else answered(pending, outcome)
        })
      }
    },
  }

  // Membership changes during the faults: add the spare as a learner, promote it, remove another voter;
  // and now and then a leadership transfer.
  const membershipRng = rng.split('membership')
  let membershipChanges = 0
  let transfers = 0
  const changeMembership = (): void => {
    if (sim.nowUs >= endOfFaultsUs) return
    const leaderIndex = sim.nodes.findIndex((node) => statusOf(node)?.role === 'leader')
    if (leaderIndex >= 0) {
      const leader = statusOf(sim.nodes[leaderIndex]!)!
      const { voters, learners } = leader
      const outsider = sim.nodes.map((node) => node.id).find((id) => !voters.includes(id) && !learners.includes(id))
      const transfer = membershipRng.chance(0.3) ? membershipRng.pick(voters.filter((id) => id !== leader.id)) : undefined
      const command: RaftCommand | null =
        transfer !== undefined
          ? { type: 'transferLeadership', to: transfer }
          : learners.length > 0
            ? { type: 'promote', member: learners[0]! }
            : outsider !== undefined
              ? { type: 'addLearner', member: outsider }
              : voters.length > 3
                ? { type: 'remove', member: membershipRng.pick(voters) }
                : null
      if (command !== null && sim.propose(leaderIndex, command, `${command.type}`) === null) {
        if (command.type === 'transferLeadership') transfers++
        else membershipChanges++
      }
    }
    sim.at(sim.nowUs + raftTiming.membershipChangeUs, changeMembership)
  }
  sim.at(raftTiming.membershipChangeUs, changeMembership)

  const faultRng = rng.split('faults')
  let scheduleCounters: RaftScheduleCounters = { cycles: 0, figure8Returns: 0 }
  if (schedule === 'random') {
    const plan = { ...defaultFaultPlan, partition: options.partition, crashes: options.crashes }
    if (options.partition === 'halves' || options.partition === 'oneway') {
      // A split held for the whole window is drawn again every epoch (each ends healed, every node restarted).
      for (let startUs = 1; startUs < endOfFaultsUs; startUs += raftTiming.partitionEpochUs) {
        scheduleFaults(sim, faultRng.split(startUs), plan, { startUs, endUs: Math.min(endOfFaultsUs, startUs + raftTiming.partitionEpochUs) })
      }
    } else scheduleFaults(sim, faultRng, plan, { startUs: 1, endUs: endOfFaultsUs })
  } else {
    scheduleCounters = scheduleTargetedFaults(sim, faultRng, schedule, control, { startUs: 1, endUs: endOfFaultsUs })
    sim.at(endOfFaultsUs, () => {
      sim.network.heal()
      for (const node of sim.nodes) sim.restart(node.index)
      sim.note('fault window closed: healed and restarted')
    })
  }
  sim.note(`schedule ${schedule}`)
  sim.startAll()
  yield* runTo(sim, endOfFaultsUs)

  // After healing: a write must commit (its leader answers). Called again until it does: a node that still thinks it
  // leads (cut off when the faults ended) may accept it and then lose it to the real leader.
  let lastWriteCommitted = false
  const finalWrite = (): void => {
    if (lastWriteCommitted) return
    const leaderIndex = currentLeader(sim)
    if (leaderIndex >= 0) {
      sim.call(leaderIndex, { type: 'propose', data: writeKvPut({ requestId: '', key: 'final', value: 'final' }) }, 'final write', (outcome) => {
        if (outcome.kind === 'reply') lastWriteCommitted = true
      })
    }
    if (sim.nowUs + raftTiming.opTimeoutUs < endUs) sim.at(sim.nowUs + raftTiming.opTimeoutUs, finalWrite)
  }
  sim.at(endOfFaultsUs + 1, finalWrite)
  yield* runTo(sim, endUs)
  options.onProgress?.(endUs / 1000, endUs / 1000)

  const atMs = Math.floor(sim.nowUs / 1000)
  checker.checkLogMatching()
  checker.checkNamedLeadersElected()
  if (!lastWriteCommitted) violations.add({ seed: options.seed, invariant: 'progress', kind: 'liveness', atMs, message: `no write committed within ${raftTiming.settleUs / 1e6} s after healing` })
  const unansweredAfterHealing = readsAfterHealing.filter((op) => op.returnUs === null)
  if (unansweredAfterHealing.length > 0) {
    const first = unansweredAfterHealing[0]!
    violations.add({
      seed: options.seed,
      invariant: 'readsAfterHealing',
      kind: 'liveness',
      atMs,
      message: `${unansweredAfterHealing.length} reads after healing never answered, first ${first.client} read ${first.key} at ${Math.floor(first.invokeUs / 1000)} ms`,
    })
  }
  const opsByKey = new Map(keys.map((key) => [key, 0]))
  for (const op of history) opsByKey.set(op.key, (opsByKey.get(op.key) ?? 0) + 1)
  const acknowledgedByKey = new Map(keys.map((key) => [key, 0]))
  for (const op of history) if (op.returnUs !== null) acknowledgedByKey.set(op.key, (acknowledgedByKey.get(op.key) ?? 0) + 1)
  const starved = [...acknowledgedByKey].filter(([, count]) => count < acknowledgedOpsPerKeyMin)
  if (starved.length > 0) {
    violations.add({
      seed: options.seed,
      invariant: 'enoughWork',
      kind: 'liveness',
      atMs,
      message: `keys with fewer than acknowledgedOpsPerKeyMin=${acknowledgedOpsPerKeyMin} acknowledged operations: ${starved.map(([key, count]) => `${key}=${count}`).join(', ')}`,
    })
  }
  const linearizable = checkLinearizable(history)
  const linearizabilityFailure = linearizabilityViolation(linearizable, options.seed, atMs)
  if (linearizabilityFailure !== null) violations.add(linearizabilityFailure)

  const sums: Record<string, number> = {}
  for (const node of sim.nodes) {
    const metrics = statusOf(node)?.metrics
    if (metrics !== undefined) for (const [key, value] of Object.entries(metrics)) sums[key] = (sums[key] ?? 0) + value
  }
  const metrics = {
    commits: acknowledgedWrites,
    elections: checker.elections,
    maxCommitLatencyTicks: Math.ceil(commitLatencyUsMax / raftTiming.tickUs),
    'client.ops': history.length,
    /** The most operations on one key: the linearizability checker takes at most opsPerKeyMax. */
    'client.opsOnOneKeyMax': Math.max(...opsByKey.values()),
    'client.acknowledgedDuringFaults': history.filter((op) => op.returnUs !== null && op.returnUs < endOfFaultsUs).length,
    'client.readsAnswered': history.filter((op) => op.kind === 'read' && op.returnUs !== null).length,
    'client.unknownOutcomes': history.filter((op) => op.kind === 'write' && op.returnUs === null).length,
    linearizabilityUnknown: linearizable.ok === 'unknown' ? 1 : 0,
    ...Object.fromEntries(raftSchedules.map((name) => [`schedule.${name}`, name === schedule ? 1 : 0])),
    'schedule.cycles': scheduleCounters.cycles,
    'schedule.figure8Returns': scheduleCounters.figure8Returns,
    membershipChanges,
    transfers,
    snapshotsTaken: sums['snapshotsTaken'] ?? 0,
    snapshotsInstalled: sums['snapshotsInstalled'] ?? 0,
    'sim.crashes': sim.metrics.crashes,
    ...networkReport(sim.network.metrics),
  }
  return runResult(options.seed, violations, metrics, [...checker.applied.keys()].length)
}
