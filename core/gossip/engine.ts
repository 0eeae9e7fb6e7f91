/**
 * SWIM membership (Das, Gupta and Motivala) with Lifeguard (Dadgar et al.),
 * after hashicorp/memberlist, as a sans-IO engine driven by ticks.
 *
 * Every probe period this node pings one member, in a shuffled round-robin
 * order. No ack within the probe timeout: it asks `indirectChecks` members to
 * ping the target for it. No ack by the end of the period: the target is
 * suspected. A suspect that hears of it refutes with a higher incarnation; one
 * that does not is declared dead when the suspicion times out. News (alive,
 * suspect, dead) rides on every message and on gossip rounds through a
 * transmit-limited queue; a periodic push-pull of the whole member list
 * repairs what gossip missed.
 *
 * Lifeguard makes a slow node doubt itself before it doubts others: a local
 * health score (raised by missing nacks and by having to refute, lowered by
 * successful probes) stretches this node's own probe period and timeout
 * (awareness.ts); suspicion timeouts start long and shrink as independent
 * members confirm (suspicion.ts); and a suspicion is also sent to the suspect
 * directly, so it can refute fast.
 */
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { readUint, writeUint } from '../codec/fields.ts'
import { encodeWith } from '../codec/envelope.ts'
import { assert } from '../lib/assert.ts'
import type { Rng } from '../lib/prng.ts'
import type { NodeId, StorageReader, StorageWrite } from '../ports.ts'
import { emptyReady, noTickWork, ReadyBuffer, ticksUntil, type Engine, type Ready, type Refusal } from '../ready.ts'
import { Awareness } from './awareness.ts'
import { BroadcastQueue, retransmitLimit } from './broadcastQueue.ts'
import { MemberDirectory, MemberTable, ProbeOrder } from './memberTable.ts'
import { UpdateStore, updateStoragePrefix } from './updateStore.ts'
import { defaultGossipConfig, gossipLimits, toTicks, type GossipConfig } from './config.ts'
import { gossipBodyBytes, updateLimits, type GossipMessage, type MemberNews, type MemberState, type MemberSummary, type News, type Update } from './messages.ts'
import type { GossipMetrics, GossipStatus } from './status.ts'
import { Suspicions, type SuspicionTimeout } from './suspicion.ts'
import { memberMetaProblem, MemberMetas, normalizeMemberMeta, sameMemberMeta, type MemberMeta } from './memberMeta.ts'

export type { GossipMetrics, GossipStatus } from './status.ts'

export type GossipCommand = { readonly type: 'leave' } | ({ readonly type: 'publish' } & Update)

export type GossipApplied = { readonly type: 'left'; readonly incarnation: number } | { readonly type: 'published'; readonly key: string; readonly version: number }

export type MemberChangeReason = 'joined' | 'alive' | 'suspected' | 'refuted' | 'updated' | 'confirmed' | 'dead' | 'left'

export type GossipEvent =
  | { readonly kind: 'member'; readonly member: NodeId; readonly state: MemberState; readonly incarnation: number; readonly reason: MemberChangeReason; readonly by: NodeId }
  | { readonly kind: 'refuted'; readonly incarnation: number; readonly suspectedBy: NodeId }
  | { readonly kind: 'update'; readonly key: string; readonly version: number; readonly from: NodeId }

interface Probe {
  readonly target: NodeId
  readonly seq: number
  readonly timeoutTick: number
  readonly endTick: number
  acked: boolean
  indirectSent: boolean
  expectedNacks: number
  nacks: number
}

interface Relay {
  readonly requester: NodeId
  readonly requesterSeq: number
  readonly deadlineTick: number
}

export const gossipStorageKeys = { incarnation: 'gossip/incarnation', updatePrefix: updateStoragePrefix } as const

export interface GossipEngineOptions {
  readonly id: NodeId
  /** Members to contact first (anyone already in the cluster). */
  readonly seeds: readonly NodeId[]
  /** Members known from the start (a cluster created together, as in a simulation), taken as alive at incarnation 1, a fresh start's. */
  readonly knownMembers?: readonly NodeId[]
  /** A node that starts late (it joined a running cluster) announces itself even when it lists the members it knows. */
  readonly announce?: boolean
  /** This node's metadata (region, address, tags), carried on its alive news and push-pulls; `setMeta` changes it. */
  readonly meta?: MemberMeta
  /** Id ↔ index table to share with the other engines of this host (saves memory at thousands of members). */
  readonly directory?: MemberDirectory
  readonly storage: StorageReader
  readonly rng: Rng
  /** Length of one tick in milliseconds, to turn the config's times into ticks. */
  readonly tickMs: number
  readonly config?: GossipConfig
  /** Periodic work (probes, update digests, push-pulls) at tick counts that are multiples of its interval, not at a random phase (ReplicaConfig.alignedPeriods). */
  readonly alignedPeriods?: boolean
}

export class GossipEngine implements Engine<GossipCommand, GossipMessage, GossipApplied, GossipEvent> {
  readonly id: NodeId
  private readonly metrics: GossipMetrics = { probes: 0, probesFailed: 0, acks: 0, pingReqs: 0, nacks: 0, suspicionsRaised: 0, refutations: 0, deadDeclared: 0, messagesSent: 0, bytesSent: 0 }
  private readonly config: GossipConfig
  private readonly rng: Rng
  private readonly seeds: readonly NodeId[]
  private readonly ticksOf: { probeInterval: number; probeTimeout: number; gossipInterval: number; gossipToTheDead: number; pushPullInterval: number; updateSyncInterval: number }
  private readonly members: MemberTable
  private readonly probeOrder = new ProbeOrder()
  private probe: Probe | null = null
  private nextProbeTick = 0
  private readonly relays = new Map<number, Relay>()
  private readonly suspicions = new Suspicions()
  /**
   * Members declared dead within the last gossipToTheDeadMs (one entry per member at most), with the tick of the declaration: gossip
   * rounds still reach them, so that one declared dead while alive (its suspicion never reached it)
   * hears it and refutes. Without them a dead member is never contacted again and learns of its death
   * only from its own next push-pull, a minute apart and lost with any one message.
   */
  private readonly recentlyDead = new Map<NodeId, number>()
  private readonly updates: UpdateStore
  private readonly queue = new BroadcastQueue(gossipLimits.queueItemsMax)
  private incarnation: number
  /** Lifeguard's local health: 0 is healthy; this node's timeouts stretch by (score + 1). */
  private readonly awareness: Awareness
  private ticks = 0
  private seq = 0
  private leaving = false
  private nextPushPullTick: number
  private nextUpdateSyncTick: number
  /** No push-pull with a member never heard of before this tick (see `step`). */
  private nextRepairPushPullTick = 0
  private incarnationDirty = false
  /**
   * Whether a full state exchange (push-pull) with the cluster has completed. Until then the node
   * repeats it every probe period with its seeds and a known member: news alone would teach it only
   * the members that happen to change.
   */
  private joined: boolean
  private readonly out = new ReadyBuffer<GossipMessage, GossipApplied, GossipEvent>()
  /** The members a cluster configuration admits (this node always); null: anyone may join, as in plain SWIM. */
  private admitted: ReadonlySet<NodeId> | null = null
  /** This node's metadata, and the other members' as gossip brought it (memberMeta.ts). */
  private ownMeta: MemberMeta | undefined
  private readonly metas = new MemberMetas()

  constructor(options: GossipEngineOptions) {
    this.id = options.id
    this.rng = options.rng
    this.config = options.config ?? defaultGossipConfig
    this.seeds = options.seeds.filter((seed) => seed !== options.id)
    this.awareness = new Awareness(this.config.awarenessMax)
    const { probeIntervalMs, probeTimeoutMs, gossipIntervalMs, gossipToTheDeadMs, pushPullIntervalMs, updateSyncIntervalMs } = this.config
    this.ticksOf = {
      probeInterval: toTicks(probeIntervalMs, options.tickMs),
      probeTimeout: toTicks(probeTimeoutMs, options.tickMs),
      gossipInterval: toTicks(gossipIntervalMs, options.tickMs),
      gossipToTheDead: toTicks(gossipToTheDeadMs, options.tickMs),
      pushPullInterval: toTicks(pushPullIntervalMs, options.tickMs),
      updateSyncInterval: toTicks(updateSyncIntervalMs, options.tickMs),
    }
    assert(this.ticksOf.probeTimeout < this.ticksOf.probeInterval, 'gossip config needs probeTimeoutMs < probeIntervalMs')
    // A restart comes back with a higher incarnation, so its "alive" overrides any "dead" about its past self.
    const stored = options.storage.get(gossipStorageKeys.incarnation)
    this.incarnation = stored === undefined ? 1 : readStoredIncarnation(stored) + 1
    this.incarnationDirty = true
    this.updates = UpdateStore.load(options.storage)
    if (options.meta !== undefined) {
      const problem = memberMetaProblem(options.meta)
      assert(problem === null, `gossip metadata: ${problem}`)
      this.ownMeta = normalizeMemberMeta(options.meta)
    }
    this.members = new MemberTable(options.directory ?? new MemberDirectory(), this.id)
    this.members.set(this.id, this.incarnation, 'alive')
    const listedAlready = options.knownMembers !== undefined && this.members.addAlive(options.knownMembers, 1)
    // A cluster created together (known members, fresh start) has nothing to announce or catch up on;
    // a restart may have missed news while it was down, and a founder has no one to join.
    const createdTogether = listedAlready && this.incarnation === 1 && options.announce !== true
    if (!createdTogether) this.queue.add(this.selfAlive())
    // A founder (a fresh start with no one to join) is joined from the start; a node back from a restart
    // that has no seeds is not: it was in a cluster, and joins through the first member it hears from.
    this.joined = createdTogether || (this.seeds.length === 0 && this.members.liveCount <= 1 && this.incarnation === 1)
    // Spread the periodic work of a cluster over time instead of starting it in lockstep.
    const pushPullTicks = pushPullScale(this.ticksOf.pushPullInterval, this.liveCount)
    if (options.alignedPeriods === true) {
      this.nextProbeTick = this.ticksOf.probeInterval
      this.nextPushPullTick = pushPullTicks
      this.nextUpdateSyncTick = this.ticksOf.updateSyncInterval
    } else {
      this.nextProbeTick = 1 + this.rng.int(this.ticksOf.probeInterval)
      this.nextPushPullTick = 1 + this.rng.int(pushPullTicks)
      this.nextUpdateSyncTick = 1 + this.rng.int(this.ticksOf.updateSyncInterval)
    }
  }

  /** This node as plain data (copies): what viewers, checkers and tests read instead of its fields. */
  status(): GossipStatus {
    return {
      id: this.id,
      incarnation: this.incarnation,
      joined: this.joined,
      leaving: this.leaving,
      members: this.summaries(),
      localHealth: this.awareness.status(),
      suspicions: this.suspicions.status(),
      updates: this.updates.size,
      metrics: { ...this.metrics },
    }
  }

  /**
   * Follows the cluster configuration: a member it adds is taken as alive at
   * incarnation 0 (so the member's own word overrides it), a member it dropped
   * is forgotten, and news about a node outside it is ignored from then on.
   */
  setMembers(ids: readonly NodeId[]): void {
    const admitted = new Set(ids)
    admitted.add(this.id)
    for (const summary of this.members.summaries()) {
      if (admitted.has(summary.id)) continue
      this.members.forget(summary.id)
      this.metas.delete(summary.id)
      this.suspicions.delete(summary.id)
      this.recentlyDead.delete(summary.id)
    }
    this.members.addAlive(
      ids.filter((id) => id !== this.id),
      0,
    )
    this.admitted = admitted
  }

  /**
   * Changes this node's metadata. As memberlist's UpdateNode: the incarnation
   * rises, so the new metadata overrides the old wherever both meet, and the
   * alive news carrying it spreads like any other.
   */
  setMeta(meta: MemberMeta): Refusal | null {
    const problem = memberMetaProblem(meta)
    if (problem !== null) return { code: 'oversized', message: `gossip metadata: ${problem}` }
    if (this.leaving) return { code: 'leaving', message: 'this node is leaving' }
    if (this.ownMeta !== undefined && sameMemberMeta(this.ownMeta, meta)) return null
    this.ownMeta = normalizeMemberMeta(meta)
    this.incarnation++
    this.incarnationDirty = true
    this.members.set(this.id, this.incarnation, 'alive')
    this.queue.add(this.selfAlive())
    return null
  }

  /** News that this node is alive at its incarnation, with its metadata. */
  private selfAlive(): MemberNews {
    return this.ownMeta === undefined ? { kind: 'alive', member: this.id, incarnation: this.incarnation } : { kind: 'alive', member: this.id, incarnation: this.incarnation, meta: this.ownMeta }
  }

  /** Every member known, with its metadata where some is held. */
  private summaries(): MemberSummary[] {
    const summaries = this.members.summaries()
    if (this.ownMeta === undefined && this.metas.size === 0) return summaries
    return summaries.map((summary) => {
      const meta = summary.id === this.id ? this.ownMeta : this.metas.get(summary.id)
      return meta === undefined ? summary : { ...summary, meta }
    })
  }

  /** The update held under `key`, if any (the data a replica serves follower reads from). */
  update(key: string): Update | undefined {
    return this.updates.get(key)
  }

  /** Members alive or suspect, this node included. */
  private get liveCount(): number {
    return this.members.liveCount
  }

  private get multiplier(): number {
    return this.config.lifeguard ? this.awareness.timeoutMultiplier : 1
  }

  propose(command: GossipCommand): Refusal | null {
    this.out.assertIdle('propose')
    if (command.type === 'publish') {
      if (command.key.length === 0 || command.key.length * 3 > updateLimits.keyBytesMax) return { code: 'invalidKey', message: `an update key has 1 to ${updateLimits.keyBytesMax / 3} characters` }
      if (command.value.length > updateLimits.valueBytesMax) return { code: 'oversized', message: `an update value is at most valueBytesMax=${updateLimits.valueBytesMax} bytes` }
      if (!Number.isSafeInteger(command.version) || command.version < 1) return { code: 'invalidVersion', message: 'versions are positive integers' }
      const update: Update = { key: command.key, version: command.version, value: command.value }
      const refused = this.updates.accept(update)
      if (refused === 'stale') return { code: 'staleVersion', message: `${command.key} is at version ${this.updates.get(command.key)!.version} already` }
      if (refused === 'full') return { code: 'tooManyUpdates', message: `updatesMax=${updateLimits.updatesMax} keys held` }
      this.queue.add({ kind: 'update', ...update })
      this.out.applied.push({ type: 'published', key: update.key, version: update.version })
      return null
    }
    if (this.leaving) return { code: 'leaving', message: 'this node is already leaving' }
    this.leaving = true
    this.members.set(this.id, this.incarnation, 'left')
    this.queue.add({ kind: 'dead', member: this.id, incarnation: this.incarnation, from: this.id })
    // Tell a few members at once, so that leaving does not wait for the next gossip round.
    for (const peer of this.randomLive(this.config.gossipNodes, null)) this.send(peer, { type: 'gossip', news: this.piggyback() })
    this.out.applied.push({ type: 'left', incarnation: this.incarnation })
    return null
  }

  tick(): void {
    this.out.assertIdle('tick')
    this.ticks++
    if (this.leaving) return
    // Joining (or back from a restart): a full exchange with the seeds and one known member, as
    // memberlist's join does, repeated each probe period until one answers.
    if (!this.joined && this.ticks % this.ticksOf.probeInterval === 1) {
      const contacts = new Set(this.seeds)
      for (const member of this.randomLive(1, null)) contacts.add(member)
      const pushPull = this.pushPull(true)
      for (const contact of contacts) this.send(contact, pushPull)
    }
    this.advanceProbe()
    this.expireRelays()
    this.expireSuspicions()
    if (this.ticks % this.ticksOf.gossipInterval === 0 && this.queue.length > 0) {
      for (const peer of this.gossipTargets()) {
        const news = this.piggyback()
        if (news.length === 0) break // the round spent what was queued on the targets before
        this.send(peer, { type: 'gossip', news })
      }
    }
    if (this.ticks >= this.nextPushPullTick) {
      this.nextPushPullTick = this.ticks + pushPullScale(this.ticksOf.pushPullInterval, this.liveCount)
      const [peer] = this.randomLive(1, null)
      if (peer !== undefined) this.send(peer, this.pushPull(true))
    }
    // Updates are few beside members: their digest goes out often, at a fixed interval, so an update
    // that gossip missed comes back in seconds even where the full push-pull is minutes apart.
    if (this.ticks >= this.nextUpdateSyncTick) {
      this.nextUpdateSyncTick = this.ticks + this.ticksOf.updateSyncInterval
      const [peer] = this.randomLive(1, null)
      if (peer !== undefined) this.send(peer, { type: 'digest', ...this.updates.digest() })
    }
  }

  /**
   * Ticks until a tick may have work (core/ready.ts), from what `tick` checks:
   * the join exchange, the probe (its timeout, its end, the next one), relays
   * and suspicions running out, a gossip round while news waits, push-pull
   * and the update digest. A leaving node's ticks do nothing.
   */
  ticksUntilWork(): number {
    if (this.leaving) return noTickWork
    const now = this.ticks
    const { probeInterval, gossipInterval } = this.ticksOf
    let due = noTickWork
    // The join exchange runs at ticks ≡ 1 (mod probeInterval); never with a probe interval of one tick.
    if (!this.joined && probeInterval > 1) due = now + 1 + ((((1 - (now + 1)) % probeInterval) + probeInterval) % probeInterval)
    const probe = this.probe
    if (probe === null) due = Math.min(due, this.nextProbeTick)
    else {
      if (!probe.acked && !probe.indirectSent) due = Math.min(due, probe.timeoutTick)
      due = Math.min(due, probe.endTick)
    }
    for (const relay of this.relays.values()) due = Math.min(due, relay.deadlineTick)
    due = Math.min(due, this.suspicions.nextDeadlineTick())
    if (this.queue.length > 0) due = Math.min(due, now + gossipInterval - (now % gossipInterval))
    due = Math.min(due, this.nextPushPullTick, this.nextUpdateSyncTick)
    return due === noTickWork ? noTickWork : ticksUntil(due, now)
  }

  /**
   * A gossip round's `gossipNodes` targets, drawn from the live members and those declared dead within
   * gossipToTheDeadMs alike (as memberlist's gossip does).
   */
  private gossipTargets(): NodeId[] {
    for (const [member, deadTick] of this.recentlyDead) if (this.ticks - deadTick >= this.ticksOf.gossipToTheDead) this.recentlyDead.delete(member)
    if (this.recentlyDead.size === 0) return this.randomLive(this.config.gossipNodes, null)
    const liveOthers = Math.max(0, this.liveCount - 1)
    const dead = [...this.recentlyDead.keys()]
    let deadPicks = 0
    for (let slot = 0; slot < this.config.gossipNodes; slot++) if (this.rng.int(liveOthers + dead.length) < dead.length) deadPicks++
    const targets = this.randomLive(this.config.gossipNodes - deadPicks, null)
    for (let pick = 0; pick < deadPicks && dead.length > 0; pick++) targets.push(dead.splice(this.rng.int(dead.length), 1)[0]!)
    return targets
  }

  /** This node's whole state: every member it knows and the version of every update it holds. */
  private pushPull(reply: boolean): GossipMessage {
    return { type: 'pushPull', reply, members: this.summaries(), versions: this.updates.versions() }
  }

  private advanceProbe(): void {
    const probe = this.probe
    if (probe !== null) {
      if (!probe.acked && !probe.indirectSent && this.ticks >= probe.timeoutTick) {
        probe.indirectSent = true
        const helpers = this.randomLive(this.config.indirectChecks, probe.target)
        probe.expectedNacks = this.config.lifeguard ? helpers.length : 0
        for (const helper of helpers) {
          this.metrics.pingReqs++
          this.send(helper, { type: 'pingReq', seq: probe.seq, target: probe.target, news: this.piggyback() })
        }
      }
      if (this.ticks < probe.endTick) return
      this.finishProbe(probe)
      this.probe = null
    }
    if (this.ticks < this.nextProbeTick) return
    const target = this.nextProbeTarget()
    this.nextProbeTick = this.ticks + this.ticksOf.probeInterval * this.multiplier
    if (target === undefined) return
    this.metrics.probes++
    const seq = ++this.seq
    this.probe = {
      target,
      seq,
      timeoutTick: this.ticks + this.ticksOf.probeTimeout * this.multiplier,
      endTick: this.nextProbeTick,
      acked: false,
      indirectSent: false,
      expectedNacks: 0,
      nacks: 0,
    }
    // As memberlist: a ping to a suspect carries the suspicion, so that the suspect hears it and refutes
    // even when the news itself was lost (a suspicion raised inside a partition reaches nobody).
    const news = this.piggyback()
    if (this.members.stateOf(target) === 'suspect' && !news.some((item) => item.kind !== 'update' && item.member === target)) news.unshift({ kind: 'suspect', member: target, incarnation: this.members.incarnationOf(target), from: this.id })
    this.send(target, { type: 'ping', seq, target, news })
  }

  private finishProbe(probe: Probe): void {
    if (probe.acked) {
      this.changeAwareness(-1)
      return
    }
    this.metrics.probesFailed++
    // Lifeguard: helpers that did not even nack point at our own links or our own slowness.
    if (probe.expectedNacks > 0) this.changeAwareness(probe.expectedNacks - probe.nacks > 0 ? 1 : 0)
    if (this.members.stateOf(probe.target) !== 'alive') return
    this.metrics.suspicionsRaised++
    const news: News = { kind: 'suspect', member: probe.target, incarnation: this.members.incarnationOf(probe.target), from: this.id }
    this.merge(news, this.id)
    // Lifeguard: tell the suspect itself, so that it can refute before the rumour spreads.
    if (this.config.lifeguard) this.send(probe.target, { type: 'gossip', news: [news] })
  }

  private changeAwareness(delta: number): void {
    if (this.config.lifeguard) this.awareness.applyDelta(delta)
  }

  private nextProbeTarget(): NodeId | undefined {
    const ids = this.members.directory.ids
    const index = this.probeOrder.next(this.rng, ids.length, (candidate) => {
      if (ids[candidate] === this.id) return false
      const state = this.members.stateOf(ids[candidate]!)
      return state === 'alive' || state === 'suspect'
    })
    return index === undefined ? undefined : ids[index]
  }

  private expireRelays(): void {
    if (this.relays.size === 0) return // the common case: no walk, no iterator
    for (const [seq, relay] of this.relays) {
      if (this.ticks < relay.deadlineTick) continue
      this.relays.delete(seq)
      if (this.config.lifeguard) this.send(relay.requester, { type: 'nack', seq: relay.requesterSeq, news: this.piggyback() })
    }
  }

  /**
   * How long a suspicion lasts in the cluster as this node sees it now: at
   * least suspicionMult · log10(N) probe intervals; with Lifeguard up to
   * suspicionMaxTimeoutMult times that until members confirm it. The
   * confirmations expected are the members besides the suspect and this
   * node, up to `indirectChecks`.
   */
  private suspicionTimeout(): SuspicionTimeout {
    const minTicks = this.config.suspicionMult * Math.max(1, Math.log10(Math.max(1, this.liveCount))) * this.ticksOf.probeInterval
    const maxTicks = this.config.lifeguard ? this.config.suspicionMaxTimeoutMult * minTicks : minTicks
    return { minTicks, maxTicks, confirmationsExpected: Math.min(this.config.indirectChecks, Math.max(0, this.liveCount - 2)) }
  }

  private expireSuspicions(): void {
    for (const id of this.suspicions.expire(this.ticks)) {
      if (this.members.stateOf(id) !== 'suspect') continue
      this.metrics.deadDeclared++
      this.merge({ kind: 'dead', member: id, incarnation: this.members.incarnationOf(id), from: this.id }, this.id)
    }
  }

  step(from: NodeId, message: GossipMessage): Refusal | null {
    this.out.assertIdle('step')
    switch (message.type) {
      case 'pushPull':
        return this.handlePushPull(from, message)
      case 'digest':
        return this.handleDigest(from, message)
      case 'versions':
        return this.handleVersions(from, message)
      case 'updates':
        return this.handleUpdates(from, message)
      case 'ping':
      case 'ack':
      case 'pingReq':
      case 'nack':
      case 'gossip':
        return this.handleProbeOrGossip(from, message)
    }
  }

  private handlePushPull(from: NodeId, message: Extract<GossipMessage, { type: 'pushPull' }>): Refusal | null {
    // The join is done once a list names a third member: two nodes back from a restart at once (the
    // seed among them) would otherwise take each other's near-empty lists for the cluster's and stop
    // asking. A cluster of two keeps asking, one short exchange a probe period.
    if (!this.joined) this.joined = message.members.some((member) => member.id !== this.id && member.id !== from)
    for (const summary of message.members) this.mergeSummary(summary, from)
    if (message.reply && !this.leaving) this.send(from, this.pushPull(false))
    this.sendMissing(from, message.versions)
    return null
  }

  private handleDigest(from: NodeId, message: Extract<GossipMessage, { type: 'digest' }>): Refusal | null {
    // Anti-entropy of updates: the digests differ, so compare versions (both ways).
    if (!this.updates.matches(message)) this.send(from, { type: 'versions', reply: true, versions: this.updates.versions() })
    return null
  }

  private handleVersions(from: NodeId, message: Extract<GossipMessage, { type: 'versions' }>): Refusal | null {
    this.sendMissing(from, message.versions)
    if (message.reply && !this.leaving) this.send(from, { type: 'versions', reply: false, versions: this.updates.versions() })
    return null
  }

  private handleUpdates(from: NodeId, message: Extract<GossipMessage, { type: 'updates' }>): Refusal | null {
    for (const update of message.updates) this.mergeUpdate(update, from)
    return null
  }

  /** The messages that carry news (probes, their answers, gossip): the news first, then the message itself. */
  private handleProbeOrGossip(from: NodeId, message: Extract<GossipMessage, { news: readonly News[] }>): Refusal | null {
    // A message from a member never heard of: its join news passed this node by (or this node is back
    // from a restart and knows few). The sender knows the cluster; one push-pull with it repairs the view
    // now instead of at the next periodic push-pull, a minute apart. At most one a probe period: a node
    // back from a restart hears from many members it does not know before the first answer comes.
    // A member known only from the cluster configuration (incarnation 0, setMembers) counts as never heard of:
    // its own announcement passed this node by before the configuration admitted it.
    const fromIndex = this.members.directory.indexOf(from)
    const neverHeard = this.members.stateAt(fromIndex) === undefined || this.members.incarnationAt(fromIndex) === 0
    if (neverHeard && !this.leaving && this.ticks >= this.nextRepairPushPullTick) {
      this.nextRepairPushPullTick = this.ticks + this.ticksOf.probeInterval
      this.send(from, this.pushPull(true))
    }
    for (const news of message.news) this.merge(news, from)
    // A message from a member still held dead after its news: it is alive and has not heard (the news was
    // spent while it could not hear). Tell it, so that it refutes and rejoins, as after its own push-pull.
    if (this.members.stateOf(from) === 'dead') this.send(from, { type: 'gossip', news: [{ kind: 'dead', member: from, incarnation: this.members.incarnationOf(from), from: this.id }] })
    switch (message.type) {
      case 'ping':
        return this.handlePing(from, message)
      case 'ack':
        return this.handleAck(message)
      case 'pingReq':
        return this.handlePingReq(from, message)
      case 'nack':
        return this.handleNack(message)
      case 'gossip':
        return null
    }
  }

  private handlePing(from: NodeId, message: Extract<GossipMessage, { type: 'ping' }>): Refusal | null {
    if (message.target !== this.id) return { code: 'misdirected', message: `ping for ${message.target} reached ${this.id}` }
    if (!this.leaving) this.send(from, { type: 'ack', seq: message.seq, news: this.piggyback() })
    return null
  }

  private handleAck(message: Extract<GossipMessage, { type: 'ack' }>): Refusal | null {
    this.metrics.acks++
    if (this.probe !== null && this.probe.seq === message.seq) this.probe.acked = true
    const relay = this.relays.get(message.seq)
    if (relay !== undefined) {
      this.relays.delete(message.seq)
      this.send(relay.requester, { type: 'ack', seq: relay.requesterSeq, news: this.piggyback() })
    }
    return null
  }

  /** Probes `target` for `from`, whose own ping went unanswered; the ack (or, past the timeout, a nack) goes back to it. */
  private handlePingReq(from: NodeId, message: Extract<GossipMessage, { type: 'pingReq' }>): Refusal | null {
    if (this.leaving) return null
    const seq = ++this.seq
    this.relays.set(seq, { requester: from, requesterSeq: message.seq, deadlineTick: this.ticks + this.ticksOf.probeTimeout })
    this.send(message.target, { type: 'ping', seq, target: message.target, news: this.piggyback() })
    return null
  }

  private handleNack(message: Extract<GossipMessage, { type: 'nack' }>): Refusal | null {
    this.metrics.nacks++
    if (this.probe !== null && this.probe.seq === message.seq) this.probe.nacks++
    return null
  }

  private mergeSummary(summary: MemberSummary, from: NodeId): void {
    // A push-pull lists every member and nearly all of it is known already: skip what cannot change
    // anything (an older incarnation; alive, or dead about a member already down, at the same one).
    const index = this.members.directory.indexOf(summary.id)
    const state = this.members.stateAt(index)
    const known = this.members.incarnationAt(index)
    const skip = state !== undefined && (summary.incarnation < known || (summary.incarnation === known && (summary.state === 'alive' || state === 'dead' || state === 'left')))
    if (!skip) {
      if (summary.state === 'alive') this.merge({ kind: 'alive', member: summary.id, incarnation: summary.incarnation }, from)
      else if (summary.state === 'suspect') this.merge({ kind: 'suspect', member: summary.id, incarnation: summary.incarnation, from }, from)
      // A member that left tells so itself: its own word (from = member) keeps it "left", not "dead".
      else this.merge({ kind: 'dead', member: summary.id, incarnation: summary.incarnation, from: summary.state === 'left' ? summary.id : from }, from)
    }
    // Metadata only about a member this node tracks (the configuration admits it); the incarnation rule decides.
    if (summary.meta !== undefined && summary.id !== this.id && this.members.stateOf(summary.id) !== undefined) this.metas.offer(summary.id, summary.incarnation, summary.meta)
  }

  /** Anti-entropy: sends only the updates the holder of `theirs` lacks or holds older. */
  private sendMissing(to: NodeId, theirs: readonly (readonly [string, number])[]): void {
    const missing = this.updates.missingFrom(theirs)
    let first = 0
    let bytes = 0
    for (let index = 0; index < missing.length; index++) {
      bytes += missing[index]!.value.length
      if (index > first && bytes > updateLimits.updatesMessageBytesMax) {
        this.send(to, { type: 'updates', updates: missing.slice(first, index) })
        first = index
        bytes = missing[index]!.value.length
      }
    }
    if (first < missing.length) this.send(to, { type: 'updates', updates: first === 0 ? missing : missing.slice(first) })
  }

  private mergeUpdate(update: Update, via: NodeId): void {
    if (this.updates.accept(update) !== 'stored') return
    this.queue.add({ kind: 'update', key: update.key, version: update.version, value: update.value })
    this.out.events.push({ kind: 'update', key: update.key, version: update.version, from: via })
  }

  /** Applies one piece of news; queues it for others when it changed what this node believes. */
  private merge(news: News, via: NodeId): void {
    if (news.kind === 'update') return this.mergeUpdate(news, via)
    if (news.member === this.id) return this.mergeAboutSelf(news, via)
    if (this.admitted !== null && !this.admitted.has(news.member)) return
    const index = this.members.directory.indexOf(news.member)
    const state = this.members.stateAt(index)
    const incarnation = this.members.incarnationAt(index)
    if (news.kind === 'alive') {
      if (state === undefined) {
        if (!this.members.set(news.member, news.incarnation, 'alive')) return
        if (news.meta !== undefined) this.metas.offer(news.member, news.incarnation, news.meta)
        this.queue.add(news)
        this.emit(news.member, 'alive', news.incarnation, 'joined', via)
        return
      }
      const metaChanged = news.meta !== undefined && this.metas.offer(news.member, news.incarnation, news.meta)
      if (news.incarnation <= incarnation) {
        // Metadata first heard at the member's current incarnation (a cluster created together announces
        // none): pass it on. Never older news: it would replace newer news about the member in the queue.
        if (metaChanged && news.incarnation === incarnation && state === 'alive') this.queue.add(news)
        return
      }
      const wasDown = state === 'dead' || state === 'left'
      this.members.set(news.member, news.incarnation, 'alive')
      this.suspicions.delete(news.member)
      this.recentlyDead.delete(news.member)
      this.queue.add(news)
      // A member alive all along with new metadata changed it (memberlist's NotifyUpdate); otherwise it refuted.
      this.emit(news.member, 'alive', news.incarnation, wasDown ? 'joined' : metaChanged && state === 'alive' ? 'updated' : 'refuted', via)
      return
    }
    if (state === undefined || news.incarnation < incarnation) return
    if (state === 'dead' || state === 'left') return
    if (news.kind === 'suspect') {
      if (state === 'suspect' && news.incarnation === incarnation) {
        // As memberlist: only confirmations that count (suspicion.ts) are passed on.
        if (this.suspicions.confirm(news.member, news.from, this.suspicionTimeout())) {
          this.queue.add(news)
          this.emit(news.member, 'suspect', news.incarnation, 'confirmed', news.from)
        }
        return
      }
      this.members.set(news.member, news.incarnation, 'suspect')
      this.suspicions.start(news.member, news.from, this.ticks, this.suspicionTimeout())
      this.queue.add(news)
      this.emit(news.member, 'suspect', news.incarnation, 'suspected', news.from)
      return
    }
    const next = news.from === news.member ? 'left' : 'dead'
    this.members.set(news.member, news.incarnation, next)
    this.suspicions.delete(news.member)
    if (next === 'dead') this.recentlyDead.set(news.member, this.ticks)
    this.queue.add(news)
    this.emit(news.member, next, news.incarnation, next, news.from)
  }

  /** News about this node: a suspicion or death notice is refuted with a higher incarnation. */
  private mergeAboutSelf(news: MemberNews, via: NodeId): void {
    if (this.leaving) return
    if (news.kind === 'alive' && news.incarnation <= this.incarnation) return
    if (news.kind !== 'alive' && news.incarnation < this.incarnation) {
      // An accusation older than our last refutation: whoever passed it on missed that refutation (its
      // retransmits are spent) and would declare us dead at the old incarnation. Tell it directly.
      if (via !== this.id) this.send(via, { type: 'gossip', news: [this.selfAlive()] })
      return
    }
    this.incarnation = Math.max(this.incarnation, news.incarnation) + 1
    this.incarnationDirty = true
    this.members.set(this.id, this.incarnation, 'alive')
    this.queue.add(this.selfAlive())
    if (news.kind !== 'alive') {
      this.metrics.refutations++
      // Lifeguard: being suspected is a sign that we may be the slow one.
      this.changeAwareness(1)
      this.out.events.push({ kind: 'refuted', incarnation: this.incarnation, suspectedBy: news.from })
      // The accuser hears the refutation first hand: its suspicion runs out whether or not the gossip
      // reaches it (a slow accuser, Lifeguard's case, is the one gossip reaches last).
      if (news.from !== this.id) this.send(news.from, { type: 'gossip', news: [this.selfAlive()] })
    }
  }

  private emit(member: NodeId, state: MemberState, incarnation: number, reason: MemberChangeReason, by: NodeId): void {
    this.out.events.push({ kind: 'member', member, state, incarnation, reason, by })
  }

  /** Up to `count` distinct alive or suspect members, other than this node and `except`. */
  private randomLive(count: number, except: NodeId | null): NodeId[] {
    return this.members.randomLive(this.rng, count, except)
  }

  private piggyback(): News[] {
    return this.queue.take(this.config.piggybackMax, retransmitLimit(this.config.retransmitMult, this.liveCount))
  }

  private send(to: NodeId, message: GossipMessage): void {
    if (!this.out.send(to, message, gossipLimits.outboxMessagesMax)) return
    this.metrics.messagesSent++
    this.metrics.bytesSent += gossipBodyBytes(message)
  }

  hasReady(): boolean {
    return !this.out.isHandedOut && (this.incarnationDirty || this.updates.hasWrites || this.out.hasPending)
  }

  ready(): Ready<GossipMessage, GossipApplied, GossipEvent> {
    if (!this.out.isHandedOut && !this.hasReady()) return emptyReady
    const writes: StorageWrite[] = this.incarnationDirty ? [{ key: gossipStorageKeys.incarnation, value: encodeWith(this.incarnation, writeStoredIncarnation) }] : []
    writes.push(...this.updates.takeWrites())
    this.incarnationDirty = false
    // The incarnation must be durable before news of it leaves (a restart must never reuse it), and
    // an update before it is acknowledged or passed on (a crash must not lose what was acknowledged).
    return this.out.handOut(writes, writes.length > 0)
  }

  advance(ready: Ready<GossipMessage, GossipApplied, GossipEvent>): void {
    this.out.advance(ready)
  }
}

function writeStoredIncarnation(encoder: encoding.Encoder, incarnation: number): void {
  writeUint(encoder, incarnation)
}

function readStoredIncarnation(bytes: Uint8Array): number {
  try {
    return readUint(decoding.createDecoder(bytes), 0xffff_ffff, 'stored incarnation')
  } catch {
    // A torn record: start from 0; peers' news about a higher incarnation will be refuted upward.
    return 0
  }
}

/** Clusters above this size stretch the push-pull interval (memberlist's pushPullScaleThreshold). */
const pushPullScaleThreshold = 32

/**
 * memberlist's push-pull scaling: a full-state exchange costs O(N), so above
 * 32 members the interval grows by one step per doubling of the cluster and the
 * cluster's total push-pull traffic stays near O(N log N) instead of O(N²).
 */
export function pushPullScale(intervalTicks: number, members: number): number {
  if (members <= pushPullScaleThreshold) return intervalTicks
  return intervalTicks * (Math.ceil(Math.log2(members) - Math.log2(pushPullScaleThreshold)) + 1)
}
