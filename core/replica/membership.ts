/**
 * The replica's part of the cluster configuration (DESIGN §10): which one
 * applies here, what follows it, and the changes this node proposes.
 *
 * - Applied: the configuration is part of the Raft state machine (a log
 *   command, strongState.ts); whenever a newer version applies here (or
 *   arrives in a snapshot), gossip's members, the CRDT peers, the prober's
 *   links and Raft group, and the region table follow it, it is persisted
 *   (configurationRecord.ts) and reported. A restart starts from the newest
 *   of the configuration it was built with and the one it persisted.
 * - Proposed: members join and are removed through client commands; the
 *   Raft leader's autopilot promotes and removes voters (autopilot.ts). One
 *   change at a time: none is proposed here while this node's last one has
 *   not applied, and a change applies only onto the version it was made
 *   from (two made from one version cannot both apply).
 * - Members outside Raft (no log) take the configuration the leader
 *   publishes into the gossiped state.
 * - Raft follows: the leader moves Raft's own voters and learners toward the
 *   applied configuration's, one server at a time (raftStep).
 */
import type { Prober } from '../adaptive/prober.ts'
import type { CrdtEngine } from '../crdt/engine.ts'
import type { GossipEngine } from '../gossip/engine.ts'
import { isValidId } from '../lib/limits.ts'
import type { NodeId, StorageReader, StorageWrite } from '../ports.ts'
import type { RaftCommand, RaftEngine } from '../raft/engine.ts'
import type { Refusal } from '../ready.ts'
import { autopilotDecision, pbftReplacement, type PeerProgress } from './autopilot.ts'
import { decodeWith } from '../codec/envelope.ts'
import { memberProblem, normalizeConfiguration, readConfiguration, writeClusterConfiguration, type ClusterConfiguration, type ConfigMember, type PbftRunning } from './clusterConfiguration.ts'
import { joinMember, promoteLearner, recordPbftRunning, removeMember, setPbftGroup, type ChangeOutcome } from './configurationChanges.ts'
import { configurationRecord } from './configurationRecord.ts'
import type { ReplicaContext } from './context.ts'
import type { StrongState } from './strongState.ts'

/** The Raft group's id in the prober's mode detector. */
export const raftGroupId = 'raft'

/** The gossiped update that carries the applied configuration to members outside Raft. */
export const configurationUpdateKey = 'c:configuration'

export interface MembershipOptions {
  readonly context: ReplicaContext
  /** The configuration the replica started from (newest of its options' and its stored one). */
  readonly initial: ClusterConfiguration
  /** The Raft state machine, which holds the configuration applied through the log. */
  readonly strong: StrongState
  readonly raft: RaftEngine
  readonly gossip: GossipEngine
  readonly crdt: CrdtEngine
  readonly prober: Prober
  /** The region of every member: kept in step with the configuration here, read by routing and placement. */
  readonly regionOf: Map<NodeId, string>
  /** Makes the prober's PBFT group follow a configuration (on a node without a PBFT engine: one with an engine follows its engine's group). */
  readonly followPbft: (c: ClusterConfiguration, nowMs: number) => void
  /** Puts a configuration change into the Raft log (here when leading, else through the leader); requestId null: the leader's own. */
  readonly propose: (requestId: number | null, next: ClusterConfiguration) => Refusal | null
  /** Ticks per autopilot round when rounds follow ticks (ReplicaConfig.alignedPeriods), else null (rounds follow the clock). */
  readonly roundTicks: number | null
}

/** Reads the configuration a replica persisted, if any (for the Replica's constructor). */
export function storedConfiguration(storage: StorageReader): ClusterConfiguration | undefined {
  return configurationRecord().load(storage)
}

export class Membership {
  private readonly context: ReplicaContext
  private readonly strong: StrongState
  private readonly raft: RaftEngine
  private readonly gossip: GossipEngine
  private readonly crdt: CrdtEngine
  private readonly prober: Prober
  private readonly regionOf: Map<NodeId, string>
  private readonly propose: (requestId: number | null, next: ClusterConfiguration) => Refusal | null
  private readonly followPbft: MembershipOptions['followPbft']
  private readonly record = configurationRecord()
  private applied: ClusterConfiguration
  /** The record of the configuration applied last, for the next Ready (synced: what follows it depends on it). */
  private unsaved: StorageWrite | null = null
  /** A change this node proposed, until a version at least its own applies here or requestTimeoutMs passes. */
  private pending: { readonly version: number; readonly untilMs: number } | null = null
  private lastRoundMs = Number.NEGATIVE_INFINITY
  private readonly roundTicks: number | null
  private ticks = 0
  /** Leader only: when each Raft member was last heard from (reset when this node becomes leader). */
  private readonly lastHeardMs = new Map<NodeId, number>()
  private wasLeader = false
  /** Members the configuration dropped that Raft still replicates to: since when, and the commit index they must reach first. */
  private readonly removals = new Map<NodeId, { readonly sinceMs: number; readonly index: number; caughtUpMs: number | null }>()
  /** Leader only: since when gossip has held each replica of the PBFT target dead. */
  private readonly pbftDeadSinceMs = new Map<NodeId, number>()

  constructor(options: MembershipOptions, storage: StorageReader) {
    this.context = options.context
    this.strong = options.strong
    this.raft = options.raft
    this.gossip = options.gossip
    this.crdt = options.crdt
    this.prober = options.prober
    this.regionOf = options.regionOf
    this.propose = options.propose
    this.roundTicks = options.roundTicks
    this.followPbft = options.followPbft
    this.record.load(storage)
    this.applied = options.initial
    this.follow(options.initial, [])
    const held = this.strong.configuration
    if (held !== null && held.version > this.applied.version) this.adopt(held)
  }

  /** A copy of the configuration applied here now. */
  get configuration(): ClusterConfiguration {
    return normalizeConfiguration(this.applied)
  }

  /** Whether `id` is a member (peer messages from others are refused). */
  isMember(id: NodeId): boolean {
    return this.regionOf.has(id)
  }

  /** Whether this node is a Raft voter or learner in the applied configuration. */
  get inRaftGroup(): boolean {
    return this.applied.raftVoters.includes(this.context.id) || this.applied.raftLearners.includes(this.context.id)
  }

  /** After Raft applied entries or installed a snapshot: adopts the state machine's configuration when it is newer. */
  sync(): void {
    const held = this.strong.configuration
    if (held !== null && held.version > this.applied.version) this.adopt(held)
  }

  /** The write of the configuration applied last, once (the replica syncs it in its next Ready). */
  takeWrite(): StorageWrite | null {
    const write = this.unsaved
    this.unsaved = null
    return write
  }

  get hasWrite(): boolean {
    return this.unsaved !== null
  }

  private adopt(next: ClusterConfiguration): void {
    const before = this.applied
    this.applied = next
    this.follow(
      next,
      before.members.map((member) => member.id),
    )
    this.unsaved = this.record.write(next)
    if (this.pending !== null && next.version >= this.pending.version) this.pending = null
  }

  /** Makes gossip, the CRDT peers, the prober and the region table follow `c`, and reports it. */
  private follow(c: ClusterConfiguration, previousIds: readonly NodeId[]): void {
    const self = this.context.id
    const ids = c.members.map((member) => member.id)
    this.regionOf.clear()
    for (const member of c.members) this.regionOf.set(member.id, member.region)
    this.gossip.setMembers(ids)
    this.crdt.setPeers(ids)
    const others = ids.filter((id) => id !== self)
    const nowMs = this.context.clock.nowMs()
    // Links must exist before a group holds them, and leave the group before they are dropped.
    this.refuseQuietly(this.prober.setPeers([...new Set([...others, ...previousIds.filter((id) => id !== self)])]))
    this.prober.setGroup(
      raftGroupId,
      c.raftVoters.filter((id) => id !== self),
      c.raftVoters.includes(self),
      nowMs,
    )
    this.followPbft(c, nowMs)
    this.refuseQuietly(this.prober.setPeers(others))
    this.context.report({ source: 'replica', event: { kind: 'configurationChanged', version: c.version, configuration: normalizeConfiguration(c) } })
  }

  private refuseQuietly(refusal: Refusal | null): void {
    // A link still in the running PBFT group (a node with an engine follows its engine's) stays probed; anything else is a bug in the lists above.
    if (refusal !== null && refusal.code !== 'linkInUse') throw new Error(`prober refused the configuration's peers: ${refusal.message}`)
  }

  // ---- client commands ------------------------------------------------------

  join(requestId: number, member: ConfigMember): Refusal | null {
    if (!isValidId(member.id)) return { code: 'invalidMember', message: `member id ${JSON.stringify(member.id)} is not a valid id` }
    const problem = memberProblem(member)
    if (problem !== null) return { code: 'invalidMember', message: problem }
    return this.change(requestId, joinMember(this.applied, member))
  }

  remove(requestId: number, id: NodeId): Refusal | null {
    const states = new Map(this.gossip.status().members.map((summary) => [summary.id, summary.state]))
    const isAlive = (member: NodeId): boolean => member === this.context.id || states.get(member) === 'alive' || states.get(member) === 'suspect'
    return this.change(requestId, removeMember(this.applied, id, isAlive))
  }

  setPbftGroup(requestId: number, replicas: readonly NodeId[]): Refusal | null {
    return this.change(requestId, setPbftGroup(this.applied, replicas))
  }

  /** Proposes recording the running PBFT group (a replica of it does, after a reconfiguration); null when nothing is to record or one change waits. */
  recordPbftRunning(running: PbftRunning): Refusal | null {
    const outcome = recordPbftRunning(this.applied, running)
    if (!outcome.ok) return outcome.error
    if (outcome.next === 'unchanged') return null
    return this.proposeChange(null, outcome.next)
  }

  private change(requestId: number, outcome: ChangeOutcome): Refusal | null {
    if (!outcome.ok) return outcome.error
    if (outcome.next === 'unchanged') {
      this.context.answers.reply({ type: 'reply', requestId, ok: true, path: 'raft', position: { kind: 'configuration', version: this.applied.version, index: 0 } })
      return null
    }
    return this.proposeChange(requestId, outcome.next)
  }

  private proposeChange(requestId: number | null, next: ClusterConfiguration): Refusal | null {
    if (this.pending !== null) return { code: 'changePending', message: `configuration ${this.pending.version} proposed here has not applied yet; one change at a time` }
    const refusal = this.propose(requestId, next)
    if (refusal !== null) return refusal
    this.pending = { version: next.version, untilMs: this.context.clock.nowMs() + this.context.config.requestTimeoutMs }
    return null
  }

  // ---- members outside Raft ----------------------------------------------------

  /** The leader publishes the configuration it applied into the gossiped state, for the members outside Raft, which see no log. */
  private publish(): void {
    if ((this.gossip.update(configurationUpdateKey)?.version ?? 0) >= this.applied.version) return
    this.gossip.propose({ type: 'publish', key: configurationUpdateKey, version: this.applied.version, value: writeClusterConfiguration(this.applied) })
  }

  /** A member outside Raft adopts a newer configuration the leader published (Raft's members wait for their log). */
  private adoptPublished(): void {
    const update = this.gossip.update(configurationUpdateKey)
    if (update === undefined || update.version <= this.applied.version) return
    const decoded = decodeWith(update.value, readConfiguration, 'published configuration')
    if (decoded.ok && decoded.value.version === update.version) this.adopt(decoded.value)
  }

  // ---- the leader's rounds ----------------------------------------------------

  /** Heard from within this: alive. Two election timeouts: Raft's check-quorum clears its activity marks once per timeout. */
  private get aliveWindowMs(): number {
    return 2 * this.context.config.raft.electionTicksMin * this.context.config.tickMs
  }

  /**
   * Whether Raft may stop replicating to a member the configuration dropped:
   * once Raft removes it, it hears nothing more, so it first gets the entry
   * that removed it and a round later (heartbeats carry the commit index) it
   * has applied it, learns it is out and, when it asked to leave, is answered.
   * One that does not catch up within requestTimeoutMs (it is down) is removed anyway.
   */
  private removalReady(member: NodeId, status: ReturnType<RaftEngine['status']>, nowMs: number): boolean {
    if (member === this.context.id) return true
    let waiting = this.removals.get(member)
    if (waiting === undefined) {
      waiting = { sinceMs: nowMs, index: status.commit, caughtUpMs: null }
      this.removals.set(member, waiting)
    }
    const follower = status.followers.find((candidate) => candidate.id === member)
    // One not heard from lately is down: it cannot take the entry, so waiting for it gains nothing.
    if (nowMs - (this.lastHeardMs.get(member) ?? nowMs) >= this.aliveWindowMs) return true
    if (waiting.caughtUpMs === null && follower !== undefined && follower.match >= waiting.index) waiting.caughtUpMs = nowMs
    return (waiting.caughtUpMs !== null && nowMs > waiting.caughtUpMs) || nowMs - waiting.sinceMs >= this.context.config.requestTimeoutMs
  }

  /**
   * When `tick` next has work, on the clock (for hosts that sleep between
   * ticks, core/ready.ts): a pending change's expiry, and on the leader its
   * next autopilot round (at once for a leader that has not had one yet;
   * with rounds on ticks, see ticksUntilRound).
   * A member outside Raft adopts a published configuration at its ticks; its
   * gossip ticks at least once a probe round, so that waits no longer.
   */
  nextWorkAtMs(): number {
    const pendingMs = this.pending?.untilMs ?? Number.POSITIVE_INFINITY
    if (this.raft.role !== 'leader') return this.wasLeader ? Number.NEGATIVE_INFINITY : pendingMs
    if (this.roundTicks !== null) return pendingMs
    if (!this.wasLeader) return Number.NEGATIVE_INFINITY
    return Math.min(pendingMs, this.lastRoundMs + this.context.config.autopilotIntervalMs)
  }

  /** With rounds on ticks: ticks until the leader's next round (Infinity on other nodes, or when rounds follow the clock). */
  ticksUntilRound(): number {
    if (this.roundTicks === null || this.raft.role !== 'leader') return Number.POSITIVE_INFINITY
    return this.roundTicks - (this.ticks % this.roundTicks)
  }

  tick(nowMs: number): void {
    this.ticks++
    if (this.pending !== null && nowMs >= this.pending.untilMs) this.pending = null
    if (!this.inRaftGroup) this.adoptPublished()
    if (this.raft.role !== 'leader') {
      this.wasLeader = false
      return
    }
    if (this.roundTicks !== null ? this.ticks % this.roundTicks !== 0 : nowMs - this.lastRoundMs < this.context.config.autopilotIntervalMs) return
    this.lastRoundMs = nowMs
    const status = this.raft.status()
    if (!this.wasLeader) {
      // A new leader gives every member a full deadVoterRemoveMs from now: it knows nothing older.
      this.lastHeardMs.clear()
      for (const id of [...status.voters, ...status.learners]) this.lastHeardMs.set(id, nowMs)
      this.wasLeader = true
    }
    for (const follower of status.followers) if (follower.recentActive || !this.lastHeardMs.has(follower.id)) this.lastHeardMs.set(follower.id, nowMs)
    // Until everything committed is applied, the configuration here may be older than the log's.
    if (status.applied < status.commit) return
    this.publish()
    const step = raftStep(this.applied, status.voters, status.learners, this.context.id)
    for (const id of [...this.removals.keys()]) if (!status.voters.includes(id) && !status.learners.includes(id)) this.removals.delete(id)
    if (step !== null && step.type === 'remove' && !this.removalReady(step.member, status, nowMs)) return
    if (step !== null) {
      this.raft.propose(step) // refused while Raft's last change is uncommitted or a learner is behind: tried again next round
      return
    }
    if (this.pending !== null) return
    const peers = new Map<NodeId, PeerProgress>()
    for (const follower of status.followers) peers.set(follower.id, { lastHeardMs: this.lastHeardMs.get(follower.id) ?? nowMs, lagEntries: follower.lag })
    const { config } = this.context
    const action = autopilotDecision({
      configuration: this.applied,
      leader: this.context.id,
      nowMs,
      peers,
      deadVoterRemoveMs: config.deadVoterRemoveMs,
      aliveWindowMs: this.aliveWindowMs,
      promoteLagEntriesMax: config.raft.promoteLagEntriesMax,
    })
    if (action === null) return this.replaceDeadPbftReplica(nowMs)
    const outcome = action.kind === 'promote' ? promoteLearner(this.applied, action.member) : removeMember(this.applied, action.member, () => true)
    if (!outcome.ok || outcome.next === 'unchanged') return
    if (this.proposeChange(null, outcome.next) !== null) return
    this.context.metrics[action.kind === 'promote' ? 'autopilotPromotions' : 'autopilotRemovals']++
    this.context.report({ source: 'replica', event: { kind: 'autopilot', action: action.kind, member: action.member, reason: action.reason } })
  }

  /** Autopilot for the PBFT target: a replica gossip has held dead for deadVoterRemoveMs is replaced by a live member with a key (autopilot.ts). */
  private replaceDeadPbftReplica(nowMs: number): void {
    const states = new Map(this.gossip.status().members.map((summary) => [summary.id, summary.state]))
    for (const id of [...this.pbftDeadSinceMs.keys()]) if (!this.applied.pbftReplicas.includes(id) || states.get(id) !== 'dead') this.pbftDeadSinceMs.delete(id)
    for (const id of this.applied.pbftReplicas) if (states.get(id) === 'dead' && !this.pbftDeadSinceMs.has(id)) this.pbftDeadSinceMs.set(id, nowMs)
    const replacement = pbftReplacement({
      configuration: this.applied,
      deadForMs: (id) => nowMs - (this.pbftDeadSinceMs.get(id) ?? nowMs),
      isAlive: (id) => id === this.context.id || states.get(id) === 'alive',
      deadVoterRemoveMs: this.context.config.deadVoterRemoveMs,
    })
    if (replacement === null) return
    const outcome = setPbftGroup(this.applied, replacement.replicas)
    if (!outcome.ok || outcome.next === 'unchanged' || this.proposeChange(null, outcome.next) !== null) return
    this.context.metrics.autopilotPbftReplacements++
    this.context.report({ source: 'replica', event: { kind: 'autopilot', action: 'replacePbftReplica', member: replacement.dead, reason: replacement.reason } })
  }
}

/**
 * The next step that brings Raft's voters and learners toward the
 * configuration's, one server at a time: members gone are removed first (the
 * leader itself last), then new ones added as learners, then learners the
 * configuration made voters promoted. A voter the configuration made a
 * learner is removed (and added back as a learner next).
 */
export function raftStep(c: ClusterConfiguration, voters: readonly NodeId[], learners: readonly NodeId[], self: NodeId): RaftCommand | null {
  const inRaft = [...voters, ...learners]
  const wanted = new Set([...c.raftVoters, ...c.raftLearners])
  const gone = inRaft.filter((id) => !wanted.has(id) || (voters.includes(id) && c.raftLearners.includes(id))).sort((a, b) => (a === self ? 1 : b === self ? -1 : a < b ? -1 : 1))
  if (gone.length > 0) return { type: 'remove', member: gone[0]! }
  const added = [...wanted].filter((id) => !inRaft.includes(id)).sort()
  if (added.length > 0) return { type: 'addLearner', member: added[0]! }
  const promoted = c.raftVoters.filter((id) => learners.includes(id)).sort()
  if (promoted.length > 0) return { type: 'promote', member: promoted[0]! }
  return null
}
