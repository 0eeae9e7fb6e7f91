/**
 * membership: runtime membership (issue 18). A cluster starts with all but
 * two of its nodes (three Raft voters in three regions, the rest learners);
 * the two spares join during the run (memberJoin at a running member, then
 * they start with the configuration its answer applied). In the fault window
 * a voter crashes for good (the leader's autopilot removes it after
 * deadVoterRemoveMs and promotes a caught-up learner in its place), a
 * learner leaves (removes itself, then stops), another is removed by a peer
 * and stopped, and, with --crashes, a member crashes and restarts. Clients
 * send strong and eventual requests to live members throughout.
 *
 * Checks: linearizability of strong keys, convergence and bounds of eventual
 * counters, no acknowledged strong write lost, configuration agreement
 * (sim/checkers/configurationChecker.ts), and liveness: both spares joined,
 * the dead voter was replaced, every live member ends at the same version.
 */
import { Rng } from '../../core/lib/prng.ts'
import type { NodeId } from '../../core/ports.ts'
import { bootstrapConfiguration, plainMember, type ClusterConfiguration } from '../../core/replica/clusterConfiguration.ts'
import { replicaCodec } from '../../core/replica/codec.ts'
import type { ReplicaCommand, ReplicaReply } from '../../core/replica/commands.ts'
import type { Policy } from '../../core/replica/policy.ts'
import { Replica } from '../../core/replica/replica.ts'
import { replicaRequests } from '../../host/replicaHost.ts'
import { ConfigurationChecker } from '../checkers/configurationChecker.ts'
import { checkLinearizable, linearizabilityViolation, type RegisterOp } from '../checkers/linearizability.ts'
import { defaultNetworkConfig, networkReport } from '../network.ts'
import type { ReplicaSim, ReplicaSpec } from '../replicaSpec.ts'
import type { RunResult, Scenario, ScenarioOptions } from '../scenario.ts'
import { Simulator } from '../simulator.ts'
import { runResult } from '../timeline.ts'
import { ViolationLog } from '../violation.ts'

const regions = ['eu', 'us', 'ap'] as const
const policies: Readonly<Record<string, Policy>> = {
  cfg: { consistency: 'strong', valueType: 'register', home: null },
  cnt: { consistency: 'eventual', valueType: 'counter', home: null },
}
const tickUs = 10_000
/** Spares: nodes that are not running until they join. */
const sparesCount = 2
/** The first voters: one per region. */
const votersAtStart = 3
/** Short, so that a replacement happens within the run (the default is 30 s). */
const deadVoterRemoveMs = 3_000
const keysPerNamespace = 4
const joinsStartUs = 2_000_000
const crashForGoodUs = 6_000_000
const leaveUs = 10_000_000
const removeUs = 12_000_000
const clientsEndUs = 16_000_000
const endUs = 26_000_000
const thinkUsMax = 60_000
const retryUs = 300_000

export const membershipScenario: Scenario = {
  name: 'membership',
  summary: 'spares join, a voter dies for good and autopilot replaces it, learners leave and are removed, crashes; linearizable strong keys, CRDT convergence, no acknowledged write lost, configuration agreement',
  defaultNodes: 7,
  defaultLoss: 0,
  nodesMin: 6,
  nodesMax: 9,
  run: runMembership,
}

export function runMembership(options: ScenarioOptions): RunResult {
  const rng = Rng.fromSeed(options.seed).split('scenario/membership')
  const ids = Array.from({ length: options.nodes }, (_, index) => `n${index + 1}`)
  const regionOf = new Map(ids.map((id, index) => [id, regions[index % regions.length]!]))
  const initialCount = options.nodes - sparesCount
  const bootstrap = bootstrapConfiguration({
    members: ids.slice(0, initialCount).map((id) => plainMember(id, regionOf.get(id)!)),
    raftVoters: ids.slice(0, votersAtStart),
    raftLearners: ids.slice(votersAtStart, initialCount),
  })
  /** The configuration each spare starts from: its join answer's. */
  const joinedWith = new Map<NodeId, ClusterConfiguration>()
  const spec: ReplicaSpec = {
    codec: replicaCodec,
    create: (context) =>
      new Replica({
        id: context.id,
        configuration: joinedWith.get(context.id) ?? bootstrap,
        signer: null,
        storage: context.storage,
        rng: context.rng,
        clock: context.clock,
        policies,
        config: { deadVoterRemoveMs },
      }),
    requests: () => replicaRequests,
  }
  const sim: ReplicaSim = new Simulator({
    seed: options.seed,
    nodes: options.nodes,
    regions: [...regions],
    engine: spec,
    network: { ...defaultNetworkConfig, faults: { ...defaultNetworkConfig.faults, lossProbability: options.loss } },
    tickUs,
    wire: options.wire,
    trace: options.trace,
    sleepWhenIdle: options.sleepWhenIdle,
  })
  const violations = new ViolationLog()
  const indexOf = (id: NodeId): number => ids.indexOf(id)
  const replicaAt = (index: number): Replica | null => sim.nodes[index]!.engine as Replica | null

  // What the cluster is, as the scenario drives it: members, and nodes stopped for good (removed, left, dead).
  const members = new Set(ids.slice(0, initialCount))
  const gone = new Set<NodeId>()
  const live = (): NodeId[] => [...members].filter((id) => !gone.has(id) && sim.isUp(indexOf(id)))
  const newest = (): ClusterConfiguration => {
    let best = bootstrap
    for (const id of live()) {
      const configuration = replicaAt(indexOf(id))?.configuration()
      if (configuration !== undefined && configuration.version > best.version) best = configuration
    }
    return best
  }

  const configurations = new ConfigurationChecker()
  sim.observers.push({
    onReady: (node, ready) => {
      for (const event of ready.events) {
        if (event.source !== 'replica' || event.event.kind !== 'configurationChanged') continue
        const c = event.event.configuration
        configurations.record(node.id, c, sim.nowUs)
        sim.note(`${node.id} applied configuration ${c.version}: voters ${c.raftVoters.join(',')} learners ${c.raftLearners.join(',')}`)
      }
    },
  })

  // Membership changes: each retried at a live member until it is answered ok.
  const done = { joins: 0, leaves: 0, removals: 0, deadVoter: null as NodeId | null }
  const changeRng = rng.split('membership')
  /** `attempt` names the call to make, null to wait, or 'done' when an earlier call took effect though its answer was lost. */
  const retrying = (what: string, attempt: () => { target: number; command: ReplicaCommand } | null | 'done', onOk: (reply: Extract<ReplicaReply, { ok: true }> | null, target: number) => void): void => {
    const go = (): void => {
      if (sim.nowUs >= clientsEndUs) return
      const chosen = attempt()
      if (chosen === 'done') return onOk(null, -1)
      if (chosen === null) return sim.at(sim.nowUs + retryUs, go)
      sim.call(chosen.target, chosen.command, what, (outcome) => {
        if (outcome.kind === 'reply' && outcome.reply.ok) return onOk(outcome.reply, chosen.target)
        sim.at(sim.nowUs + retryUs, go)
      })
    }
    go()
  }
  const pickLive = (except: readonly NodeId[] = []): number | null => {
    const candidates = live().filter((id) => !except.includes(id))
    return candidates.length === 0 ? null : indexOf(changeRng.pick(candidates))
  }
  ids.slice(initialCount).forEach((spare, order) => {
    sim.at(joinsStartUs + order * 2_000_000 + changeRng.int(1_000_000), () => {
      sim.note(`join ${spare}`)
      retrying(
        `memberJoin ${spare}`,
        () => {
          const target = pickLive()
          return target === null ? null : { target, command: { type: 'memberJoin', requestId: 0, member: plainMember(spare, regionOf.get(spare)!) } }
        },
        (_, target) => {
          joinedWith.set(spare, replicaAt(target)!.configuration())
          members.add(spare)
          done.joins++
          sim.startLate(indexOf(spare))
          sim.note(`${spare} joined; starts`)
        },
      )
    })
  })
  sim.at(crashForGoodUs + changeRng.int(1_000_000), () => {
    const voters = newest().raftVoters.filter((id) => live().includes(id))
    if (voters.length === 0) return
    const victim = changeRng.pick(voters)
    done.deadVoter = victim
    gone.add(victim)
    sim.crash(indexOf(victim))
    sim.note(`crash ${victim} for good (a voter)`)
  })
  const learnerToDrop = (): NodeId | null => {
    const learners = newest().raftLearners.filter((id) => live().includes(id) && !gone.has(id))
    return learners.length === 0 ? null : changeRng.pick(learners)
  }
  /** Whether the newest configuration a live member applied still has `id`. */
  const isMember = (id: NodeId): boolean => newest().members.some((member) => member.id === id)
  const stop = (id: NodeId): void => {
    gone.add(id)
    members.delete(id)
    // After the callback that called it: a node stops once its answer is out, not inside it.
    sim.at(sim.nowUs + 1, () => sim.crash(indexOf(id)))
  }
  sim.at(leaveUs + changeRng.int(1_000_000), () => {
    let leaving: NodeId | null = null
    retrying(
      'leave',
      () => {
        if (leaving !== null && !isMember(leaving)) return 'done'
        leaving = leaving !== null && live().includes(leaving) ? leaving : learnerToDrop()
        return leaving === null ? null : { target: indexOf(leaving), command: { type: 'memberRemove', requestId: 0, id: leaving } }
      },
      () => {
        done.leaves++
        stop(leaving!)
        sim.note(`${leaving} left and stopped`)
      },
    )
  })
  sim.at(removeUs + changeRng.int(1_000_000), () => {
    let removed: NodeId | null = null
    retrying(
      'remove',
      () => {
        if (removed !== null && !isMember(removed)) return 'done'
        removed = removed !== null && members.has(removed) ? removed : learnerToDrop()
        const target = removed === null ? null : pickLive([removed])
        return removed === null || target === null ? null : { target, command: { type: 'memberRemove', requestId: 0, id: removed } }
      },
      () => {
        done.removals++
        stop(removed!)
        sim.note(`${removed} removed and stopped`)
      },
    )
  })
  // Crashes (with --crashes): one live member, not the one dead for good, down for 0.5–1.5 s, twice.
  if (options.crashes) {
    const crashRng = rng.split('crashes')
    for (const startUs of [4_000_000 + crashRng.int(2_000_000), 8_500_000 + crashRng.int(4_000_000)]) {
      sim.at(startUs, () => {
        const candidates = live()
        if (candidates.length === 0) return
        const victim = crashRng.pick(candidates)
        sim.crash(indexOf(victim))
        sim.note(`crash ${victim}`)
        sim.at(sim.nowUs + 500_000 + crashRng.int(1_000_000), () => {
          if (gone.has(victim)) return
          sim.restart(indexOf(victim))
          sim.note(`restart ${victim}`)
        })
      })
    }
  }

  // Clients: strong reads and writes (linearizability) and counter increments, each at a live member.
  const history: (RegisterOp & { returnUs: number | null; value: string | null })[] = []
  const ackedWrites = new Map<string, number>()
  /** Increments acknowledged, by the member that acknowledged them: one stopped for good may take its unsent ones with it. */
  const ackedIncrements: { readonly node: NodeId; readonly key: string; readonly amount: number }[] = []
  const issuedIncrements = new Map<string, number>()
  const failures: Record<string, number> = {}
  let requests = 0
  for (let client = 0; client < 4; client++) {
    const clientRng = rng.split(`client/${client}`)
    let sequence = 0
    const issue = (): void => {
      if (sim.nowUs >= clientsEndUs) return
      const next = (): void => sim.at(sim.nowUs + 1 + clientRng.int(thinkUsMax), issue)
      const targets = live()
      if (targets.length === 0) return next()
      const target = indexOf(clientRng.pick(targets))
      requests++
      sequence++
      const key = `k${clientRng.int(keysPerNamespace)}`
      if (clientRng.chance(0.7)) {
        const write = clientRng.chance(0.6)
        const value = `c${client}-${sequence}`
        const op = { client: `c${client}`, key: `cfg/${key}`, kind: write ? ('write' as const) : ('read' as const), value: write ? value : null, invokeUs: sim.nowUs, returnUs: null as number | null }
        history.push(op)
        const command: ReplicaCommand = write ? { type: 'put', requestId: 0, key: op.key, value } : { type: 'get', requestId: 0, key: op.key }
        sim.call(target, command, `strong ${command.type}`, (outcome) => {
          const reply = outcome.kind === 'reply' ? outcome.reply : null
          if (reply !== null && reply.ok) {
            op.returnUs = sim.nowUs
            if (op.kind === 'read') op.value = typeof reply.value === 'string' ? reply.value : null
            if (op.kind === 'write' && reply.position.kind === 'raft') ackedWrites.set(op.key, Math.max(ackedWrites.get(op.key) ?? 0, reply.position.version))
          } else if (outcome.kind !== 'unknown' && (reply === null || reply.code !== 'timeout')) {
            // Refused before it was proposed, or by the state machine: it never took effect.
            history.splice(history.indexOf(op), 1)
          }
          const code = outcome.kind === 'reply' ? (outcome.reply.ok ? null : outcome.reply.code) : outcome.kind === 'refused' ? outcome.refusal.code : 'unknown'
          if (code !== null) failures[code] = (failures[code] ?? 0) + 1
          next()
        })
      } else {
        const counter = `cnt/${key}`
        const amount = 1 + clientRng.int(3)
        issuedIncrements.set(counter, (issuedIncrements.get(counter) ?? 0) + amount)
        sim.call(target, { type: 'crdt', requestId: 0, op: { type: 'counter', key: counter, amount } }, 'increment', (outcome) => {
          if (outcome.kind === 'reply' && outcome.reply.ok) ackedIncrements.push({ node: ids[target]!, key: counter, amount })
          next()
        })
      }
    }
    sim.at(1_000_000 + clientRng.int(thinkUsMax), issue)
  }

  sim.startNodes(ids.slice(0, initialCount).map((_, index) => index))
  for (let untilUs = 0; untilUs < endUs;) {
    untilUs = Math.min(endUs, untilUs + 1_000_000)
    sim.runUntil(untilUs)
    options.onProgress?.(untilUs / 1000, endUs / 1000)
  }

  // ---- checks --------------------------------------------------------------
  const atMs = Math.floor(endUs / 1000)
  const seed = options.seed
  const linearizable = checkLinearizable(history)
  const linearizabilityFailure = linearizabilityViolation(linearizable, seed, atMs)
  if (linearizabilityFailure !== null) violations.add(linearizabilityFailure)
  const configurationResult = configurations.check(seed, violations)

  const survivors = live().map((id) => replicaAt(indexOf(id))!)
  const digests = new Set(survivors.map((replica) => replica.crdt.status().storeDigest))
  if (digests.size > 1) violations.add({ seed, invariant: 'convergence', kind: 'liveness', atMs, message: `${digests.size} different CRDT stores among ${survivors.length} live members` })
  for (const [key, issued] of issuedIncrements) {
    const acked = ackedIncrements.filter((ack) => ack.key === key && !gone.has(ack.node)).reduce((sum, ack) => sum + ack.amount, 0)
    for (const replica of survivors) {
      const value = replica.crdt.read(key)
      const count = typeof value === 'number' ? value : 0
      if (count < acked || count > issued) violations.add({ seed, invariant: 'counter', kind: 'safety', atMs, node: replica.id, message: `counter ${key} is ${count}; acknowledged ${acked}, issued ${issued}` })
    }
  }
  const finalConfiguration = newest()
  for (const replica of survivors) {
    if (!finalConfiguration.raftVoters.includes(replica.id)) continue
    for (const [key, version] of ackedWrites) {
      const held = replica.strong.get(key).version
      if (held < version) violations.add({ seed, invariant: 'strongDurability', kind: 'safety', atMs, node: replica.id, message: `acknowledged write of ${key} at version ${version} missing (holds ${held})` })
    }
  }
  const versions = new Set(survivors.map((replica) => replica.configuration().version))
  if (versions.size > 1) violations.add({ seed, invariant: 'configurationConverges', kind: 'liveness', atMs, message: `live members end at configuration versions ${[...versions].join(', ')}` })
  if (done.joins < sparesCount) violations.add({ seed, invariant: 'joins', kind: 'liveness', atMs, message: `${done.joins} of ${sparesCount} spares joined` })
  if (done.deadVoter !== null && finalConfiguration.members.some((member) => member.id === done.deadVoter))
    violations.add({ seed, invariant: 'deadVoterRemoved', kind: 'liveness', atMs, message: `${done.deadVoter}, dead since ${crashForGoodUs / 1e6}+ s, is still a member` })
  if (finalConfiguration.raftVoters.length < votersAtStart)
    violations.add({ seed, invariant: 'deadVoterReplaced', kind: 'liveness', atMs, message: `${finalConfiguration.raftVoters.length} voters at the end (${finalConfiguration.raftVoters.join(',')}), ${votersAtStart} wanted` })

  const sums: Record<string, number> = {}
  for (const replica of survivors) for (const [key, value] of Object.entries(replica.metrics)) sums[key] = (sums[key] ?? 0) + value
  const metrics = {
    'client.requests': requests,
    'client.strongOps': history.length,
    'client.strongWritesAcked': ackedWrites.size,
    ...Object.fromEntries(Object.entries(failures).map(([code, count]) => [`failed.${code}`, count])),
    joins: done.joins,
    leaves: done.leaves,
    removals: done.removals,
    autopilotPromotions: sums['autopilotPromotions'] ?? 0,
    autopilotRemovals: sums['autopilotRemovals'] ?? 0,
    configurationVersionMax: configurationResult.versionMax,
    configurationsApplied: configurationResult.configurationsApplied,
    finalVoters: finalConfiguration.raftVoters.length,
    peerMessagesRefused: sums['peerMessagesRefused'] ?? 0,
    linearizabilityUnknown: linearizable.ok === 'unknown' ? 1 : 0,
    crashes: sim.metrics.crashes,
    ...networkReport(sim.network.metrics),
  }
  const finalState = survivors.map((replica) => [replica.id, replica.crdt.status().storeDigest, replica.configuration().version])
  return runResult(seed, violations, metrics, finalState)
}
