/**
 * Planted bugs: realistic one-line mutations of core/, kept as data. Each one
 * is a text replacement that the runner (run.ts, `npm run mutants`) applies to
 * a copy of the tree, never to core/ itself, before it runs the targeted
 * `dwcp sim` scenario seed by seed until a run fails (caught) or `seedsMax`
 * seeds pass (survived).
 *
 * To add one: find the line in core/, copy an exact snippet of it into `find`
 * (it must occur exactly once in that file; take a longer snippet, even across
 * lines, if it does not), write the bug into `replace`, and name the scenario
 * whose checkers should notice. catalog.test.ts keeps every `find` honest
 * against the current tree.
 */

export interface Mutant {
  /** kebab-case, unique. */
  readonly name: string
  /** One sentence: the realistic bug. */
  readonly description: string
  /** Repo-relative path of the mutated file, under core/. */
  readonly file: string
  /** An exact snippet that occurs exactly once in `file`. */
  readonly find: string
  /** What the snippet becomes. */
  readonly replace: string
  /** The `dwcp sim` scenario that should catch it. */
  readonly scenario: string
  /** Further `dwcp sim` arguments (not --seed, --seeds or --json, which the runner sets). */
  readonly args: readonly string[]
  /** Seeds run (from 1) before the mutant counts as survived; default `defaultSeedsMax`. */
  readonly seedsMax?: number
  /** Seeds run by one `dwcp sim` process; default `defaultSeedBatch`. */
  readonly seedBatch?: number
}

/** Seeds a mutant must survive to count as survived (the target: caught within 20 seeds). */
export const defaultSeedsMax = 20
/** Seeds per `dwcp sim` process: fewer wasted seeds after a catch, more process start-ups (about 1 s each). */
export const defaultSeedBatch = 5

export const catalog: readonly Mutant[] = [
  // ----- Raft -----
  {
    name: 'raft-figure8-commit-earlier-term',
    description: 'The leader commits any index a quorum holds, also an entry of an earlier term (the figure-8 rule of §5.4.2 dropped).',
    file: 'core/raft/engine.ts',
    find: 'if (quorumIndex <= this.commit || this.log.term(quorumIndex) !== this.term) return false',
    replace: 'if (quorumIndex <= this.commit) return false',
    scenario: 'raft',
    args: ['--nodes', '5'],
  },
  {
    name: 'raft-follower-acks-unsynced',
    description: 'A follower acknowledges appended entries without syncing them (mustSync not set), so a crash loses entries the leader counted.',
    file: 'core/raft/engine.ts',
    find: '    if (changed) this.mustSync = true\n    if (truncatedFrom !== null',
    replace: '    if (truncatedFrom !== null',
    scenario: 'raft',
    args: ['--nodes', '5'],
  },
  {
    name: 'raft-readindex-unconfirmed',
    description: 'ReadIndex answers a read at the commit index without waiting for a heartbeat round to confirm leadership.',
    file: 'core/raft/engine.ts',
    find: 'if (read.round > confirmedRound || this.applied < read.index) {',
    replace: 'if (this.applied < read.index) {',
    scenario: 'raft',
    args: ['--nodes', '5'],
  },
  {
    name: 'raft-lease-never-expires',
    description: 'A lease read checks that check-quorum is on but not when the quorum last acknowledged a heartbeat, so the lease never expires.',
    file: 'core/raft/engine.ts',
    find: 'return this.ticks - (sentTicks[this.quorum() - 1] ?? Number.NEGATIVE_INFINITY) < this.config.electionTicksMin',
    replace: 'return sentTicks.length > 0',
    scenario: 'raft',
    args: ['--nodes', '5'],
  },
  {
    name: 'raft-quorum-off-by-one',
    description: 'The quorum is ⌊n/2⌋ voters instead of ⌊n/2⌋+1, so two disjoint quorums exist.',
    file: 'core/raft/engine.ts',
    find: 'return Math.floor(this.membership.voters.length / 2) + 1',
    replace: 'return Math.floor(this.membership.voters.length / 2)',
    scenario: 'raft',
    args: ['--nodes', '5'],
  },
  {
    name: 'raft-vote-ignores-log',
    description: "A vote (and pre-vote) is granted without checking that the candidate's log is at least as up to date.",
    file: 'core/raft/engine.ts',
    find: 'const granted = canVote && this.log.isUpToDate(message.lastIndex, message.lastTerm)',
    replace: 'const granted = canVote',
    scenario: 'raft',
    args: ['--nodes', '5'],
  },
  {
    name: 'raft-stale-append-accepted',
    description: 'An append from an older term is answered with the newer term but then handled as if it came from the current leader.',
    file: 'core/raft/engine.ts',
    find: "else if (message.type === 'preVote') this.send(from, { type: 'preVoteResp', term: this.term, granted: false })\n      return null",
    replace: "else if (message.type === 'preVote') this.send(from, { type: 'preVoteResp', term: this.term, granted: false })\n      if (message.type !== 'append') return null",
    scenario: 'raft',
    args: ['--nodes', '5'],
  },
  // Left out as an equivalent mutant (not a bug of this engine): a follower committing up to
  // min(leader commit, its own last index) instead of the last entry the append proved to match. The harm needs
  // a follower holding entries beyond an accepted append that differ from the leader's, but the first append a
  // follower accepts in a term starts at the first index where its log leaves the leader's (fast backtracking
  // lands there exactly; a snapshot at a divergent index replaces the log) and truncates the rest, so from then
  // on its log is a prefix of the leader's. A probe over 216,399 accepted appends on 24 seeds found one where
  // this commit went further, onto entries equal to the leader's. (mutated line:
  // this.commitTo(Math.min(message.commit, lastNew)) -> this.commitTo(Math.min(message.commit, this.log.lastIndex)))
  {
    name: 'raft-heartbeat-commit-unclamped',
    description: "A heartbeat carries the leader's commit index instead of min(follower match, commit), so a follower commits a divergent entry it holds at that index.",
    file: 'core/raft/engine.ts',
    find: "this.send(peer, { type: 'heartbeat', term: this.term, commit: Math.min(progress.match, this.commit), readSeq: this.round })",
    replace: "this.send(peer, { type: 'heartbeat', term: this.term, commit: this.commit, readSeq: this.round })",
    scenario: 'raft',
    args: ['--nodes', '5'],
  },
  {
    name: 'raft-read-before-term-commit',
    description: 'A new leader serves reads before an entry of its term is committed, at a commit index that may lag what earlier leaders committed.',
    file: 'core/raft/engine.ts',
    find: '    if (this.log.term(this.commit) !== this.term) return\n    const confirmedRound = this.confirmedRound()',
    replace: '    const confirmedRound = this.confirmedRound()',
    scenario: 'raft',
    args: ['--nodes', '5'],
  },

  // ----- PBFT -----
  {
    name: 'pbft-commit-quorum-2f',
    description: 'A slot is decided with 2f matching commits instead of 2f+1.',
    file: 'core/pbft/engine.ts',
    find: 'if (slot.decided !== null || this.commitsMatching(slot) < this.group.quorum) return',
    replace: 'if (slot.decided !== null || this.commitsMatching(slot) < this.group.quorum - 1) return',
    scenario: 'pbft',
    args: [],
  },
  {
    name: 'pbft-prepare-quorum-off-by-one',
    description: 'A slot is prepared with 2f-1 matching prepares instead of 2f.',
    file: 'core/pbft/engine.ts',
    find: 'if (matching.length < this.group.quorum - 1) return',
    replace: 'if (matching.length < this.group.quorum - 2) return',
    scenario: 'pbft',
    args: [],
  },
  {
    name: 'pbft-view-change-drops-prepared',
    description: "A view change message leaves out the replica's prepared certificates, so the new view may order the null request where a batch committed.",
    file: 'core/pbft/engine.ts',
    find: '      prepared.push(slot.certificate.certificate)\n      batches.push(slot.certificate.batch)',
    replace: '      continue',
    scenario: 'pbft',
    args: [],
  },
  {
    name: 'pbft-execute-out-of-order',
    description: 'A batch executes as soon as it commits, not in sequence order after every lower sequence number.',
    file: 'core/pbft/engine.ts',
    find: '    this.decide(slot, slot.view, digest, slot.batch)\n    this.executeReady()',
    replace: '    this.decide(slot, slot.view, digest, slot.batch)\n    if (slot.seq > this.executedSeq) this.execute(slot.seq, slot.view, digest, slot.batch)\n    this.executeReady()',
    scenario: 'pbft',
    args: [],
  },
  {
    name: 'pbft-reply-quorum-f',
    description: 'The gateway answers its client once f replies agree instead of f+1.',
    file: 'core/pbft/engine.ts',
    find: 'this.gateway.vote(replica, result.client, result.timestamp, result.result, group.f + 1, group.epoch)',
    replace: 'this.gateway.vote(replica, result.client, result.timestamp, result.result, group.f, group.epoch)',
    scenario: 'pbft',
    args: [],
  },

  {
    name: 'pbft-view-change-no-prepared-certificates',
    description: 'A view change message carries no prepared certificates at all (every slot skipped), so the new primary may assign a committed sequence number to another batch.',
    file: 'core/pbft/engine.ts',
    find: 'if (seq <= this.stableSeq || slot.certificate === null) continue',
    replace: 'if (seq <= this.stableSeq || slot.certificate === null || true) continue',
    scenario: 'pbft',
    args: [],
  },
  {
    name: 'pbft-learn-decision-2f-commits',
    description: 'A replica that learns the decision of a slot it missed in an older view, from its pre-prepare and the commits, accepts it with 2f matching commits instead of 2f+1.',
    file: 'core/pbft/engine.ts',
    find: 'if (countMatching(learning.commits, learning.prePrepare.body.digest) < this.group.quorum) return null',
    replace: 'if (countMatching(learning.commits, learning.prePrepare.body.digest) < this.group.quorum - 1) return null',
    scenario: 'pbft',
    args: ['--mode', 'splitQuorum'],
  },

  // ----- CRDT -----
  {
    name: 'crdt-lww-no-replica-tiebreak',
    description: 'The LWW register compares hybrid timestamps only; on equal stamps each replica keeps the write it had, so replicas diverge.',
    file: 'core/crdt/lwwRegister.ts',
    find: 'return compareHlc(a.timestamp, b.timestamp) || (a.replica < b.replica ? -1 : a.replica > b.replica ? 1 : 0)',
    replace: 'return compareHlc(a.timestamp, b.timestamp)',
    scenario: 'crdt',
    args: [],
  },
  {
    name: 'crdt-set-op-covers-every-element',
    description: 'A set add or remove covers the dots of every element of the set, not only of its own element, so it removes every other element.',
    file: 'core/crdt/ops.ts',
    find: 'const covered = old === undefined ? [] : [...old].map(parseDotKey)',
    replace: 'const covered = old === undefined ? [] : dotsOf(state.root)',
    scenario: 'crdt',
    args: [],
  },
  {
    name: 'crdt-context-gap-counted-seen',
    description: 'A causal context folds a dot past a gap into its version vector as if every earlier dot were seen, so joins drop concurrent adds the remover never observed.',
    file: 'core/crdt/dots.ts',
    find: '    if (dot.counter === (this.vector.get(dot.replica) ?? 0) + 1) this.vector.set(dot.replica, dot.counter)\n    else this.cloud.add(dotKey(dot))',
    replace: '    this.vector.set(dot.replica, dot.counter)',
    scenario: 'crdt',
    args: [],
  },
  {
    name: 'crdt-counter-merge-sums',
    description: "G-counter join adds the two replicas' entries instead of taking the maximum per replica, so a redelivered delta counts twice.",
    file: 'core/crdt/counter.ts',
    find: 'for (const [replica, count] of b) if (count > (out.get(replica) ?? 0)) out.set(replica, count)',
    replace: 'for (const [replica, count] of b) out.set(replica, (out.get(replica) ?? 0) + count)',
    scenario: 'crdt',
    args: [],
  },
  {
    name: 'crdt-hlc-receive-not-advanced',
    description: 'The hybrid clock checks a remote timestamp for drift but does not advance past it, so a write made after seeing another can lose to it in LWW order.',
    file: 'core/crdt/hlc.ts',
    find: '    const last = this.last\n    const wallMs = Math.max(physicalMs, last.wallMs, remote.wallMs)',
    replace: '    return null\n    const last = this.last\n    const wallMs = Math.max(physicalMs, last.wallMs, remote.wallMs)',
    scenario: 'crdt',
    args: [],
  },
  {
    name: 'crdt-op-acked-before-durable',
    description: 'An eventual (CRDT) write is acknowledged in the same Ready that writes it but without asking for a sync, so a crash loses an acknowledged write.',
    file: 'core/crdt/engine.ts',
    find: '    this.dirty.add(op.key)\n    this.mustSync = true',
    replace: '    this.dirty.add(op.key)',
    scenario: 'crdt',
    args: [],
  },

  // ----- Gossip (SWIM) -----
  {
    name: 'gossip-refute-same-incarnation',
    description: 'A suspected member refutes with the incarnation it was suspected at instead of a higher one, so the refutation does not override the suspicion.',
    file: 'core/gossip/engine.ts',
    find: 'this.incarnation = Math.max(this.incarnation, news.incarnation) + 1',
    replace: 'this.incarnation = Math.max(this.incarnation, news.incarnation)',
    scenario: 'swim',
    args: [],
  },
  {
    name: 'gossip-suspicion-never-expires',
    description: 'A suspicion that times out is dropped without declaring the member dead, so a crashed member stays suspect forever.',
    file: 'core/gossip/engine.ts',
    find: "      this.metrics.deadDeclared++\n      this.merge({ kind: 'dead', member: id, incarnation: this.members.incarnationOf(id), from: this.id }, this.id)",
    replace: '      this.metrics.deadDeclared++',
    scenario: 'swim',
    args: [],
  },
  {
    name: 'gossip-stale-suspicion-accepted',
    description: 'Suspect and dead news are applied whatever their incarnation, so an old rumour overrides a refutation or a rejoin.',
    file: 'core/gossip/engine.ts',
    find: 'if (state === undefined || news.incarnation < incarnation) return',
    replace: 'if (state === undefined) return',
    scenario: 'swim',
    args: [],
  },

  // ----- Replica -----
  {
    name: 'replica-auto-commit-not-joined',
    description: 'A committed auto entry is never joined into the LWW register, so an auto write acknowledged by Raft is missing from the register it should end in.',
    file: 'core/replica/strongPath.ts',
    find: "    if (logCommand.kind === 'auto') this.crdt.propose({ requestId: 0, op: { type: 'register', key: logCommand.key, value: logCommand.value, at: { timestamp: logCommand.stamp, replica: logCommand.origin } } })\n",
    replace: '',
    scenario: 'mixed',
    args: [],
  },
  {
    name: 'replica-auto-ignores-group-mode',
    description: "An auto write goes to Raft whatever the home group's mode, instead of taking the CRDT path outside datacenter mode.",
    file: 'core/replica/autoPath.ts',
    find: "    if (mode !== 'datacenter') return this.arriveOnCrdt(request, 'groupMode')\n",
    replace: '',
    scenario: 'adaptive',
    args: [],
  },
  {
    name: 'replica-auto-deadline-answered-failed',
    description: 'An auto write that misses the Raft deadline is answered failed (retry) instead of taking the CRDT path, though its entry may still commit: a write reported failed lands.',
    file: 'core/replica/autoPath.ts',
    find: "    this.moveToCrdt(request, 'deadline')\n    return true",
    replace: "    this.context.answers.fail(request, 'noLeader', 'no commit within autoDeadlineMs')\n    return true",
    scenario: 'mixed',
    args: [],
  },

  // ----- Adaptive -----
  {
    name: 'adaptive-hysteresis-margin-ignored',
    description: 'The mode classification ignores the hysteresis margin, so a link near a threshold flips between modes.',
    file: 'core/adaptive/mode.ts',
    find: '  const stretch = 1 + config.marginRatio\n  const stays =',
    replace: '  const stretch = 1\n  const stays =',
    scenario: 'adaptive',
    args: [],
  },
  {
    name: 'adaptive-mode-unconfirmed',
    description: 'A link changes mode on the first measurement against the current one, without waiting for confirmSamples of them.',
    file: 'core/adaptive/linkModeDetector.ts',
    find: '    if (this.pending.length < this.config.confirmSamples) return ok(null)\n',
    replace: '',
    scenario: 'adaptive',
    args: [],
  },
]
