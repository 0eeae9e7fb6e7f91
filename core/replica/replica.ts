/**
 * The replica: one node composing every engine (DESIGN §3) behind one
 * `step` / `tick` / `propose` / `ready` / `advance`.
 *
 * - crdt: eventual namespaces, and the LWW register every auto write ends in;
 * - gossip: membership, and the published state follower reads are served from;
 * - raft: strong namespaces, the policy table, and the auto path's fast log;
 * - pbft: byzantine namespaces (on the replicas of the BFT group);
 * - prober: link measurements and the mode of every link and group.
 *
 * This file only composes; each concern has its own:
 * - engines.ts: the table of engines (routing peer messages, ticks, merging Readies);
 * - commandRouter.ts: client commands, routed by their namespace's policy to
 *   strongPath.ts, byzantinePath.ts, eventualPath.ts or autoPath.ts (DESIGN §2);
 * - forwarding.ts: strong commands and reads taken to the Raft leader;
 * - requests.ts and answers.ts: the requests waiting for their one answer;
 * - placementRound.ts: the leader's placement of homes and of itself;
 * - incarnation.ts: this node's incarnation, which forward answers carry.
 *
 * The Ready: every engine's writes (their storage keys do not overlap) and
 * messages, tagged with the engine, and the replica's answers. Answers are
 * produced in `advance`, after the host has persisted and sent what the
 * engines asked for, and handed out in the next Ready.
 */
import type { CrdtEngine } from '../crdt/engine.ts'
import type { GossipEngine } from '../gossip/engine.ts'
import type { PbftEngine } from '../pbft/engine.ts'
import type { RaftEngine } from '../raft/engine.ts'
import { Prober } from '../adaptive/prober.ts'
import { toTicks } from '../gossip/config.ts'
import { defaultProberConfig } from '../adaptive/proberConfig.ts'
import type { Mode } from '../adaptive/mode.ts'
import type { ModeChangedEvent } from '../adaptive/modeEvents.ts'
import type { ProbeMessage } from '../adaptive/probeMessages.ts'
import { assert } from '../lib/assert.ts'
import { isValidId } from '../lib/limits.ts'
import type { Result } from '../lib/result.ts'
import type { Clock, NodeId, StorageWrite } from '../ports.ts'
import { noTickWork, ReadyBuffer, ticksUntilMs, type Engine, type Ready, type Refusal } from '../ready.ts'
import { Answers } from './answers.ts'
import { AutoPath } from './autoPath.ts'
import { ByzantinePath } from './byzantinePath.ts'
import { CommandRouter } from './commandRouter.ts'
import type { ReplicaApplied, ReplicaCommand } from './commands.ts'
import { defaultReplicaConfig, replicaLimits, validateReplicaConfig, type ReplicaConfig } from './config.ts'
import type { ReplicaContext } from './context.ts'
import { createEngines, EngineTable, runningPbftGroup } from './engines.ts'
import type { ReplicaEvent } from './events.ts'
import { EventualPath } from './eventualPath.ts'
import { Forwarding } from './forwarding.ts'
import { bootRecord } from './incarnation.ts'
import type { ReplicaMessage } from './messages.ts'
import { newReplicaMetrics, type ReplicaMetrics } from './metrics.ts'
import type { ReplicaOptions } from './options.ts'
import { Placement } from './placement.ts'
import { defaultPlacementConfig } from './placementConfig.ts'
import { PlacementRound } from './placementRound.ts'
import { configurationProblem, normalizeConfiguration, type ClusterConfiguration } from './clusterConfiguration.ts'
import { Membership, raftGroupId, storedConfiguration } from './membership.ts'
import type { Policy } from './policy.ts'
import { publish } from './published.ts'
import { PbftGroupChange } from './pbftGroupChange.ts'
import { PendingRequests } from './requests.ts'
import { snapshotOf, type ReplicaSnapshot } from './snapshot.ts'
import { StrongPath } from './strongPath.ts'
import type { StrongState } from './strongState.ts'

export { replicaStorageKeys } from './incarnation.ts'
export type { ReplicaMember, ReplicaOptions } from './options.ts'
export type { ClusterConfiguration, ConfigMember } from './clusterConfiguration.ts'
export type { ReplicaMetrics } from './metrics.ts'

/** The Raft group's id in the mode detector (membership.ts keeps it in step), and the PBFT group's. */
export { raftGroupId }
export const pbftGroupId = 'pbft'

export class Replica implements Engine<ReplicaCommand, ReplicaMessage, ReplicaApplied, ReplicaEvent> {
  readonly id: NodeId
  readonly region: string
  readonly config: ReplicaConfig
  readonly crdt: CrdtEngine
  readonly gossip: GossipEngine
  /** On every replica (a learner or voter only when the configuration says so). */
  readonly raft: RaftEngine
  readonly pbft: PbftEngine | null
  readonly prober: Prober
  readonly placement: Placement
  /** The Raft state machine: strong values, the policy table, at-most-once stamps. */
  readonly strong: StrongState
  /** The PBFT state machine (byzantine values). */
  readonly byzantine: StrongState
  readonly metrics: ReplicaMetrics = newReplicaMetrics()
  /**
   * This node's incarnation: one more than the last one stored, synced in the
   * first Ready (before any forward can leave). Forward answers carry it back.
   */
  readonly boot: number
  private bootPersisted = false
  private readonly bootStore = bootRecord()
  private readonly clock: Clock
  /** Every member's region, kept in step with the applied configuration by `membership`. */
  private readonly regionOf: Map<NodeId, string>
  private readonly membership: Membership
  private readonly out = new ReadyBuffer<ReplicaMessage, ReplicaApplied, ReplicaEvent>()
  private readonly requests = new PendingRequests()
  private readonly answers = new Answers(this.requests, this.metrics, (reply) => this.out.applied.push(reply))
  private readonly engines: EngineTable
  private readonly router: CommandRouter
  private readonly forwarding: Forwarding
  private readonly auto: AutoPath
  private readonly placementRound: PlacementRound
  /** On a replica with a PBFT engine: the running group follows the configuration's target (pbftGroupChange.ts). */
  private readonly pbftChange: PbftGroupChange | null
  private nextReadId = 1

  constructor(options: ReplicaOptions) {
    const config: ReplicaConfig = { ...defaultReplicaConfig, ...options.config }
    validateReplicaConfig(config)
    assert(isValidId(options.id), 'a replica needs a valid id')
    const problem = configurationProblem(options.configuration)
    if (problem !== null) throw new RangeError(`invalid configuration: ${problem}`)
    // Storage wins: a replica that applied a later configuration restarts with it.
    const stored = storedConfiguration(options.storage)
    const initial = stored !== undefined && stored.version > options.configuration.version ? stored : normalizeConfiguration(options.configuration)
    if (initial.members.length > replicaLimits.membersMax) throw new RangeError(`${initial.members.length} members, membersMax=${replicaLimits.membersMax}`)
    const self = initial.members.find((member) => member.id === options.id) ?? options.configuration.members.find((member) => member.id === options.id)
    if (self === undefined) throw new RangeError(`${options.id} is not among the members`)
    this.id = options.id
    this.region = self.region
    this.config = config
    this.clock = options.clock
    this.boot = (this.bootStore.load(options.storage) ?? 0) + 1
    this.regionOf = new Map(initial.members.map((member) => [member.id, member.region]))

    const engines = createEngines({ options, config, initial, linkMode: (peer) => this.prober.linkMode(peer) })
    this.strong = engines.strong
    this.byzantine = engines.byzantine
    this.crdt = engines.crdt
    this.gossip = engines.gossip
    this.raft = engines.raft
    this.pbft = engines.pbft
    const others = initial.members.map((member) => member.id).filter((id) => id !== this.id)
    const proberConfig = { ...defaultProberConfig, ...options.prober }
    // Aligned periods: probe and placement rounds on the tick grid, with every other periodic timer.
    const roundTicksOf = (intervalMs: number) => (config.alignedPeriods === true ? toTicks(intervalMs, config.tickMs) : undefined)
    this.prober = new Prober({ id: this.id, peers: others, config: proberConfig, modeConfig: options.mode, roundTicks: roundTicksOf(proberConfig.probeIntervalMs) })
    this.placement = new Placement({ ...defaultPlacementConfig, ...options.placement })

    // The parts around them, sharing one context.
    const context: ReplicaContext = {
      id: this.id,
      config,
      clock: this.clock,
      metrics: this.metrics,
      requests: this.requests,
      answers: this.answers,
      send: (to, message) => this.out.messages.push({ to, message }),
      report: (event) => this.out.events.push(event),
      nextReadId: () => this.nextReadId++,
      publish: (key, version, value) => {
        if (publish(this.gossip, key, version, value)) this.metrics.published++
      },
    }
    this.membership = new Membership(
      {
        context,
        initial,
        strong: this.strong,
        raft: this.raft,
        gossip: this.gossip,
        crdt: this.crdt,
        prober: this.prober,
        regionOf: this.regionOf,
        propose: (requestId, next) => strongPath.proposeConfiguration(requestId, next),
        roundTicks: roundTicksOf(config.autopilotIntervalMs) ?? null,
        // Without an engine, the prober's PBFT group is the running one the configuration records; with one, its engine's (pbftChange below).
        followPbft: (c, atMs) => {
          const running = runningPbftGroup(c).replicas
          if (this.pbft !== null || running.length === 0) return
          const changes = this.prober.setGroup(
            pbftGroupId,
            running.filter((id) => id !== this.id),
            false,
            atMs,
          )
          if (changes.ok) this.handleModeChanges(changes.value)
        },
      },
      options.storage,
    )
    const raftVoters = (): readonly NodeId[] => this.membership.configuration.raftVoters
    const { crdt, gossip, raft, pbft, prober, placement } = this
    const policyOf = (namespace: string): Policy => this.policyOf(namespace)
    this.placementRound = new PlacementRound({ context, placement, raft, raftVoters, crdt, prober, region: this.region, regionOf: this.regionOf, policyOf, roundTicks: roundTicksOf(config.placementIntervalMs) ?? null })
    this.forwarding = new Forwarding({
      context,
      boot: this.boot,
      raft,
      raftVoters,
      inRaftGroup: () => this.membership.inRaftGroup,
      recordWrite: (command, origin) => this.placementRound.recordWrite(command, origin),
      onAnswer: (request, result) => strongPath.handleForwardAnswer(request, result),
    })
    const eventual = new EventualPath(context, crdt)
    this.auto = new AutoPath({ context, forwarding: this.forwarding, eventual, homeMode: () => this.homeMode() })
    const strongPath = new StrongPath({ context, raft, crdt, forwarding: this.forwarding, auto: this.auto })
    this.pbftChange =
      pbft === null || options.signer === null
        ? null
        : new PbftGroupChange({
            context,
            engine: pbft,
            signer: options.signer,
            configuration: () => this.membership.configuration,
            onGroup: (members, member) => {
              // The prober's PBFT group follows the running one (its members are members of the configuration, so the prober has their links).
              const changes = this.prober.setGroup(
                pbftGroupId,
                members.filter((id) => id !== this.id),
                member,
                this.clock.nowMs(),
              )
              if (changes.ok) this.handleModeChanges(changes.value)
            },
            record: (running) => this.membership.recordPbftRunning(running),
          })
    const pbftMembers = (): readonly NodeId[] => this.pbftChange?.members ?? this.membership.configuration.pbftReplicas
    const byzantinePath = new ByzantinePath(context, pbft, pbftMembers)
    this.router = new CommandRouter({ context, crdt, gossip, policyOf, strong: strongPath, byzantine: byzantinePath, eventual, auto: this.auto, membership: this.membership })
    this.engines = new EngineTable({
      id: this.id,
      crdt,
      gossip,
      raft,
      pbft,
      pbftTicks: () => this.pbftTicks,
      onApplied: {
        crdt: (ack) => eventual.handleApplied(ack),
        raft: (applied) => {
          // The configuration first: a join's answer leaves with the configuration it made, in the same Ready.
          this.membership.sync()
          strongPath.handleApplied(applied)
        },
        pbft: (applied) => byzantinePath.handleApplied(applied),
      },
    })
  }

  /**
   * Whether the PBFT engine ticks: in the group (as far as it knows), or wanted in it by the configuration's
   * target (it asks the group for state). An engine outside both stays quiet: the group refuses what it sends.
   */
  private get pbftTicks(): boolean {
    return this.pbftChange === null || this.pbftChange.isMember || this.membership.configuration.pbftReplicas.includes(this.id)
  }

  /** What a viewer shows of this node: one serializable copy (see snapshot.ts). */
  snapshot(): ReplicaSnapshot {
    return snapshotOf(this)
  }

  /** A copy of the cluster configuration applied here now. */
  configuration(): ClusterConfiguration {
    return this.membership.configuration
  }

  /** A member's region, or null for a node this replica does not know. */
  regionOfMember(id: NodeId): string | null {
    return this.regionOf.get(id) ?? null
  }

  /** The policy a key's namespace has now on this replica. */
  policyOf(namespace: string): Policy {
    return this.strong.policies.of(namespace)
  }

  /** The mode of the Raft group (the home group) as this node measures it. */
  homeMode(): Mode {
    return this.prober.groupMode(raftGroupId) ?? 'hybrid'
  }

  /** Raft's leader as this node knows it (itself included), or null. */
  get leader(): NodeId | null {
    return this.forwarding.leader
  }

  /** Document `key`'s Yjs state vector (y-protocols SyncStep1); see CrdtEngine.docStateVector. */
  docStateVector(key: string): Uint8Array {
    return this.crdt.docStateVector(key)
  }

  /** What a holder of `stateVector` lacks of document `key` (y-protocols SyncStep2); see CrdtEngine.docDiff. */
  docDiff(key: string, stateVector: Uint8Array): Result<Uint8Array, Refusal> {
    return this.crdt.docDiff(key, stateVector)
  }

  /** The present awareness states of document `key` as one y-protocols update, or null. */
  awarenessStates(key: string): Uint8Array | null {
    return this.crdt.awarenessStates(key)
  }

  /** The answer a request waits for, when it still waits (tests, the TUI). */
  isPending(requestId: number): boolean {
    return this.requests.has(requestId)
  }

  // ---- inputs ------------------------------------------------------------

  step(from: NodeId, message: ReplicaMessage): Refusal | null {
    this.out.assertIdle('step')
    const refusal = this.route(from, message)
    this.pbftChange?.sync()
    if (refusal !== null) {
      this.metrics.peerMessagesRefused++
      this.out.events.push({ source: 'replica', event: { kind: 'refused', from, engine: message.engine, code: refusal.code, message: refusal.message } })
    }
    return refusal
  }

  /** A peer message names its engine; the replica's own are forwards. */
  private route(from: NodeId, message: ReplicaMessage): Refusal | null {
    // A member the configuration dropped still speaks Raft until Raft removes it too: it must learn the entry that dropped it.
    if (!this.regionOf.has(from) && !(message.engine === 'raft' && this.raft.hasMember(from))) return { code: 'unknownPeer', message: `${from} is not a member` }
    switch (message.engine) {
      case 'probe':
        return this.handleProbe(from, message.message)
      case 'replica':
        if (message.message.type !== 'pbftApproval') return this.forwarding.step(from, message.message)
        return this.pbftChange === null ? { code: 'notMember', message: `${this.id} runs no pbft engine` } : this.pbftChange.step(from, message.message)
      default:
        return this.engines.step(from, message.engine, message.message)
    }
  }

  private handleProbe(from: NodeId, message: ProbeMessage): Refusal | null {
    const handled = this.prober.handleMessage(from, message, this.clock.nowMs())
    if (handled.reply !== null) this.out.messages.push({ to: handled.reply.to, message: { engine: 'probe', message: handled.reply.message } })
    this.handleModeChanges(handled.changes)
    return handled.refusal
  }

  tick(): void {
    this.out.assertIdle('tick')
    const nowMs = this.clock.nowMs()
    this.engines.tick()
    for (const probe of this.prober.tick(nowMs)) this.out.messages.push({ to: probe.to, message: { engine: 'probe', message: probe.message } })
    this.handleModeChanges(this.prober.takeChanges())
    this.checkDeadlines(nowMs)
    this.placementRound.tick(nowMs)
    this.membership.tick(nowMs)
    this.pbftChange?.tick(nowMs)
  }

  /**
   * Ticks until a tick may have work (core/ready.ts): the earliest of the
   * engines' own (in ticks) and of the replica's timers on the clock (in ms,
   * turned into ticks of tickMs): probe rounds and probe timeouts, awareness
   * expiry, request timeouts and auto deadlines, the leader's placement and
   * autopilot rounds.
   */
  ticksUntilWork(): number {
    const engines = Math.min(this.crdt.ticksUntilSync(), this.gossip.ticksUntilWork(), this.raft.ticksUntilWork(), this.pbft !== null && this.pbftTicks ? this.pbft.ticksUntilWork() : noTickWork)
    const ticks = Math.min(engines, this.prober.ticksUntilRound(), this.placementRound.ticksUntilRound(), this.membership.ticksUntilRound())
    let dueMs = Math.min(this.prober.nextWorkAtMs(), this.crdt.awarenessExpiresAtMs(), this.placementRound.nextRoundAtMs(), this.membership.nextWorkAtMs(), this.pbftChange?.nextWorkAtMs() ?? Number.POSITIVE_INFINITY)
    for (const request of this.requests) {
      dueMs = Math.min(dueMs, request.deadlineMs)
      if (request.kind === 'autoWrite' && request.route.via === 'raft' && request.route.deadlineMs !== null) dueMs = Math.min(dueMs, request.route.deadlineMs)
    }
    return Math.min(ticks, ticksUntilMs(dueMs, this.clock.nowMs(), this.config.tickMs))
  }

  /** A client command; see commandRouter.ts. */
  propose(command: ReplicaCommand): Refusal | null {
    this.out.assertIdle('propose')
    return this.router.propose(command)
  }

  /**
   * Leaves the cluster gracefully (before a planned shutdown): gossip tells
   * some members at once, and they the rest, that this node `left`, so it is
   * never suspected and declared dead. An input like `propose`: the news is in
   * the next Ready. Refused when this node is already leaving.
   */
  leave(): Refusal | null {
    this.out.assertIdle('leave')
    return this.gossip.propose({ type: 'leave' })
  }

  /** Sets or clears (null) a manual mode for a link or a group; the change is an event like a detected one. */
  setModeOverride(scope: 'link' | 'group', id: string, mode: Mode | null): Refusal | null {
    const nowMs = this.clock.nowMs()
    const changes = scope === 'link' ? this.prober.setLinkOverride(id, mode, nowMs) : this.prober.setGroupOverride(id, mode, nowMs)
    if (!changes.ok) return changes.error
    this.handleModeChanges(changes.value)
    return null
  }

  /** Reports mode changes; when the home group leaves datacenter mode, the auto path moves what waits on Raft. */
  private handleModeChanges(changes: readonly ModeChangedEvent[]): void {
    for (const change of changes) {
      this.out.events.push({ source: 'adaptive', event: change })
      if (change.scope === 'group' && change.id === raftGroupId && change.to !== 'datacenter') this.auto.handleHomeLeftDatacenter()
    }
  }

  /** Auto writes whose Raft deadline passed take the CRDT path; requests past requestTimeoutMs are answered `timeout`. */
  private checkDeadlines(nowMs: number): void {
    for (const request of this.requests) {
      if (request.kind === 'autoWrite' && this.auto.checkRaftDeadline(request, nowMs)) continue
      if (nowMs >= request.deadlineMs) {
        this.metrics.timeouts++
        this.answers.fail(request, 'timeout', `no answer within requestTimeoutMs=${this.config.requestTimeoutMs}; the outcome is unknown`)
      }
    }
    this.forwarding.expire(nowMs)
  }

  // ---- the Ready -----------------------------------------------------------

  hasReady(): boolean {
    return !this.bootPersisted || this.membership.hasWrite || this.out.hasPending || this.engines.hasReady()
  }

  ready(): Ready<ReplicaMessage, ReplicaApplied, ReplicaEvent> {
    const writes: StorageWrite[] = []
    let mustSync = false
    if (!this.bootPersisted) {
      writes.push(this.bootStore.write(this.boot))
      mustSync = true
    }
    // Synced before anything that follows it (a probe of a new member, the join's answer) leaves.
    const configuration = this.membership.takeWrite()
    if (configuration !== null) {
      writes.push(configuration)
      mustSync = true
    }
    if (this.engines.takeReadies(writes, this.out)) mustSync = true
    return this.out.handOut(writes, mustSync)
  }

  advance(ready: Ready<ReplicaMessage, ReplicaApplied, ReplicaEvent>): void {
    this.out.advance(ready)
    this.bootPersisted = true
    this.engines.advance()
  }
}
