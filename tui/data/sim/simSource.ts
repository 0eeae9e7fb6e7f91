/**
 * A simulation as a source: runs a SimWorld in virtual time paced to the
 * wall clock (play, pause, step to the next event, speed ×0.1 to ×1000), and
 * jumps back by building the world again from its seed and replaying the
 * faults injected by hand at their virtual times (the run is deterministic,
 * so that is the same run). Running the simulator takes at most a share of
 * each frame, so the screen stays responsive when the simulator cannot keep
 * up: virtual time then runs slower than asked, and the status says so.
 */
import type { RunResult } from '../../../sim/scenario.ts'
import { worstViolationKind, type Violation } from '../../../sim/violation.ts'
import { clusterEvent, noteEvent, type ClusterEvent } from '../clusterEvent.ts'
import type { ClusterSource, FaultRequest, FaultTarget, KeyReading } from '../clusterSource.ts'
import { EventRing } from '../eventRing.ts'
import type { NodeSnapshot, SnapshotDetail } from '../nodeSnapshot.ts'
import { Store } from '../source.ts'
import type { NodeEntry, SimStatus, SourceState } from '../sourceState.ts'
import { systemTimers, type Timers } from '../timers.ts'
import type { SimFault, SimWorld, SimWorldKind, WorldEvent } from './simWorld.ts'

export const simPacing = {
  /** A frame: the simulator runs, then the source publishes what changed. */
  frameIntervalMs: 50,
  /** Share of each frame the simulator may run: the rest is the screen's. */
  budgetShare: 0.5,
  /** Virtual time run at once while playing (one replica tick): the budget is checked between chunks. */
  chunkUs: 10_000,
  /** Virtual time run at once while seeking. */
  seekChunkUs: 100_000,
  /** A step runs this much at a time until an event happens, at most stepMaxUs. */
  stepChunkUs: 1_000,
  stepMaxUs: 10_000_000,
  /** Wall time a step may take before it gives up (a quiet cluster). */
  stepBudgetMs: 500,
  /** Up to this many nodes every snapshot has its whole membership view; beyond, only the focused nodes'. */
  detailNodesMax: 64,
  /** Beyond detailNodesMax, nodes whose status is read per frame (in turn): a thousand nodes every 2.5 s at 20 frames a second. */
  statusNodesPerFrame: 20,
  /** Wall time between two frames beyond which the gap does not count toward virtual time (a blocked event loop). */
  frameGapMsMax: 250,
  speeds: [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
  /** Faults injected by hand in one run (each is replayed on every jump back). */
  faultsMax: 1_000,
} as const

export interface SimSourceOptions {
  readonly kind: SimWorldKind
  readonly seed: number
  readonly nodes?: number
  readonly timers?: Timers
  /** Start playing right away (default true). */
  readonly play?: boolean
  readonly speed?: number
  readonly frameIntervalMs?: number
  readonly budgetShare?: number
  readonly eventsMax?: number
}

interface InjectedFault {
  readonly atUs: number
  readonly fault: SimFault
  readonly text: string
}

export class SimSource implements ClusterSource, FaultTarget {
  private readonly kind: SimWorldKind
  private readonly seed: number
  private readonly nodes: number | undefined
  private readonly timers: Timers
  private readonly frameIntervalMs: number
  private readonly budgetShare: number
  private readonly eventsMax: number | undefined
  private readonly store: Store<SourceState>
  private readonly indexById: ReadonlyMap<string, number>
  private world!: SimWorld
  private ring!: EventRing
  private seqs!: number[]
  private lastSnapshots!: (NodeSnapshot | null)[]
  private lastSnapshotAtMs!: (number | null)[]
  private lastEntries!: (NodeEntry | null)[]
  /** The events array last published, and of which ring and count: copied again only when there are new ones. */
  private eventsCache: { readonly ring: EventRing; readonly total: number; readonly events: readonly ClusterEvent[] } | null = null
  private playing: boolean
  private speed: number
  private achievedSpeed = 0
  private faults: InjectedFault[] = []
  /** Faults of `faults` applied to the current world (they are sorted by time). */
  private faultsApplied = 0
  /** The verdict of a run that reached its end, and the faults it had: still this run's while they are the same. */
  private known: { readonly faultsKey: string; readonly result: RunResult } | null = null
  private resultSeen = false
  private crash: Violation | null = null
  private seekToUs: number | null = null
  private focusIds = new Set<string>()
  /** The first node of the next frame's status readings (see statusNodesPerFrame). */
  private rotation = 0
  private timer: unknown = null
  private lastFrameMs: number
  private closed = false

  constructor(options: SimSourceOptions) {
    this.kind = options.kind
    this.seed = options.seed
    this.nodes = options.nodes
    this.timers = options.timers ?? systemTimers
    this.frameIntervalMs = options.frameIntervalMs ?? simPacing.frameIntervalMs
    this.budgetShare = options.budgetShare ?? simPacing.budgetShare
    this.eventsMax = options.eventsMax
    this.playing = options.play ?? true
    this.speed = options.speed ?? 1
    this.lastFrameMs = this.timers.nowMs()
    this.build()
    this.indexById = new Map(Array.from({ length: this.world.nodeCount }, (_, index) => [this.world.node(index).id, index]))
    this.store = new Store(this.state())
    this.schedule()
  }

  getSnapshot = (): SourceState => this.store.getSnapshot()
  subscribe = (listener: () => void): (() => void) => this.store.subscribe(listener)

  // ---- controls -------------------------------------------------------------

  play(): void {
    if (this.playing || this.stoppedBecause() !== null) return
    this.playing = true
    this.lastFrameMs = this.timers.nowMs()
    this.changed()
  }

  pause(): void {
    if (!this.playing) return
    this.playing = false
    this.changed()
  }

  togglePlay(): void {
    if (this.playing) this.pause()
    else this.play()
  }

  /** The next speed up (+1) or down (-1) of simPacing.speeds. */
  changeSpeed(direction: 1 | -1): void {
    const speeds = simPacing.speeds
    const at = speeds.findIndex((speed) => speed >= this.speed)
    const index = Math.min(speeds.length - 1, Math.max(0, (at === -1 ? speeds.length - 1 : at) + direction))
    this.setSpeed(speeds[index]!)
  }

  setSpeed(speed: number): void {
    const speeds = simPacing.speeds
    if (!(speed >= speeds[0]! && speed <= speeds[speeds.length - 1]!)) throw new RangeError(`speed must be ×${speeds[0]} to ×${speeds[speeds.length - 1]}, got ${speed}`)
    this.speed = speed
    this.changed()
  }

  /** Pauses and runs until the next event happens (at most simPacing.stepMaxUs of virtual time). */
  step(): void {
    if (this.stoppedBecause() !== null) return
    this.playing = false
    this.seekToUs = null
    const startUs = this.world.nowUs
    const total = this.ring.total
    const deadlineMs = this.timers.nowMs() + simPacing.stepBudgetMs
    while (this.ring.total === total && this.world.nowUs - startUs < simPacing.stepMaxUs && this.stoppedBecause() === null) {
      this.runTo(this.world.nowUs + simPacing.stepChunkUs)
      if (this.timers.nowMs() >= deadlineMs) break
    }
    this.publish()
  }

  /** Goes to virtual time `targetUs`: forward by running, back by replaying from the seed; frame by frame, so the screen stays live. */
  seek(targetUs: number): void {
    const target = Math.max(0, Math.floor(targetUs))
    if (target < this.world.nowUs) this.build()
    this.seekToUs = target
    this.changed()
  }

  seekBy(deltaUs: number): void {
    this.seek((this.seekToUs ?? this.world.nowUs) + deltaUs)
  }

  /** Forgets the faults injected by hand and starts the run over. */
  reset(): void {
    this.faults = []
    this.known = null
    this.build()
    this.seekToUs = null
    this.changed()
  }

  inject(request: FaultRequest): Promise<string> {
    try {
      if (this.faults.length >= simPacing.faultsMax) throw new RangeError(`more than faultsMax=${simPacing.faultsMax} faults injected; reset the run (:reset)`)
      const fault = this.simFault(request)
      const text = this.world.apply(fault)
      this.faults.splice(this.faultsApplied, 0, { atUs: this.world.nowUs, fault, text })
      this.faultsApplied++
      this.ring.push(noteEvent(request.kind === 'heal' ? '-' : request.node, this.world.nowUs / 1000, 'tui', request.kind, text))
      this.publish()
      return Promise.resolve(text)
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)))
    }
  }

  // ---- ClusterSource ----------------------------------------------------------

  focus(nodeIds: readonly string[]): void {
    const next = new Set(nodeIds)
    if (next.size === this.focusIds.size && [...next].every((id) => this.focusIds.has(id))) return
    this.focusIds = next
    if (this.world.nodeCount > simPacing.detailNodesMax) this.publish()
  }

  hasNode(nodeId: string): boolean {
    return this.indexById.has(nodeId)
  }

  readKey(nodeId: string, key: string): Promise<KeyReading> {
    const index = this.indexById.get(nodeId)
    if (index === undefined) return Promise.resolve({ ok: false, error: `no node ${nodeId}` })
    const value = this.world.readKey(index, key)
    if (value === null) return Promise.resolve({ ok: false, error: this.world.node(index).up ? `${nodeId} holds no keys` : `${nodeId} is down` })
    return Promise.resolve({ ok: true, value })
  }

  close(): void {
    this.closed = true
    this.playing = false
    if (this.timer !== null) this.timers.clearTimeout(this.timer)
    this.timer = null
  }

  // ---- running ------------------------------------------------------------------

  /** One frame: run the simulator within its budget, publish, schedule the next. */
  frame(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer)
    this.timer = null
    if (this.closed) return
    const nowMs = this.timers.nowMs()
    const elapsedMs = Math.min(nowMs - this.lastFrameMs, simPacing.frameGapMsMax)
    this.lastFrameMs = nowMs
    const deadlineMs = nowMs + this.frameIntervalMs * this.budgetShare
    const startUs = this.world.nowUs
    if (this.seekToUs !== null) {
      this.advance(this.seekToUs, simPacing.seekChunkUs, deadlineMs)
      if (this.world.nowUs >= this.seekToUs || this.stoppedBecause() !== null) this.seekToUs = null
    } else if (this.playing && this.stoppedBecause() === null) {
      this.advance(startUs + Math.round(elapsedMs * 1000 * this.speed), simPacing.chunkUs, deadlineMs)
      const achieved = elapsedMs > 0 ? (this.world.nowUs - startUs) / 1000 / elapsedMs : this.speed
      this.achievedSpeed = this.achievedSpeed === 0 ? achieved : this.achievedSpeed * 0.8 + achieved * 0.2
    }
    if (this.stoppedBecause() !== null) this.playing = false
    this.publish()
    this.schedule()
  }

  private advance(targetUs: number, chunkUs: number, deadlineMs: number): void {
    while (this.world.nowUs < targetUs && this.stoppedBecause() === null) {
      this.runTo(Math.min(targetUs, this.world.nowUs + chunkUs))
      if (this.timers.nowMs() >= deadlineMs) break
    }
  }

  /** Runs the world to `untilUs`, applying the injected faults that fall due on the way (at their exact times). */
  private runTo(untilUs: number): void {
    try {
      for (;;) {
        const next = this.faults[this.faultsApplied]
        if (next === undefined || next.atUs > untilUs) break
        if (next.atUs > this.world.nowUs) this.world.runUntil(next.atUs)
        this.world.apply(next.fault)
        this.ring.push(noteEvent('-', next.atUs / 1000, 'tui', next.fault.kind, `${next.text} (replayed)`))
        this.faultsApplied++
      }
      this.world.runUntil(untilUs)
    } catch (error) {
      const thrown = error instanceof Error ? error : new Error(String(error))
      this.crash = { seed: this.seed, invariant: 'noCrash', kind: 'crash', atMs: Math.floor(this.world.nowUs / 1000), message: `${thrown.name}: ${thrown.message}` }
      this.ring.push(noteEvent('-', this.world.nowUs / 1000, 'violation', 'crash', this.crash.message))
    }
    const result = this.world.result
    if (result !== null && !this.resultSeen) {
      this.resultSeen = true
      this.known = { faultsKey: this.faultsKey(), result }
      for (const violation of result.violations) this.ring.push(noteEvent(violation.node ?? '-', violation.atMs, 'violation', violation.invariant, `[${violation.kind}] ${violation.message}`))
      if (result.violations.length === 0) this.ring.push(noteEvent('-', this.world.nowUs / 1000, 'sim', 'verdict', 'every invariant held'))
    }
  }

  /** The next frame one interval after the last one began (not after it ended: frames keep their rate while they work). */
  private schedule(): void {
    if (this.closed || this.timer !== null || (!this.playing && this.seekToUs === null)) return
    const delayMs = Math.max(0, this.lastFrameMs + this.frameIntervalMs - this.timers.nowMs())
    this.timer = this.timers.setTimeout(() => this.frame(), delayMs)
  }

  /** A control changed: publish now, and make sure frames run if they should. */
  private changed(): void {
    this.publish()
    this.schedule()
  }

  /** A new world from the seed: the run from its start. */
  private build(): void {
    this.world = this.kind.create({ seed: this.seed, nodes: this.nodes })
    this.ring = new EventRing(this.eventsMax)
    this.seqs = new Array(this.world.nodeCount).fill(0)
    this.lastSnapshots = new Array(this.world.nodeCount).fill(null)
    this.lastSnapshotAtMs = new Array(this.world.nodeCount).fill(null)
    this.lastEntries = new Array(this.world.nodeCount).fill(null)
    this.faultsApplied = 0
    this.resultSeen = false
    this.crash = null
    this.world.onEvent = (event) => this.record(event)
  }

  private record(event: WorldEvent): void {
    const atMs = this.world.nowUs / 1000
    if (event.kind === 'note') return this.ring.push(noteEvent(event.node === null ? '-' : this.world.node(event.node).id, atMs, 'sim', event.node === null ? 'run' : 'node', event.text))
    const id = this.world.node(event.node).id
    this.ring.push(clusterEvent(id, ++this.seqs[event.node]!, atMs, event.event))
  }

  private simFault(request: FaultRequest): SimFault {
    if (request.kind === 'heal') return request
    const node = this.indexById.get(request.node)
    if (node === undefined) throw new RangeError(`no node ${request.node} in this simulation`)
    return request.kind === 'latency' ? { kind: 'latency', node, rttMs: request.rttMs } : { kind: request.kind, node }
  }

  private faultsKey(): string {
    return JSON.stringify(this.faults.map(({ atUs, fault }) => [atUs, fault]))
  }

  private stoppedBecause(): string | null {
    return this.crash === null ? null : this.crash.message
  }

  private publish(): void {
    if (this.store !== undefined) this.store.set(this.state())
  }

  private state(): SourceState {
    const world = this.world
    const detailAll = world.nodeCount <= simPacing.detailNodesMax
    const nodes: NodeEntry[] = new Array(world.nodeCount)
    const atMs = world.nowUs / 1000
    // Beyond detailNodesMax, reading a node's status is a pass over every member: the focused nodes are read every
    // frame, the others statusNodesPerFrame at a time in turn, and keep their last reading in between.
    const count = world.nodeCount
    const rotation = this.rotation
    this.rotation = (rotation + simPacing.statusNodesPerFrame) % count
    for (let index = 0; index < count; index++) {
      const info = world.node(index)
      if (info.up) {
        const last = this.lastSnapshots[index] ?? null
        if (detailAll || this.focusIds.has(info.id)) this.read(index, 'members', atMs)
        else if ((index - rotation + count) % count < simPacing.statusNodesPerFrame || last === null) this.read(index, last === null ? 'none' : 'status', atMs)
        else if (last !== null && last.kind === 'gossip' && last.gossip.members !== null) this.lastSnapshots[index] = { kind: 'gossip', gossip: { ...last.gossip, members: null } }
      }
      // The same entry while the node is unchanged: the screens keep what they derived from it (overviewRow).
      const previous = this.lastEntries[index]
      const snapshot = this.lastSnapshots[index]!
      const snapshotAtMs = this.lastSnapshotAtMs[index]!
      nodes[index] =
        previous !== null && previous !== undefined && previous.snapshot === snapshot && previous.up === info.up && previous.snapshotAtMs === snapshotAtMs
          ? previous
          : (this.lastEntries[index] = { id: info.id, region: info.region, up: info.up, snapshot, snapshotAtMs, url: null })
    }
    const cache = this.eventsCache
    const events = cache !== null && cache.ring === this.ring && cache.total === this.ring.total ? cache.events : this.ring.toArray()
    this.eventsCache = { ring: this.ring, total: this.ring.total, events }
    return {
      label: `sim ${world.scenario} seed ${this.seed}`,
      connection: { kind: 'live', sinceMs: 0 },
      nodes,
      events,
      eventsTotal: this.ring.total,
      eventsDropped: this.ring.dropped,
      sim: this.status(),
    }
  }

  private read(index: number, detail: SnapshotDetail, atMs: number): void {
    this.lastSnapshots[index] = this.world.snapshot(index, detail)
    this.lastSnapshotAtMs[index] = atMs
  }

  private status(): SimStatus {
    const known = this.known !== null && this.known.faultsKey === this.faultsKey() ? this.known.result : null
    const violations = [...(known?.violations ?? []), ...(this.crash === null ? [] : [this.crash])]
    const worst = worstViolationKind(violations)
    return {
      scenario: this.world.scenario,
      seed: this.seed,
      nodes: this.world.nodeCount,
      nowUs: this.world.nowUs,
      endUs: this.world.endUs,
      playing: this.playing,
      speed: this.speed,
      achievedSpeed: this.playing ? this.achievedSpeed : 0,
      verdict: worst ?? (known !== null ? 'ok' : null),
      fingerprint: known?.fingerprint ?? null,
      violations,
      faults: this.faults.map(({ atUs, text }) => ({ atUs, text })),
      stopped: this.stoppedBecause(),
      seekingToUs: this.seekToUs,
    }
  }
}
