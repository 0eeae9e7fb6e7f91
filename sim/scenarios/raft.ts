/**
 * raft: a replicated key-value store on 3 to 7 nodes, with concurrent clients
 * writing and reading a few keys while messages are lost, duplicated and
 * reordered, partitions (an isolated leader among them) and one-way cuts come
 * and go, nodes crash losing unsynced writes and restart, and the membership
 * changes (a spare node is added as a learner, promoted, and a voter removed,
 * over and over). The checkers: election safety, state machine safety, leader
 * completeness, log matching, and linearizability of the clients' history.
 * After healing, a last write must commit.
 */
import { raftCodec } from '../../core/raft/codec.ts'
import { defaultRaftConfig } from '../../core/raft/config.ts'
import { RaftEngine, type RaftApplied, type RaftCommand, type RaftEvent, type RaftRefusal } from '../../core/raft/engine.ts'
import { KvStateMachine, readKvPut, readKvValue, writeKvGet, writeKvPut } from '../../core/kv.ts'
import type { RaftMessage } from '../../core/raft/messages.ts'
import { Rng } from '../../core/lib/prng.ts'
import type { NodeId } from '../../core/ports.ts'
import { checkLinearizable, type RegisterOp } from '../checkers/linearizability.ts'
import { RaftChecker } from '../checkers/raftChecker.ts'
import { defaultFaultPlan, scheduleFaults } from '../faults.ts'
import type { RunResult, Scenario, ScenarioOptions } from '../scenario.ts'
import type { SimEngineSpec, Simulator } from '../simulator.ts'
import { runResult, scenarioSimulator } from '../timeline.ts'
import { ViolationLog } from '../violation.ts'
import { networkReport } from '../network.ts'

export const raftTiming = {
  /** 10 ms ticks: heartbeats every tick, elections after 100 to 200 ms of silence. */
  tickUs: 10_000,
  faultWindowUs: 8_000_000,
  settleUs: 4_000_000,
  /** A client waits this long for an answer, then gives up (the outcome stays unknown). */
  opTimeoutUs: 500_000,
  /** Pause between a client's operations, and before retrying at another node. */
  thinkUsMax: 20_000,
  /** Time between two membership changes. */
  membershipChangeUs: 1_000_000,
} as const

/** Small snapshots, so that compaction and InstallSnapshot happen many times in every run. */
const raftConfig = { ...defaultRaftConfig, snapshotEntries: 64 }
const clients = 3
/** Enough keys that each one's history stays within the linearizability checker's opsPerKeyMax. */
const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7']

type RaftSim = Simulator<RaftCommand, RaftMessage, RaftApplied, RaftEvent>

/** The first `nodes - 1` nodes form the group (at least 3); the last one waits as a spare to be added. */
function initialVoters(ids: readonly NodeId[]): NodeId[] {
  return ids.length <= 3 ? [...ids] : ids.slice(0, ids.length - 1)
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
  }
}

export const raftSpec = raftSpecFor(0)

export const raftScenario: Scenario = {
  name: 'raft',
  summary: 'a replicated KV store under loss, duplication, partitions, crashes and membership changes; Raft safety and linearizable client histories',
  defaultNodes: 5,
  maxMetrics: ['maxCommitLatencyTicks'],
  run: (options) => runRaft(options),
}

interface Pending {
  readonly op: RegisterOp & { returnUs: number | null; value: string | null }
  readonly requestId: string
  readonly readId: number
  timeoutAtUs: number
  /** The client's next step once this operation is answered or given up. */
  readonly done: () => void
  /** Sends it again (after a refusal, or a read that failed at a deposed leader). */
  readonly retry: () => void
}

export function runRaft(options: ScenarioOptions, spec = raftSpecFor(options.seed)): RunResult {
  if (options.nodes < 3 || options.nodes > 7) throw new RangeError('raft runs on 3 to 7 nodes')
  const rng = Rng.fromSeed(options.seed).split('scenario/raft')
  const sim: RaftSim = scenarioSimulator(options, spec, raftTiming.tickUs, { regions: ['eu'] })
  const violations = new ViolationLog()
  const checker = new RaftChecker(sim, violations)
  sim.observers.push(checker)
  const history: (RegisterOp & { returnUs: number | null; value: string | null })[] = []
  const pendingByRequest = new Map<string, Pending>()
  const pendingByRead = new Map<number, Pending>()
  let nextReadId = 1
  let acknowledgedWrites = 0
  let commitLatencyUsMax = 0
  const endOfFaultsUs = raftTiming.faultWindowUs
  const endUs = endOfFaultsUs + raftTiming.settleUs

  const engineAt = (index: number) => sim.nodes[index]!.engine as RaftEngine | null
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

  // Answers come from whichever node applies the entry (it is committed) or serves the read.
  sim.observers.push({
    onReady: (_node, ready) => {
      for (const applied of ready.applied) {
        if (applied.type === 'entry') {
          const put = readKvPut(applied.data)
          const pending = put === undefined ? undefined : pendingByRequest.get(put.requestId)
          if (pending !== undefined) complete(pending, null)
        } else if (applied.type === 'read') {
          const pending = pendingByRead.get(applied.readId)
          if (pending !== undefined) complete(pending, readKvValue(applied.reply))
        } else if (applied.type === 'readFailed') {
          const pending = pendingByRead.get(applied.readId)
          // Try again (the leader moved); the read's interval stays open from its first invocation.
          if (pending !== undefined && pending.timeoutAtUs >= 0) sim.at(sim.nowUs + 1, pending.retry)
        }
      }
    },
  })

  // Clients: one operation at a time, sent to the node they believe leads; redirected by refusals.
  for (let client = 0; client < clients; client++) {
    const clientRng = rng.split(`client/${client}`)
    let target = clientRng.int(options.nodes)
    let sequence = 0
    const startOp = (): void => {
      if (sim.nowUs >= endOfFaultsUs) return
      const key = clientRng.pick(keys)
      const write = clientRng.chance(0.5)
      sequence++
      const requestId = `c${client}-${sequence}`
      const op = { client: `c${client}`, key, kind: write ? ('write' as const) : ('read' as const), value: write ? requestId : null, invokeUs: sim.nowUs, returnUs: null as number | null }
      history.push(op)
      const pending: Pending = { op, requestId, readId: write ? 0 : nextReadId++, timeoutAtUs: sim.nowUs + raftTiming.opTimeoutUs, done: next, retry: () => attempt(pending) }
      if (write) pendingByRequest.set(requestId, pending)
      else pendingByRead.set(pending.readId, pending)
      attempt(pending)
    }
    const attempt = (pending: Pending): void => {
      if (pending.timeoutAtUs < 0) return // answered (or given up) already
      if (sim.nowUs >= pending.timeoutAtUs) {
        // Given up: a write's outcome stays unknown (returnUs null); an unanswered read constrains nothing.
        pending.timeoutAtUs = -1
        return next()
      }
      const command: RaftCommand = pending.op.kind === 'write' ? { type: 'propose', data: writeKvPut({ requestId: pending.requestId, key: pending.op.key, value: pending.requestId }) } : { type: 'read', readId: pending.readId, query: writeKvGet(pending.op.key) }
      const refusal = sim.propose(target, command, `${pending.op.kind} ${pending.op.key} ${pending.requestId}`) as RaftRefusal | null
      if (refusal === null) {
        // A lease read is answered inside propose: then the client has moved on already.
        if (pending.timeoutAtUs >= 0) sim.at(pending.timeoutAtUs, () => attempt(pending))
        return
      }
      const leader = refusal.leader
      target = leader !== undefined && leader !== null && indexOf(leader) >= 0 ? indexOf(leader) : clientRng.int(options.nodes)
      sim.at(sim.nowUs + 1 + clientRng.int(raftTiming.thinkUsMax), () => attempt(pending))
    }
    const next = (): void => {
      sim.at(sim.nowUs + 1 + clientRng.int(raftTiming.thinkUsMax), startOp)
    }
    sim.at(1 + clientRng.int(raftTiming.thinkUsMax), startOp)
  }

  // Membership changes during the faults: add the spare as a learner, promote it, remove another voter;
  // and now and then a leadership transfer.
  const membershipRng = rng.split('membership')
  let membershipChanges = 0
  let transfers = 0
  const changeMembership = (): void => {
    if (sim.nowUs >= endOfFaultsUs) return
    const leaderIndex = sim.nodes.findIndex((node) => (node.engine as RaftEngine | null)?.role === 'leader')
    if (leaderIndex >= 0) {
      const leader = engineAt(leaderIndex)!
      const { voters, learners } = leader.membership
      const outsider = sim.nodes.map((node) => node.id).find((id) => !voters.includes(id) && !learners.includes(id))
      const transfer = membershipRng.chance(0.3) ? membershipRng.pick(voters.filter((id) => id !== leader.id)) : undefined
      const command: RaftCommand | null =
        transfer !== undefined ? { type: 'transferLeadership', to: transfer }
        : learners.length > 0 ? { type: 'promote', member: learners[0]! }
        : outsider !== undefined ? { type: 'addLearner', member: outsider }
        : voters.length > 3 ? { type: 'remove', member: membershipRng.pick(voters) }
        : null
      if (command !== null && sim.propose(leaderIndex, command, `${command.type}`) === null) {
        if (command.type === 'transferLeadership') transfers++
        else membershipChanges++
      }
    }
    sim.at(sim.nowUs + raftTiming.membershipChangeUs, changeMembership)
  }
  sim.at(raftTiming.membershipChangeUs, changeMembership)

  scheduleFaults(sim, rng.split('faults'), { ...defaultFaultPlan, partition: options.partition, crashes: options.crashes }, { startUs: 1, endUs: endOfFaultsUs })
  sim.startAll()
  sim.runUntil(endOfFaultsUs)

  // After healing: a write must commit.
  let lastWriteCommitted = false
  const finalWrite = (): void => {
    const leaderIndex = sim.nodes.findIndex((node) => (node.engine as RaftEngine | null)?.role === 'leader')
    if (leaderIndex >= 0 && sim.propose(leaderIndex, { type: 'propose', data: writeKvPut({ requestId: 'final', key: 'final', value: 'final' }) }, 'final write') === null) return
    if (sim.nowUs + 100_000 < endUs) sim.at(sim.nowUs + 100_000, finalWrite)
  }
  sim.observers.push({
    onReady: (_node, ready) => {
      for (const applied of ready.applied) if (applied.type === 'entry' && readKvPut(applied.data)?.requestId === 'final') lastWriteCommitted = true
    },
  })
  sim.at(endOfFaultsUs + 1, finalWrite)
  sim.runUntil(endUs)
  options.onProgress?.(endUs / 1000, endUs / 1000)

  checker.checkLogMatching()
  if (!lastWriteCommitted) violations.add({ seed: options.seed, invariant: 'progress', kind: 'liveness', atMs: Math.floor(sim.nowUs / 1000), message: `no write committed within ${raftTiming.settleUs / 1e6} s after healing` })
  const linearizable = checkLinearizable(history)
  if (linearizable.ok === false) violations.add({ seed: options.seed, invariant: 'linearizability', kind: 'safety', atMs: Math.floor(sim.nowUs / 1000), message: linearizable.reason })

  const sums: Record<string, number> = {}
  for (const node of sim.nodes) {
    const metrics = (node.engine as RaftEngine | null)?.metrics
    if (metrics !== undefined) for (const [key, value] of Object.entries(metrics)) sums[key] = (sums[key] ?? 0) + value
  }
  const metrics = {
    commits: acknowledgedWrites,
    elections: checker.elections,
    maxCommitLatencyTicks: Math.ceil(commitLatencyUsMax / raftTiming.tickUs),
    'client.ops': history.length,
    'client.readsAnswered': history.filter((op) => op.kind === 'read' && op.returnUs !== null).length,
    'client.unknownOutcomes': history.filter((op) => op.kind === 'write' && op.returnUs === null).length,
    linearizabilityUnknown: linearizable.ok === 'unknown' ? 1 : 0,
    membershipChanges,
    transfers,
    snapshotsTaken: sums['snapshotsTaken'] ?? 0,
    snapshotsInstalled: sums['snapshotsInstalled'] ?? 0,
    'sim.crashes': sim.metrics.crashes,
    ...networkReport(sim.network.metrics),
  }
  return runResult(options.seed, violations, metrics, [...checker.applied.keys()].length)
}
