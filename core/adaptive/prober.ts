/**
 * The part of a node that measures its links and decides their modes: it
 * probes every peer once per probe interval (round-robin beyond
 * `peersPerIntervalMax` peers), times the answers, counts unanswered probes
 * as lost after `probeTimeoutMs`, and hands each new measurement to the mode
 * detector. Owns one `LinkTable` and one `ModeDetector`.
 *
 * Sans-IO: the host calls `tick` and `handleMessage` with the time and sends what
 * they return. Round trips are measured from the send time kept here, never
 * from a time a peer sends back, so a peer can refuse to answer but cannot
 * make its link look faster than it is.
 */
import { assertFailed } from '../lib/assert.ts'
import { isValidId } from '../lib/limits.ts'
import { err, type Result } from '../lib/result.ts'
import type { NodeId } from '../ports.ts'
import type { Outbound, Refusal } from '../ready.ts'
import { ForecastAccuracy, statsOf, type ForecastStats } from './forecastAccuracy.ts'
import type { GroupModeSnapshot } from './groupModeDetector.ts'
import { defaultLinkEstimatorConfig, linkLimits, type LinkEstimatorConfig } from './linkConfig.ts'
import type { LinkEstimate } from './linkEstimator.ts'
import { measurementOf } from './linkMeasurement.ts'
import type { LinkModeSnapshot } from './linkModeDetector.ts'
import { LinkTable } from './linkTable.ts'
import type { Mode } from './mode.ts'
import { defaultModeDetectorConfig, modeLimits, type ModeDetectorConfig } from './modeConfig.ts'
import { ModeDetector } from './modeDetector.ts'
import type { ModeChangedEvent } from './modeEvents.ts'
import { OutstandingProbes } from './outstandingProbes.ts'
import { describeProbeMessage, isWellFormedProbeMessage, type ProbeMessage } from './probeMessages.ts'
import { defaultProberConfig, proberLimits, validateProberConfig, type ProberConfig } from './proberConfig.ts'

export type ProbeOut = Outbound<ProbeMessage>

export interface ProberOptions {
  readonly id: NodeId
  /** The other nodes; this node's own id, if listed, is left out. */
  readonly peers: readonly NodeId[]
  readonly config?: ProberConfig
  readonly modeConfig?: ModeDetectorConfig
  readonly linkConfig?: LinkEstimatorConfig
  /**
   * Probe rounds on every this-many-th tick (counted by `tick`) instead of every probeIntervalMs of the
   * clock, so they share the ticks of other aligned timers (ReplicaConfig.alignedPeriods). Default: the clock.
   */
  readonly roundTicks?: number
}

/** What one peer message led to: an answer to send, the mode changes it completed, or why it was refused. */
export interface ProbeResult {
  readonly reply: ProbeOut | null
  readonly changes: readonly ModeChangedEvent[]
  readonly refusal: Refusal | null
}

export interface ProberMetrics {
  probesSent: number
  /** Answers that matched an outstanding probe. */
  acksReceived: number
  /** Probes counted lost: past their timeout, or pushed out of a full outstanding map. */
  probesLost: number
  /** Peer messages refused (malformed, unknown peer, unknown probe, forged send time, time going back). */
  refused: number
  modeChanges: number
  /** Changes decided in ticks and dropped because `takeChanges` was not called for `pendingChangesMax` of them. */
  changesDropped: number
}

export interface ProberLinkSnapshot {
  readonly peer: NodeId
  /** The reported mode (the override while one is set). */
  readonly mode: Mode
  readonly modeState: LinkModeSnapshot
  /** Null before any probe outcome was recorded. */
  readonly estimate: LinkEstimate | null
  readonly outstandingProbes: number
  readonly forecast: ForecastStats
}

export interface ProberSnapshot {
  readonly links: readonly ProberLinkSnapshot[]
  readonly groups: readonly GroupModeSnapshot[]
  readonly metrics: Readonly<ProberMetrics>
  readonly forecast: ForecastStats
}

type Changes = Result<readonly ModeChangedEvent[], Refusal>

interface PeerState {
  readonly outstanding: OutstandingProbes
  readonly forecast: ForecastAccuracy
  /** Send time of the newest answered probe: the estimator's forecast is for the next probe in send order, so older answers are not checked against it. */
  newestAnsweredSentAtMs: number
}

/** The forecast checked is always one answered probe ahead, whatever horizon the estimate reports. */
const forecastCheckSteps = 1

export class Prober {
  readonly id: NodeId
  peers: readonly NodeId[]
  readonly config: ProberConfig
  readonly metrics: ProberMetrics = { probesSent: 0, acksReceived: 0, probesLost: 0, refused: 0, modeChanges: 0, changesDropped: 0 }
  private readonly linkTable: LinkTable
  private readonly modeDetector: ModeDetector
  private readonly states = new Map<NodeId, PeerState>()
  private nextSeq = 0
  /** Where the next round of probes starts in `peers`: peers take turns when they exceed peersPerIntervalMax. */
  private roundRobinIndex = 0
  private nextProbeAtMs = -Infinity
  /** Latest time passed in: every input must come at or after it (the mode detector requires it). */
  private lastAtMs = -Infinity
  /** Ticks per probe round when rounds follow ticks, else null (rounds follow the clock). */
  private readonly roundTicks: number | null
  private ticks = 0
  /** Changes decided inside `tick` (by lost probes), until `takeChanges`. */
  private pendingChanges: ModeChangedEvent[] = []

  /** Throws a RangeError for a bad config, id or peer list: those are the host's, not a peer's. */
  constructor(options: ProberOptions) {
    const config = options.config ?? defaultProberConfig
    validateProberConfig(config)
    if (!isValidId(options.id)) throw new RangeError(`prober id ${JSON.stringify(options.id)} is not a valid node id`)
    const peers = options.peers.filter((peer) => peer !== options.id)
    const peersMax = Math.min(linkLimits.peersMax, modeLimits.linksMax)
    if (peers.length > peersMax) throw new RangeError(`prober peers must be at most ${peersMax}, got ${peers.length}`)
    if (new Set(peers).size !== peers.length) throw new RangeError('prober peers must not list a peer twice')
    for (const peer of peers) if (!isValidId(peer)) throw new RangeError(`prober peers has an invalid node id ${JSON.stringify(peer)}`)
    this.id = options.id
    this.peers = peers
    this.config = config
    if (options.roundTicks !== undefined && !(Number.isInteger(options.roundTicks) && options.roundTicks >= 1)) throw new RangeError(`prober roundTicks must be an integer >= 1, got ${options.roundTicks}`)
    this.roundTicks = options.roundTicks ?? null
    // Room for every peer a cluster configuration may bring later (setPeers), not only the first ones.
    this.linkTable = new LinkTable({ config: options.linkConfig ?? defaultLinkEstimatorConfig, peersMax: peersMax })
    this.modeDetector = new ModeDetector(options.modeConfig ?? defaultModeDetectorConfig)
    for (const peer of peers) {
      const refusal = this.modeDetector.addLink(peer)
      if (refusal !== null) assertFailed(`adding a validated peer's link was refused: ${refusal.message}`)
      this.states.set(peer, { outstanding: new OutstandingProbes(config.outstandingProbesMax), forecast: new ForecastAccuracy(), newestAnsweredSentAtMs: -Infinity })
    }
  }

  /**
   * Expires probes past their timeout (counted lost, and the detector told),
   * then, once a probe interval has passed, returns the round of probes due.
   * Intervals missed by a late tick are skipped, not made up in a burst. Mode
   * changes the losses cause wait for `takeChanges`.
   */
  tick(nowMs: number): ProbeOut[] {
    if (!(Number.isFinite(nowMs) && nowMs >= 0)) assertFailed(`tick needs a finite nowMs >= 0, got ${nowMs}`)
    this.ticks++
    // A host clock stepped back: nothing falls due until it passes the latest time seen again.
    if (nowMs < this.lastAtMs) return []
    this.lastAtMs = nowMs
    for (const [peer, state] of this.states) this.expire(peer, state, nowMs, this.pendingChanges)
    if (this.roundTicks !== null) return this.ticks % this.roundTicks === 0 ? this.probeRound(nowMs) : []
    if (nowMs < this.nextProbeAtMs) return []
    const intervalMs = this.config.probeIntervalMs
    this.nextProbeAtMs = this.nextProbeAtMs === -Infinity ? nowMs + intervalMs : this.nextProbeAtMs + intervalMs * (Math.floor((nowMs - this.nextProbeAtMs) / intervalMs) + 1)
    return this.probeRound(nowMs)
  }

  /**
   * The earliest time at which `tick` may have work (a probe round, a probe
   * running out): -Infinity before the first round, which the first tick
   * sends. Read-only.
   */
  nextWorkAtMs(): number {
    let earliest = this.roundTicks === null ? this.nextProbeAtMs : Number.POSITIVE_INFINITY
    for (const state of this.states.values()) earliest = Math.min(earliest, state.outstanding.oldestSentAtMs() + this.config.probeTimeoutMs)
    // A clock stepped back waits for the latest time seen (see tick).
    return Math.max(earliest, this.lastAtMs)
  }

  /** With rounds on ticks: ticks until the next round (Infinity when rounds follow the clock: see nextWorkAtMs). */
  ticksUntilRound(): number {
    if (this.roundTicks === null) return Number.POSITIVE_INFINITY
    return this.roundTicks - (this.ticks % this.roundTicks)
  }

  /** Mode changes decided inside `tick` since the last call, in order; call it after each tick. */
  takeChanges(): readonly ModeChangedEvent[] {
    const changes = this.pendingChanges
    this.pendingChanges = []
    return changes
  }

  /**
   * A probe message from `from`. A probe is answered by echoing it; an answer
   * matching a probe still outstanding to that peer records the round trip and
   * feeds the mode detector. Anything else is refused and changes nothing.
   */
  handleMessage(from: NodeId, message: ProbeMessage, nowMs: number): ProbeResult {
    if (!isWellFormedProbeMessage(message)) return this.refuse({ code: 'invalidMessage', message: `a probe message has type probe or probeAck and integer seq and sentAtMs >= 0, got ${JSON.stringify(message)}` })
    const timeRefusal = this.checkTime(nowMs)
    if (timeRefusal !== null) return this.refuse(timeRefusal)
    this.lastAtMs = nowMs
    if (message.type === 'probe') {
      // Any valid node is answered, not only known peers: a node that just joined measures us before we know it.
      if (!isValidId(from)) return this.refuse({ code: 'invalidId', message: `invalid sender id ${JSON.stringify(from)}` })
      return { reply: { to: from, message: { type: 'probeAck', seq: message.seq, sentAtMs: message.sentAtMs } }, changes: [], refusal: null }
    }
    const state = this.states.get(from)
    if (state === undefined) return this.refuse({ code: 'unknownPeer', message: `${describeProbeMessage(message)} from ${JSON.stringify(from)}, which this node does not probe` })
    const changes: ModeChangedEvent[] = []
    // Expire first: an answer later than the timeout then finds its probe already counted lost.
    this.expire(from, state, nowMs, changes)
    const sentAtMs = state.outstanding.sentAtMs(message.seq)
    if (sentAtMs === undefined) {
      return this.refuse({ code: 'unknownProbe', message: `${describeProbeMessage(message)} from ${from}: no such probe outstanding (never sent, already answered, or counted lost)` }, changes)
    }
    if (wireMs(sentAtMs) !== message.sentAtMs) {
      // The probe stays outstanding: its true answer may still come.
      return this.refuse({ code: 'forgedTime', message: `${describeProbeMessage(message)} from ${from}: probe #${message.seq} was sent at ${wireMs(sentAtMs)} ms` }, changes)
    }
    state.outstanding.delete(message.seq)
    const rttMs = nowMs - sentAtMs
    this.checkForecast(from, state, sentAtMs, rttMs)
    this.record(from, sentAtMs, rttMs)
    this.metrics.acksReceived++
    this.observe(from, nowMs, changes)
    return { reply: null, changes, refusal: null }
  }

  /**
   * Follows the cluster configuration: new peers are probed from the next
   * round, dropped ones forgotten (take them out of every group first, with
   * setGroup: a link a group holds is not dropped). Refused for a bad list.
   */
  setPeers(peers: readonly NodeId[]): Refusal | null {
    const next = peers.filter((peer) => peer !== this.id)
    const peersMax = Math.min(linkLimits.peersMax, modeLimits.linksMax)
    if (next.length > peersMax) return { code: 'tooManyPeers', message: `prober peers must be at most ${peersMax}, got ${next.length}` }
    if (new Set(next).size !== next.length) return { code: 'duplicatePeer', message: 'prober peers must not list a peer twice' }
    for (const peer of next) if (!isValidId(peer)) return { code: 'invalidId', message: `invalid node id ${JSON.stringify(peer)}` }
    const kept = new Set(next)
    for (const peer of this.peers) {
      if (kept.has(peer)) continue
      const refusal = this.modeDetector.removeLink(peer)
      if (refusal !== null) return refusal
      this.states.delete(peer)
      this.linkTable.forget(peer)
    }
    for (const peer of next) {
      if (this.states.has(peer)) continue
      const refusal = this.modeDetector.addLink(peer)
      if (refusal !== null) return refusal
      this.states.set(peer, { outstanding: new OutstandingProbes(this.config.outstandingProbesMax), forecast: new ForecastAccuracy(), newestAnsweredSentAtMs: -Infinity })
    }
    this.peers = next
    this.roundRobinIndex = 0
    return null
  }

  /** Creates a group of links or changes its members (see `ModeDetector.setGroup`); every member must be one of `peers`. */
  setGroup(groupId: string, memberPeers: readonly NodeId[], selfIsMember: boolean, nowMs: number): Changes {
    return this.timed(nowMs, () => this.modeDetector.setGroup(groupId, { links: memberPeers, selfIsMember }, nowMs))
  }

  removeGroup(groupId: string): Refusal | null {
    return this.modeDetector.removeGroup(groupId)
  }

  setLinkOverride(peer: NodeId, mode: Mode | null, nowMs: number): Changes {
    return this.timed(nowMs, () => this.modeDetector.setLinkOverride(peer, mode, nowMs))
  }

  setGroupOverride(groupId: string, mode: Mode | null, nowMs: number): Changes {
    return this.timed(nowMs, () => this.modeDetector.setGroupOverride(groupId, mode, nowMs))
  }

  linkMode(peer: NodeId): Mode | undefined {
    return this.modeDetector.linkMode(peer)
  }

  groupMode(groupId: string): Mode | undefined {
    return this.modeDetector.groupMode(groupId)
  }

  /** The peer's link estimate, or null before any probe outcome (or for a peer not probed). */
  estimate(peer: NodeId): LinkEstimate | null {
    return this.linkTable.estimate(peer)
  }

  /**
   * `bytes` reached `peer` in `durationMs`. Probes are tiny and say nothing
   * about bandwidth: it is known only from transfers the host measured
   * (replication batches, snapshots), and stays unknown (null) until one is.
   * The next measurement handed to the detector carries it.
   */
  recordTransfer(peer: NodeId, bytes: number, durationMs: number): Refusal | null {
    if (!this.states.has(peer)) return { code: 'unknownPeer', message: `no link to ${JSON.stringify(peer)}` }
    return this.linkTable.recordTransfer(peer, bytes, durationMs)
  }

  /** Forecast accuracy over every peer's answered probes. */
  forecastStats(): ForecastStats {
    const total = { samples: 0, absolutePercentageErrorSum: 0 }
    for (const state of this.states.values()) state.forecast.addTo(total)
    return statsOf(total.samples, total.absolutePercentageErrorSum)
  }

  snapshot(): ProberSnapshot {
    const modes = this.modeDetector.snapshot()
    const modeStateOf = new Map(modes.links.map((link) => [link.id, link]))
    const links = this.peers.map((peer): ProberLinkSnapshot => {
      const state = this.states.get(peer)!
      const modeState = modeStateOf.get(peer)!
      return { peer, mode: modeState.mode, modeState, estimate: this.linkTable.estimate(peer), outstandingProbes: state.outstanding.size, forecast: state.forecast.stats() }
    })
    return { links, groups: modes.groups, metrics: { ...this.metrics }, forecast: this.forecastStats() }
  }

  /** Probes the next `peersPerIntervalMax` peers in turn (all of them when there are no more). */
  private probeRound(nowMs: number): ProbeOut[] {
    const count = Math.min(this.peers.length, this.config.peersPerIntervalMax)
    const probes: ProbeOut[] = []
    for (let i = 0; i < count; i++) {
      const peer = this.peers[(this.roundRobinIndex + i) % this.peers.length]!
      const seq = this.nextSeq++
      const evictedSentAtMs = this.states.get(peer)!.outstanding.add(seq, nowMs)
      if (evictedSentAtMs !== null) {
        // Room for the new probe: the oldest unanswered one counts as lost before its timeout.
        this.record(peer, evictedSentAtMs, null)
        this.observe(peer, nowMs, this.pendingChanges)
      }
      probes.push({ to: peer, message: { type: 'probe', seq, sentAtMs: wireMs(nowMs) } })
      this.metrics.probesSent++
    }
    if (this.peers.length > 0) this.roundRobinIndex = (this.roundRobinIndex + count) % this.peers.length
    return probes
  }

  /** Counts the peer's probes past their timeout as lost; one measurement for them all, so one tick is one sample for the detector, not several. */
  private expire(peer: NodeId, state: PeerState, nowMs: number, changes: ModeChangedEvent[]): void {
    const expired = state.outstanding.expire(nowMs, this.config.probeTimeoutMs)
    if (expired.length === 0) return
    for (const sentAtMs of expired) this.record(peer, sentAtMs, null)
    this.observe(peer, nowMs, changes)
  }

  private record(peer: NodeId, sentAtMs: number, rttMs: number | null): void {
    // Send times are the host's (>= 0), round trips below probeTimeoutMs <= rttMsMax, the peer is in the table's bound.
    const refusal = this.linkTable.recordProbe(peer, sentAtMs, rttMs)
    if (refusal !== null) assertFailed(`recording a probe of ${peer} was refused: ${refusal.message}`)
    if (rttMs === null) this.metrics.probesLost++
  }

  /** The forecast made before this answer, against the round trip it brought; answers older than one already checked are skipped. */
  private checkForecast(peer: NodeId, state: PeerState, sentAtMs: number, rttMs: number): void {
    if (sentAtMs < state.newestAnsweredSentAtMs) return
    state.newestAnsweredSentAtMs = sentAtMs
    const forecastRttMs = this.linkTable.get(peer)?.forecastRttMs(forecastCheckSteps) ?? null
    if (forecastRttMs !== null) state.forecast.record(forecastRttMs, rttMs)
  }

  /** Hands the peer's current measurement to the detector and collects the changes it completes. */
  private observe(peer: NodeId, nowMs: number, changes: ModeChangedEvent[]): void {
    const estimator = this.linkTable.get(peer)
    const measurement = estimator === undefined ? null : measurementOf(estimator)
    // Losses before any answer: no round trip to measure yet, nothing to decide.
    if (measurement === null) return
    const result = this.modeDetector.observe(peer, measurement, nowMs)
    if (!result.ok) assertFailed(`the mode detector refused a measurement of ${peer}: ${result.error.message}`)
    this.collect(result.value, changes)
  }

  private collect(events: readonly ModeChangedEvent[], into: ModeChangedEvent[]): void {
    for (const event of events) {
      into.push(event)
      this.metrics.modeChanges++
    }
    if (into === this.pendingChanges && into.length > proberLimits.pendingChangesMax) {
      const dropped = into.length - proberLimits.pendingChangesMax
      into.splice(0, dropped)
      this.metrics.changesDropped += dropped
    }
  }

  /** Runs a timed detector input after the prober's own time check, so the prober and its detector share one clock. */
  private timed(nowMs: number, run: () => Changes): Changes {
    const refusal = this.checkTime(nowMs)
    if (refusal !== null) return err(refusal)
    const result = run()
    if (!result.ok) return result
    this.lastAtMs = nowMs
    this.metrics.modeChanges += result.value.length
    return result
  }

  private checkTime(nowMs: number): Refusal | null {
    if (!(Number.isFinite(nowMs) && nowMs >= 0)) return { code: 'invalidTime', message: `nowMs must be a finite number >= 0, got ${nowMs}` }
    if (nowMs < this.lastAtMs) return { code: 'timeWentBack', message: `nowMs ${nowMs} is before the previous input's ${this.lastAtMs}` }
    return null
  }

  private refuse(refusal: Refusal, changes: readonly ModeChangedEvent[] = []): ProbeResult {
    this.metrics.refused++
    return { reply: null, changes, refusal }
  }
}

/** The send time as the wire carries it: whole ms (a varuint), while the exact time stays here for the round trip. */
function wireMs(timeMs: number): number {
  return Math.floor(timeMs)
}
