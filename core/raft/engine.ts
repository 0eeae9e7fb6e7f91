/**
 * Raft (Ongaro and Ousterhout; the dissertation for membership change and
 * reads), after etcd-io/raft, as a sans-IO engine driven by ticks.
 *
 * Roles: a follower that hears no leader for a randomized election timeout
 * first asks for pre-votes (would you vote for me?) without raising any term,
 * and only with a quorum of those campaigns for real; a leader replicates its
 * log with pipelined, batched appends, commits an index once a quorum holds it
 * and it is of the leader's term, and steps down when it has not heard from a
 * quorum for an election timeout (check-quorum). Followers that heard from a
 * leader within the election timeout ignore vote requests (leader stickiness),
 * which is what makes check-quorum and lease reads safe.
 *
 * Durability: term, vote and entries go out as Ready.writes with mustSync set,
 * in the same Ready as the messages that depend on them, and the host
 * persists before it sends (see core/ready.ts). A leader counts its own log
 * for commitment at once: its entries are durable before any apply of the
 * same Ready is made visible.
 *
 * Membership changes one server at a time (add as learner, promote when
 * caught up, remove), each taking effect when appended, the next allowed once
 * the previous is committed. Reads are linearizable through ReadIndex (a
 * heartbeat round confirms leadership) or, opt-in, through the leader's lease.
 */
import { assert } from '../lib/assert.ts'
import type { Rng } from '../lib/prng.ts'
import type { NodeId, StorageReader, StorageWrite } from '../ports.ts'
import { emptyReady, noTickWork, ReadyBuffer, type Engine, type Ready, type Refusal } from '../ready.ts'
import { encodeWith, decodeWith } from '../codec/envelope.ts'
import { defaultRaftConfig, raftLimits, type RaftConfig } from './config.ts'
import { hardStateRecord, RaftLog, snapshotRecord } from './log.ts'
import { readMembership, writeMembership, type Entry, type EntryKind, type Membership, type RaftMessage, type Snapshot } from './messages.ts'
import { Progress } from './progress.ts'
import type { RaftFollowerStatus, RaftMetrics, RaftRole, RaftStatus } from './status.ts'
import type { StateMachine } from '../stateMachine.ts'

export type { RaftFollowerStatus, RaftMetrics, RaftRole, RaftStatus } from './status.ts'

export type RaftCommand =
  | { readonly type: 'propose'; readonly data: Uint8Array }
  | { readonly type: 'read'; readonly readId: number; readonly query: Uint8Array }
  | { readonly type: 'addLearner' | 'promote' | 'remove'; readonly member: NodeId }
  | { readonly type: 'transferLeadership'; readonly to: NodeId }

export type RaftApplied =
  /** A committed entry, applied to the state machine in log order; `reply` is the state machine's answer to a command. */
  | { readonly type: 'entry'; readonly index: number; readonly term: number; readonly kind: EntryKind; readonly data: Uint8Array; readonly reply: Uint8Array | null }
  /** A linearizable read, answered at a state that includes every write committed before it was asked. */
  | { readonly type: 'read'; readonly readId: number; readonly index: number; readonly reply: Uint8Array }
  /** A read that cannot be answered here any more (leadership lost); the client may retry at the new leader. */
  | { readonly type: 'readFailed'; readonly readId: number; readonly reason: string }
  /** The state machine was replaced by a leader's snapshot. */
  | { readonly type: 'snapshotInstalled'; readonly index: number; readonly term: number }

export type RaftEvent =
  | { readonly kind: 'role'; readonly role: RaftRole; readonly term: number; readonly leader: NodeId | null }
  | { readonly kind: 'membership'; readonly index: number; readonly voters: readonly NodeId[]; readonly learners: readonly NodeId[] }
  | { readonly kind: 'snapshot'; readonly index: number; readonly how: 'taken' | 'installed' }
  /** The commit index moved (coalesced: at most one per Ready, with the latest index). */
  | { readonly kind: 'commit'; readonly index: number; readonly applied: number; readonly term: number }

/** A refusal; a follower's names the leader it knows, for the host to forward to. */
export interface RaftRefusal extends Refusal {
  readonly leader?: NodeId | null
}

export interface RaftEngineOptions {
  readonly id: NodeId
  /** The voters of a new group (ignored once storage holds a snapshot). A node joining later starts with none and learns the group from its leader. */
  readonly voters: readonly NodeId[]
  /** The learners of a new group, beside `voters` (ignored likewise). */
  readonly learners?: readonly NodeId[]
  readonly storage: StorageReader
  readonly rng: Rng
  readonly stateMachine: StateMachine
  readonly config?: RaftConfig
}

interface PendingRead {
  readonly readId: number
  readonly query: Uint8Array
  /** The commit index when the read arrived (-1: not known yet, see serveReads): the answer must reflect at least this. */
  index: number
  /** The heartbeat round that confirms leadership for it (0: confirmed). */
  round: number
}

/** Messages waiting for the host; beyond it a message is dropped (Raft retries everything it sends). */
const outboxMessagesMax = 4096
/** Heartbeat rounds whose send tick is remembered, for leases. */
const roundTicksKept = 256

export class RaftEngine implements Engine<RaftCommand, RaftMessage, RaftApplied, RaftEvent> {
  readonly id: NodeId
  private readonly metrics: RaftMetrics = { elections: 0, becameLeader: 0, proposals: 0, committed: 0, applied: 0, snapshotsTaken: 0, snapshotsInstalled: 0, messagesSent: 0, readsServed: 0 }
  private readonly config: RaftConfig
  private readonly rng: Rng
  private readonly stateMachine: StateMachine
  private readonly log: RaftLog
  private readonly hardState = hardStateRecord()
  private readonly snapshots = snapshotRecord()
  private currentRole: RaftRole = 'follower'
  private term = 0
  private vote = ''
  private currentLeader: NodeId | null = null
  private commit: number
  private applied: number
  /** The latest membership in the log (committed or not), and the index of the entry that set it. */
  private membership: Membership
  private membershipIndex: number
  /** The membership as of `applied`, which a snapshot records. */
  private appliedMembership: Membership
  private ticks = 0
  private electionElapsed = 0
  private randomizedElectionTicks = 0
  private heartbeatElapsed = 0
  private readonly votes = new Map<NodeId, boolean>()
  private readonly progress = new Map<NodeId, Progress>()
  private appendsPending = false
  private reads: PendingRead[] = []
  private round = 0
  private readonly roundSentTicks = new Map<number, number>()
  private roundPending = false
  private reportedRole: { role: RaftRole; term: number; leader: NodeId | null } = { role: 'follower', term: -1, leader: null }
  private transferee: NodeId | null = null
  /** The term in which this leader sent a TimeoutNow: its lease ends there (transfer votes ignore followers' leases). */
  private timeoutNowTerm = -1
  private transferElapsed = 0
  private writes: StorageWrite[] = []
  private mustSync = false
  /** Deletes of compacted entries: written only once the snapshot that replaces them is synced. */
  private deferredDeletes: StorageWrite[] = []
  /** The writes gathered for the next Ready hold a snapshot (so compacted entries' deletes wait). */
  private snapshotInReady = false
  private readonly matchesScratch: number[] = []
  private readonly out = new ReadyBuffer<RaftMessage, RaftApplied, RaftEvent>()
  /** The commit index the last `commit` event reported. */
  private reportedCommit = -1

  constructor(options: RaftEngineOptions) {
    this.id = options.id
    this.config = options.config ?? defaultRaftConfig
    this.rng = options.rng
    this.stateMachine = options.stateMachine
    assert(this.config.heartbeatTicks < this.config.electionTicksMin, 'raft config needs heartbeatTicks < electionTicksMin')
    const hard = this.hardState.load(options.storage)
    const { log, writes } = RaftLog.load(options.storage, this.snapshots)
    this.log = log
    this.writes.push(...writes)
    if (hard !== undefined) {
      this.term = hard.term
      this.vote = hard.vote
    }
    if (log.snapshot.index === 0 && log.snapshot.membership.voters.length === 0) {
      log.snapshot = { ...log.snapshot, membership: { voters: [...options.voters].sort(), learners: [...(options.learners ?? [])].sort() } }
    }
    this.stateMachine.restore(log.snapshot.data)
    this.commit = log.snapshot.index
    this.applied = log.snapshot.index
    this.appliedMembership = log.snapshot.membership
    this.membership = log.snapshot.membership
    this.membershipIndex = log.snapshot.index
    this.refreshMembership()
    this.resetElectionTimer()
  }

  /** This node's role; the host routes client commands by it. */
  get role(): RaftRole {
    return this.currentRole
  }

  /** The leader this node knows of (itself when it leads; null: none known). */
  get leader(): NodeId | null {
    return this.currentLeader
  }

  /** Whether `id` is a voter or learner of the latest membership in the log (cheap: no status copy). */
  hasMember(id: NodeId): boolean {
    return this.membership.voters.includes(id) || this.membership.learners.includes(id)
  }

  /** What this node knows, as plain data (copies; etcd's Status). */
  status(): RaftStatus {
    const { snapshot } = this.log
    return {
      id: this.id,
      role: this.currentRole,
      term: this.term,
      vote: this.vote === '' ? null : this.vote,
      leader: this.currentLeader,
      commit: this.commit,
      applied: this.applied,
      firstIndex: this.log.firstIndex,
      lastIndex: this.log.lastIndex,
      lastTerm: this.log.lastTerm,
      snapshot: { index: snapshot.index, term: snapshot.term, voters: [...snapshot.membership.voters], learners: [...snapshot.membership.learners] },
      voters: [...this.membership.voters],
      learners: [...this.membership.learners],
      transferee: this.transferee,
      followers: this.followerStatuses(),
      metrics: { ...this.metrics },
    }
  }

  /**
   * A copy of the log entry at `index`, or undefined when it is compacted
   * away (at or before status().snapshot.index) or beyond the end. For
   * viewers and checkers that read the log; status() gives its bounds.
   */
  entry(index: number): Entry | undefined {
    const entry = this.log.entry(index)
    return entry === undefined ? undefined : { ...entry, data: entry.data.slice() }
  }

  private followerStatuses(): RaftFollowerStatus[] {
    if (this.currentRole !== 'leader') return []
    const lastIndex = this.log.lastIndex
    return [...this.progress]
      .filter(([id]) => id !== this.id)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([id, progress]) => ({ id, match: progress.match, next: progress.next, state: progress.state, inflight: progress.inflight.length, lag: lastIndex - progress.match, recentActive: progress.recentActive }))
  }

  // ---- inputs ----

  tick(): void {
    this.out.assertIdle('tick')
    this.ticks++
    if (this.currentRole === 'leader') return this.tickLeader()
    this.electionElapsed++
    if (this.electionElapsed >= this.randomizedElectionTicks && this.isVoter(this.id)) this.campaign(false)
  }

  /**
   * Ticks until a tick may have work (core/ready.ts): a leader's next
   * heartbeat, check-quorum or transfer deadline; a voter's election timeout.
   * A learner's ticks never do anything.
   */
  ticksUntilWork(): number {
    if (this.currentRole === 'leader') {
      const heartbeat = this.config.heartbeatTicks - this.heartbeatElapsed
      const checkQuorum = this.config.electionTicksMin - this.electionElapsed
      const transfer = this.transferee === null ? noTickWork : this.config.transferTicksMax + 1 - this.transferElapsed
      return Math.max(1, Math.min(heartbeat, checkQuorum, transfer))
    }
    if (!this.isVoter(this.id)) return noTickWork
    return Math.max(1, this.randomizedElectionTicks - this.electionElapsed)
  }

  propose(command: RaftCommand): RaftRefusal | null {
    this.out.assertIdle('propose')
    if (this.currentRole !== 'leader') return { code: 'notLeader', message: this.currentLeader === null ? 'no leader is known' : `the leader is ${this.currentLeader}`, leader: this.currentLeader }
    if (this.transferee !== null && command.type !== 'read') return { code: 'transferring', message: `leadership is moving to ${this.transferee}`, leader: this.currentLeader }
    switch (command.type) {
      case 'propose':
        if (command.data.length > raftLimits.entryBytesMax) return { code: 'tooLarge', message: `entry is ${command.data.length} bytes; entryBytesMax is ${raftLimits.entryBytesMax}` }
        return this.appendOwn('command', command.data)
      case 'read':
        return this.startRead(command.readId, command.query)
      case 'transferLeadership':
        return this.startTransfer(command.to)
      default:
        return this.changeMembership(command.type, command.member)
    }
  }

  step(from: NodeId, message: RaftMessage): Refusal | null {
    this.out.assertIdle('step')
    if (message.term > this.term) {
      const isVoteRequest = message.type === 'preVote' || message.type === 'vote'
      // Stickiness: while a leader is heard from, vote requests are ignored (unless a transfer asked for them).
      if (isVoteRequest && this.inLease() && !message.transfer) return null
      const keepsTerm = message.type === 'preVote' || (message.type === 'preVoteResp' && message.granted)
      if (!keepsTerm) {
        const fromLeader = message.type === 'append' || message.type === 'heartbeat' || message.type === 'snapshot'
        this.becomeFollower(message.term, fromLeader ? from : null)
      }
    } else if (message.term < this.term) {
      // Tell a stale leader or candidate about the newer term, so that it steps down.
      if (message.type === 'append' || message.type === 'heartbeat') this.send(from, { type: 'appendResp', term: this.term, success: false, index: 0, hintIndex: 0, hintTerm: 0 })
      else if (message.type === 'preVote') this.send(from, { type: 'preVoteResp', term: this.term, granted: false })
      return null
    }
    switch (message.type) {
      case 'preVote':
      case 'vote':
        return this.handleVoteRequest(from, message)
      case 'preVoteResp':
      case 'voteResp':
        return this.handleVoteResponse(from, message.type, message.term, message.granted)
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        if (this.currentRole === 'leader') return { code: 'twoLeaders', message: `${from} claims to lead term ${message.term}, as this node does` }
        if (this.currentRole !== 'follower') this.becomeFollower(message.term, from)
        this.setRole('follower', this.term, from)
        this.electionElapsed = 0
        if (message.type === 'append') this.handleAppend(from, message)
        else if (message.type === 'heartbeat') this.handleHeartbeat(from, message.commit, message.readSeq)
        else this.handleSnapshot(from, message.snapshot)
        return null
      case 'appendResp':
        if (this.currentRole === 'leader') this.handleAppendResponse(from, message)
        return null
      case 'heartbeatResp':
        if (this.currentRole === 'leader') this.handleHeartbeatResponse(from, message.readSeq)
        return null
      case 'timeoutNow':
        if (this.currentRole !== 'leader' && this.isVoter(this.id)) this.campaign(true)
        return null
    }
  }

  // ---- elections ----

  private inLease(): boolean {
    return this.config.checkQuorum && this.currentLeader !== null && this.electionElapsed < this.config.electionTicksMin
  }

  private resetElectionTimer(): void {
    this.electionElapsed = 0
    this.randomizedElectionTicks = this.config.electionTicksMin + this.rng.int(this.config.electionTicksMin)
  }

  private campaign(transfer: boolean): void {
    if (this.config.preVote && !transfer) {
      this.setRole('preCandidate', this.term, null)
      this.resetElectionTimer()
      this.votes.clear()
      this.votes.set(this.id, true)
      if (this.tallyElection() === 'won') return this.becomeCandidate(false)
      for (const voter of this.otherVoters()) this.send(voter, { type: 'preVote', term: this.term + 1, lastIndex: this.log.lastIndex, lastTerm: this.log.lastTerm, transfer: false })
      return
    }
    this.becomeCandidate(transfer)
  }

  private becomeCandidate(transfer: boolean): void {
    this.metrics.elections++
    this.setHardState(this.term + 1, this.id)
    this.setRole('candidate', this.term, null)
    this.resetElectionTimer()
    this.votes.clear()
    this.votes.set(this.id, true)
    if (this.tallyElection() === 'won') return this.becomeLeader()
    for (const voter of this.otherVoters()) this.send(voter, { type: 'vote', term: this.term, lastIndex: this.log.lastIndex, lastTerm: this.log.lastTerm, transfer })
  }

  private handleVoteRequest(from: NodeId, message: Extract<RaftMessage, { type: 'preVote' | 'vote' }>): null {
    const canVote = this.vote === from || (this.vote === '' && this.currentLeader === null) || (message.type === 'preVote' && message.term > this.term)
    const granted = canVote && this.log.isUpToDate(message.lastIndex, message.lastTerm)
    if (message.type === 'preVote') {
      // A granted pre-vote answers at the asked term, so the pre-candidate counts it.
      this.send(from, { type: 'preVoteResp', term: granted ? message.term : this.term, granted })
      return null
    }
    if (granted) {
      this.electionElapsed = 0
      this.setHardState(this.term, from)
    }
    this.send(from, { type: 'voteResp', term: this.term, granted })
    return null
  }

  private handleVoteResponse(from: NodeId, type: 'preVoteResp' | 'voteResp', term: number, granted: boolean): null {
    if (type === 'preVoteResp') {
      // Granted pre-votes come at the asked term; refusals at the voter's own (not above ours, or we would have stepped down).
      if (this.currentRole !== 'preCandidate' || (granted && term !== this.term + 1)) return null
    } else if (this.currentRole !== 'candidate' || term !== this.term) return null
    if (!this.isVoter(from)) return null
    this.votes.set(from, granted)
    const outcome = this.tallyElection()
    if (outcome === 'won') {
      if (this.currentRole === 'preCandidate') this.becomeCandidate(false)
      else this.becomeLeader()
    } else if (outcome === 'lost') this.becomeFollower(this.term, null)
    return null
  }

  private tallyElection(): 'won' | 'lost' | 'open' {
    let granted = 0
    let rejected = 0
    for (const voter of this.membership.voters) {
      const vote = this.votes.get(voter)
      if (vote === true) granted++
      else if (vote === false) rejected++
    }
    const quorum = this.quorum()
    return granted >= quorum ? 'won' : rejected >= quorum ? 'lost' : 'open'
  }

  private becomeFollower(term: number, leader: NodeId | null): void {
    const wasLeader = this.currentRole === 'leader'
    if (term !== this.term) this.setHardState(term, '')
    this.setRole('follower', term, leader)
    this.resetElectionTimer()
    this.progress.clear()
    this.transferee = null
    if (wasLeader) this.failReads('leadership lost')
  }

  private becomeLeader(): void {
    this.metrics.becameLeader++
    this.setRole('leader', this.term, this.id)
    // Aligned: as if the last heartbeat and check had been at the last multiple of heartbeatTicks.
    const phase = this.config.alignHeartbeats === true ? this.ticks % this.config.heartbeatTicks : 0
    this.heartbeatElapsed = phase
    this.electionElapsed = phase
    this.progress.clear()
    for (const member of this.members()) if (member !== this.id) this.progress.set(member, new Progress(this.log.lastIndex + 1))
    // An entry of its own term lets the leader commit (and learn the commit index) at once (§8).
    this.appendOwn('noop', new Uint8Array(0))
  }

  /** Sets role and leader; every change of (role, term, leader) is reported once, whatever changed the term before. */
  private setRole(role: RaftRole, term: number, leader: NodeId | null): void {
    this.currentRole = role
    this.currentLeader = leader
    const last = this.reportedRole
    if (last.role === role && last.term === term && last.leader === leader) return
    this.reportedRole = { role, term, leader }
    this.out.addEvent({ kind: 'role', role, term, leader })
  }

  private setHardState(term: number, vote: NodeId | ''): void {
    this.term = term
    this.vote = vote
    this.writes.push(this.hardState.write({ term, vote }))
    this.mustSync = true
  }

  // ---- replication: leader ----

  private tickLeader(): void {
    this.heartbeatElapsed++
    this.electionElapsed++
    if (this.transferee !== null && ++this.transferElapsed > this.config.transferTicksMax) this.transferee = null
    if (this.electionElapsed >= this.config.electionTicksMin) {
      this.electionElapsed = 0
      if (this.config.checkQuorum && !this.quorumActive()) return this.becomeFollower(this.term, null)
    }
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0
      this.roundPending = true
    }
  }

  /** Check-quorum: whether a quorum of voters was heard from since the last check; resets the marks. */
  private quorumActive(): boolean {
    let active = 0
    for (const voter of this.membership.voters) {
      if (voter === this.id) active++
      else if (this.progress.get(voter)?.recentActive === true) active++
    }
    for (const progress of this.progress.values()) progress.recentActive = false
    return active >= this.quorum()
  }

  private appendOwn(kind: EntryKind, data: Uint8Array): RaftRefusal | null {
    if (this.log.lastIndex - this.commit >= raftLimits.uncommittedEntriesMax) return { code: 'overloaded', message: `uncommittedEntriesMax=${raftLimits.uncommittedEntriesMax} entries wait for commitment` }
    const entry: Entry = { term: this.term, index: this.log.lastIndex + 1, kind, data }
    this.log.append(entry)
    this.mustSync = true
    if (kind === 'command') this.metrics.proposals++
    if (kind === 'config') this.refreshMembership()
    this.appendsPending = true
    // Alone in the group, its own durable entry is a quorum; otherwise only acknowledgements commit.
    if (this.quorum() === 1) this.maybeCommit()
    return null
  }

  /** Sends what each follower can take now (batched: one append carries every entry proposed since the last Ready). */
  private flushAppends(): void {
    if (this.currentRole !== 'leader') return
    if (this.appendsPending) {
      this.appendsPending = false
      for (const peer of this.progress.keys()) this.sendAppend(peer, true)
    }
    if (this.roundPending) {
      this.roundPending = false
      this.broadcastHeartbeat()
    }
  }

  private sendAppend(to: NodeId, sendEmpty: boolean): void {
    const progress = this.progress.get(to)!
    if (progress.isPaused(this.config.inflightMessagesMax)) return
    const prevIndex = progress.next - 1
    const prevTerm = this.log.term(prevIndex)
    if (prevTerm === undefined) {
      // What it needs is compacted away: send the snapshot instead.
      progress.becomeSnapshot(this.log.snapshot.index, this.ticks)
      this.send(to, { type: 'snapshot', term: this.term, snapshot: this.log.snapshot })
      return
    }
    const entries = this.log.slice(progress.next, this.config.entriesPerMessageMax, this.config.appendBytesMax)
    if (entries.length === 0 && !sendEmpty && progress.state === 'replicate') return
    this.send(to, { type: 'append', term: this.term, prevIndex, prevTerm, commit: this.commit, entries })
    const last = prevIndex + entries.length
    if (progress.state === 'replicate') {
      if (entries.length > 0) {
        progress.next = last + 1
        progress.inflight.push(last)
      }
    } else progress.probeSent = true
  }

  private handleAppendResponse(from: NodeId, message: Extract<RaftMessage, { type: 'appendResp' }>): void {
    const progress = this.progress.get(from)
    if (progress === undefined) return
    progress.recentActive = true
    if (!message.success) {
      const hint = message.hintTerm > 0 ? this.log.findConflictByTerm(message.hintIndex, message.hintTerm) : message.hintIndex
      if (progress.maybeDecrease(message.index, hint)) this.sendAppend(from, true)
      return
    }
    const wasBehind = progress.match < this.log.lastIndex
    // A probe acknowledged at the known match (as after a snapshot) still shows where the logs agree: replicate from there.
    if (!progress.maybeUpdate(message.index) && !(progress.state === 'probe' && message.index === progress.match)) return
    if (progress.state === 'probe') progress.becomeReplicate()
    else if (progress.state === 'snapshot' && progress.match >= progress.pendingSnapshot) progress.becomeProbe()
    if (this.maybeCommit()) this.appendsPending = true
    else if (wasBehind) this.sendAppend(from, false)
    if (from === this.transferee && progress.match === this.log.lastIndex) this.sendTimeoutNow(from)
  }

  private handleHeartbeatResponse(from: NodeId, round: number): void {
    const progress = this.progress.get(from)
    if (progress === undefined) return
    progress.recentActive = true
    progress.ackedRound = Math.max(progress.ackedRound, round)
    if (progress.state === 'probe') progress.probeSent = false
    // A full window may be all lost appends: let one more through, whose answer (or refusal) unblocks it.
    if (progress.state === 'replicate' && progress.inflight.length >= this.config.inflightMessagesMax) progress.inflight.shift()
    if (progress.state === 'snapshot' && this.ticks - progress.snapshotSentTick >= this.config.electionTicksMin) progress.becomeProbe() // the snapshot was lost: try again
    // Behind: send even an empty append, so that a follower that lost our appends says where it stands.
    if (progress.match < this.log.lastIndex) this.sendAppend(from, true)
    this.serveReads()
  }

  private broadcastHeartbeat(): void {
    this.round++
    this.roundSentTicks.set(this.round, this.ticks)
    this.roundSentTicks.delete(this.round - roundTicksKept)
    for (const [peer, progress] of this.progress) {
      // A follower may commit only what it is known to hold.
      this.send(peer, { type: 'heartbeat', term: this.term, commit: Math.min(progress.match, this.commit), readSeq: this.round })
    }
    this.serveReads()
  }

  /** Commits the highest index a quorum of voters holds, if it is of this term (§5.4.2). */
  private maybeCommit(): boolean {
    const matches = this.matchesScratch
    matches.length = 0
    for (const voter of this.membership.voters) matches.push(voter === this.id ? this.log.lastIndex : (this.progress.get(voter)?.match ?? 0))
    const quorumIndex = quorumValue(matches, this.quorum())
    if (quorumIndex <= this.commit || this.log.term(quorumIndex) !== this.term) return false
    this.commitTo(quorumIndex)
    return true
  }

  // ---- replication: follower ----

  private handleAppend(from: NodeId, message: Extract<RaftMessage, { type: 'append' }>): void {
    if (message.prevIndex < this.commit) {
      this.send(from, { type: 'appendResp', term: this.term, success: true, index: this.commit, hintIndex: 0, hintTerm: 0 })
      return
    }
    if (this.log.term(message.prevIndex) !== message.prevTerm) {
      // Fast backtracking: point the leader at the last index whose term is not above its prevTerm.
      const hintIndex = this.log.findConflictByTerm(Math.min(message.prevIndex, this.log.lastIndex), message.prevTerm)
      this.send(from, { type: 'appendResp', term: this.term, success: false, index: message.prevIndex, hintIndex, hintTerm: this.log.term(hintIndex) ?? 0 })
      return
    }
    const { changed, truncatedFrom } = this.log.appendFollowing(message.entries)
    assert(truncatedFrom === null || truncatedFrom > this.commit, `a committed entry would be truncated at ${truncatedFrom}`)
    if (changed) this.mustSync = true
    if (truncatedFrom !== null || holdsConfig(message.entries)) this.refreshMembership()
    const lastNew = message.prevIndex + message.entries.length
    this.commitTo(Math.min(message.commit, lastNew))
    this.send(from, { type: 'appendResp', term: this.term, success: true, index: lastNew, hintIndex: 0, hintTerm: 0 })
  }

  private handleHeartbeat(from: NodeId, commit: number, round: number): void {
    this.commitTo(Math.min(commit, this.log.lastIndex))
    this.send(from, { type: 'heartbeatResp', term: this.term, readSeq: round })
  }

  private handleSnapshot(from: NodeId, snapshot: Snapshot): void {
    if (snapshot.index <= this.commit) {
      this.send(from, { type: 'appendResp', term: this.term, success: true, index: this.commit, hintIndex: 0, hintTerm: 0 })
      return
    }
    if (this.log.term(snapshot.index) === snapshot.term) {
      // The log already holds everything the snapshot covers: just commit up to it.
      this.commitTo(snapshot.index)
    } else {
      this.metrics.snapshotsInstalled++
      this.writes.push(this.snapshots.write(snapshot))
      this.mustSync = true
      this.snapshotInReady = true
      this.deferredDeletes.push(...this.log.install(snapshot))
      this.stateMachine.restore(snapshot.data)
      this.commit = snapshot.index
      this.applied = snapshot.index
      this.appliedMembership = snapshot.membership
      this.refreshMembership()
      this.out.addApplied({ type: 'snapshotInstalled', index: snapshot.index, term: snapshot.term })
      this.out.addEvent({ kind: 'snapshot', index: snapshot.index, how: 'installed' })
    }
    this.send(from, { type: 'appendResp', term: this.term, success: true, index: snapshot.index, hintIndex: 0, hintTerm: 0 })
  }

  // ---- commit, apply, snapshots ----

  private commitTo(index: number): void {
    if (index <= this.commit) return
    assert(index <= this.log.lastIndex, `commit ${index} beyond the log's end ${this.log.lastIndex}`)
    this.metrics.committed += index - this.commit
    this.commit = index
    this.applyCommitted()
  }

  private applyCommitted(): void {
    while (this.applied < this.commit) {
      const entry = this.log.entry(this.applied + 1)!
      this.applied++
      this.metrics.applied++
      if (entry.kind === 'command') this.out.addApplied({ type: 'entry', index: entry.index, term: entry.term, kind: entry.kind, data: entry.data, reply: this.stateMachine.apply(entry.data) })
      else if (entry.kind === 'config') this.appliedMembership = decodeMembership(entry.data)
    }
    if (this.currentRole === 'leader') {
      this.serveReads()
      // A leader whose removal is committed steps down; the rest elect a new one.
      if (!this.isVoter(this.id) && this.membershipIndex <= this.commit) this.becomeFollower(this.term, null)
    }
    if (this.applied - this.log.snapshot.index >= this.config.snapshotEntries) this.takeSnapshot()
  }

  private takeSnapshot(): void {
    const snapshot: Snapshot = { index: this.applied, term: this.log.term(this.applied)!, membership: this.appliedMembership, data: this.stateMachine.snapshot() }
    assert(snapshot.data.length <= raftLimits.snapshotBytesMax, `a snapshot of ${snapshot.data.length} bytes exceeds snapshotBytesMax`)
    this.writes.push(this.snapshots.write(snapshot))
    this.mustSync = true
    this.snapshotInReady = true
    this.deferredDeletes.push(...this.log.compact(snapshot))
    this.metrics.snapshotsTaken++
    this.out.addEvent({ kind: 'snapshot', index: snapshot.index, how: 'taken' })
  }

  // ---- membership ----

  private members(): NodeId[] {
    return [...this.membership.voters, ...this.membership.learners]
  }

  private isVoter(id: NodeId): boolean {
    return this.membership.voters.includes(id)
  }

  private otherVoters(): NodeId[] {
    return this.membership.voters.filter((voter) => voter !== this.id)
  }

  private quorum(): number {
    return Math.floor(this.membership.voters.length / 2) + 1
  }

  /** Takes the latest membership in the log (it is in effect from the moment it is appended). */
  private refreshMembership(): void {
    let index = this.log.lastIndex
    while (index > this.log.snapshot.index && this.log.entry(index)!.kind !== 'config') index--
    const membership = index > this.log.snapshot.index ? decodeMembership(this.log.entry(index)!.data) : this.log.snapshot.membership
    const changed = index !== this.membershipIndex || membership !== this.membership
    this.membership = membership
    this.membershipIndex = index
    if (!changed) return
    this.out.addEvent({ kind: 'membership', index, voters: membership.voters, learners: membership.learners })
    if (this.currentRole !== 'leader') return
    for (const member of this.members()) if (member !== this.id && !this.progress.has(member)) this.progress.set(member, new Progress(this.log.lastIndex + 1))
    for (const peer of [...this.progress.keys()]) if (!this.members().includes(peer)) this.progress.delete(peer)
  }

  private changeMembership(change: 'addLearner' | 'promote' | 'remove', member: NodeId): RaftRefusal | null {
    if (this.membershipIndex > this.commit) return { code: 'changePending', message: `the membership change at ${this.membershipIndex} is not committed yet` }
    const { voters, learners } = this.membership
    let next: Membership
    if (change === 'addLearner') {
      if (voters.includes(member) || learners.includes(member)) return { code: 'alreadyMember', message: `${member} is a member already` }
      if (voters.length + learners.length >= raftLimits.membersMax) return { code: 'tooManyMembers', message: `membersMax=${raftLimits.membersMax}` }
      next = { voters, learners: [...learners, member].sort() }
    } else if (change === 'promote') {
      if (!learners.includes(member)) return { code: 'notLearner', message: `${member} is not a learner` }
      const lag = this.log.lastIndex - (this.progress.get(member)?.match ?? 0)
      if (lag > this.config.promoteLagEntriesMax) return { code: 'learnerBehind', message: `${member} is ${lag} entries behind (promoteLagEntriesMax=${this.config.promoteLagEntriesMax})` }
      next = { voters: [...voters, member].sort(), learners: learners.filter((id) => id !== member) }
    } else {
      if (!voters.includes(member) && !learners.includes(member)) return { code: 'notMember', message: `${member} is not a member` }
      if (voters.length === 1 && voters[0] === member) return { code: 'lastVoter', message: 'the last voter cannot be removed' }
      next = { voters: voters.filter((id) => id !== member), learners: learners.filter((id) => id !== member) }
    }
    return this.appendOwn('config', encodeWith(next, writeMembership))
  }

  private startTransfer(to: NodeId): RaftRefusal | null {
    if (to === this.id) return { code: 'alreadyLeader', message: `${to} leads already` }
    if (!this.isVoter(to)) return { code: 'notVoter', message: `${to} is not a voter` }
    this.transferee = to
    this.transferElapsed = 0
    if (this.progress.get(to)!.match === this.log.lastIndex) this.sendTimeoutNow(to)
    else this.sendAppend(to, true)
    return null
  }

  private sendTimeoutNow(to: NodeId): void {
    this.timeoutNowTerm = this.term
    this.send(to, { type: 'timeoutNow', term: this.term })
  }

  // ---- reads ----

  private startRead(readId: number, query: Uint8Array): RaftRefusal | null {
    if (this.reads.length >= raftLimits.pendingReadsMax) return { code: 'overloaded', message: `pendingReadsMax=${raftLimits.pendingReadsMax} reads wait` }
    const committedInTerm = this.log.term(this.commit) === this.term
    const read: PendingRead = { readId, query, index: committedInTerm ? this.commit : -1, round: 0 }
    if (!(this.config.leaseReads && this.leaseValid())) {
      read.round = this.round + 1
      this.roundPending = true
    }
    this.reads.push(read)
    this.serveReads()
    return null
  }

  /** Lease: a quorum heard a heartbeat of ours sent less than an election timeout ago, so none of them votes for another leader yet. */
  private leaseValid(): boolean {
    // A transfer's election ignores the followers' leases, so after a TimeoutNow ours means nothing.
    if (!this.config.checkQuorum || this.timeoutNowTerm === this.term) return false
    const sentTicks = this.membership.voters.map((voter) => (voter === this.id ? this.ticks : (this.roundSentTicks.get(this.progress.get(voter)?.ackedRound ?? 0) ?? Number.NEGATIVE_INFINITY))).sort((a, b) => b - a)
    return this.ticks - (sentTicks[this.quorum() - 1] ?? Number.NEGATIVE_INFINITY) < this.config.electionTicksMin
  }

  /** Answers every read whose leadership round a quorum confirmed and whose index is applied. */
  private serveReads(): void {
    if (this.reads.length === 0 || this.currentRole !== 'leader') return
    // Until an entry of this term is committed, the commit index may lag what earlier leaders committed.
    if (this.log.term(this.commit) !== this.term) return
    const confirmedRound = this.confirmedRound()
    const waiting: PendingRead[] = []
    for (const read of this.reads) {
      // A read that came before this term's first commit takes the commit index known now, which
      // covers every write acknowledged before it (they are all in this leader's log, below its entry).
      if (read.index < 0) read.index = this.commit
      if (read.round > confirmedRound || this.applied < read.index) {
        waiting.push(read)
        continue
      }
      this.metrics.readsServed++
      this.out.addApplied({ type: 'read', readId: read.readId, index: read.index, reply: this.stateMachine.query(read.query) })
    }
    this.reads = waiting
  }

  /** The latest heartbeat round a quorum of voters answered (the leader answers its own at once). */
  private confirmedRound(): number {
    const rounds = this.membership.voters.map((voter) => (voter === this.id ? this.round : (this.progress.get(voter)?.ackedRound ?? 0))).sort((a, b) => b - a)
    return rounds[this.quorum() - 1] ?? 0
  }

  private failReads(reason: string): void {
    for (const read of this.reads) this.out.addApplied({ type: 'readFailed', readId: read.readId, reason })
    this.reads = []
  }

  // ---- host interface ----

  private send(to: NodeId, message: RaftMessage): void {
    if (this.out.send(to, message, outboxMessagesMax)) this.metrics.messagesSent++
  }

  hasReady(): boolean {
    if (this.out.isHandedOut) return false
    return this.writes.length > 0 || this.log.hasWrites || this.deferredDeletes.length > 0 || this.out.hasPending || this.commit !== this.reportedCommit || (this.currentRole === 'leader' && (this.appendsPending || this.roundPending))
  }

  ready(): Ready<RaftMessage, RaftApplied, RaftEvent> {
    if (!this.out.isHandedOut && !this.hasReady()) return emptyReady
    this.flushAppends()
    // The entries appended since the last Ready go out as one record per run (log.ts).
    let writes = this.log.hasWrites ? (this.writes.length === 0 ? this.log.takeWrites() : this.writes.concat(this.log.takeWrites())) : this.writes
    // Deletes wait one Ready when this one syncs the snapshot that replaces them.
    if (this.deferredDeletes.length > 0 && !this.snapshotInReady) {
      writes = writes.length === 0 ? this.deferredDeletes : writes.concat(this.deferredDeletes)
      this.deferredDeletes = []
    }
    this.snapshotInReady = false
    if (this.commit !== this.reportedCommit) {
      this.reportedCommit = this.commit
      this.out.addEvent({ kind: 'commit', index: this.commit, applied: this.applied, term: this.term })
    }
    const ready = this.out.handOut(writes, this.mustSync)
    if (this.writes.length > 0) this.writes = []
    this.mustSync = false
    return ready
  }

  advance(ready: Ready<RaftMessage, RaftApplied, RaftEvent>): void {
    this.out.advance(ready)
  }
}

/**
 * The value a quorum reaches: the `quorum`-th largest of `values` (reordered
 * in place). An insertion sort: a group has at most raftLimits.membersMax
 * members, and sort() with a comparator costs more than the whole sort for so few.
 */
function quorumValue(values: number[], quorum: number): number {
  for (let index = 1; index < values.length; index++) {
    const value = values[index]!
    let at = index
    while (at > 0 && values[at - 1]! < value) {
      values[at] = values[at - 1]!
      at--
    }
    values[at] = value
  }
  return values[quorum - 1] ?? 0
}

function holdsConfig(entries: readonly Entry[]): boolean {
  for (let index = 0; index < entries.length; index++) if (entries[index]!.kind === 'config') return true
  return false
}

function decodeMembership(data: Uint8Array): Membership {
  const decoded = decodeWith(data, readMembership, 'membership')
  assert(decoded.ok, 'a config entry holds a membership')
  return decoded.value
}
