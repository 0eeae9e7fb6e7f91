/**
 * The cluster as the screens see it: every source (one per live node, or one
 * simulation of many nodes) merged into one snapshot — the nodes in order,
 * the events of all of them by time, the simulation's status, the history of
 * divergence and when each member was last seen alive. Publishes at most
 * once per `publishIntervalMs`, however fast the sources change: a busy
 * cluster costs the screen a bounded number of frames.
 */
import type { ClusterEvent } from './clusterEvent.ts'
import type { ClusterSource, FaultRequest, FaultTarget, KeyReading } from './clusterSource.ts'
import { eventRingLimits } from './eventRing.ts'
import { emptyHistory, History, type HistoryView } from './history.ts'
import { membersOf, storeOf } from './nodeSnapshot.ts'
import { Store, type Source } from './source.ts'
import type { NodeEntry, SimStatus, SourceState } from './sourceState.ts'
import { systemTimers, type Timers } from './timers.ts'
import { antiEntropyBytes } from './views/convergence.ts'
import { keyTable } from './views/keys.ts'
import { mergeEvents } from './views/events.ts'

export const clusterModelLimits = {
  /** At most this many snapshots a second reach the screens (10 to 20 frames a second read as live). */
  publishIntervalMs: 50,
  /** Events kept in the merged log. */
  eventsMax: eventRingLimits.eventsMax,
  /** Members whose last sighting is remembered. */
  lastAliveMax: 16_384,
} as const

export interface ClusterSnapshot {
  /** Counts publications: a new snapshot, a new number. */
  readonly version: number
  readonly sources: readonly SourceState[]
  readonly nodes: readonly NodeEntry[]
  /** Every source's events merged by time, oldest first. */
  readonly events: readonly ClusterEvent[]
  readonly eventsDropped: number
  /** The simulation's status, when the cluster is one. */
  readonly sim: SimStatus | null
  /** Cluster time now: virtual ms in a simulation, wall clock ms live. */
  readonly atMs: number
  readonly history: HistoryView
  /** Cluster time each member was last reported alive by another node. */
  readonly lastAlive: ReadonlyMap<string, number>
  /** The node the screens look from (members, detail). */
  readonly focus: string | null
  /** Whether faults can be injected (a simulation, or a cluster given a fault switch). */
  readonly faultsAvailable: boolean
}

export interface ClusterModelOptions {
  readonly sources: readonly ClusterSource[]
  /** Where the fault hotkeys go; null: none (a cluster not started with --dev, or --readonly). */
  readonly faults?: FaultTarget | null
  readonly timers?: Timers
  /** 0: publish on every change, synchronously (tests). */
  readonly publishIntervalMs?: number
}

export class ClusterModel implements Source<ClusterSnapshot> {
  readonly sources: readonly ClusterSource[]
  private readonly faults: FaultTarget | null
  private readonly timers: Timers
  private readonly publishIntervalMs: number
  private readonly store: Store<ClusterSnapshot>
  private readonly history = new History()
  private readonly lastAlive = new Map<string, number>()
  private readonly unsubscribes: (() => void)[]
  private focusId: string | null = null
  private version = 0
  private timer: unknown = null
  private lastPublishMs = -Infinity
  private merged: { readonly totals: string; readonly events: readonly ClusterEvent[] } | null = null

  constructor(options: ClusterModelOptions) {
    this.sources = options.sources
    this.faults = options.faults ?? null
    this.timers = options.timers ?? systemTimers
    this.publishIntervalMs = options.publishIntervalMs ?? clusterModelLimits.publishIntervalMs
    this.store = new Store(this.build())
    this.unsubscribes = this.sources.map((source) => source.subscribe(() => this.changed()))
  }

  getSnapshot = (): ClusterSnapshot => this.store.getSnapshot()
  subscribe = (listener: () => void): (() => void) => this.store.subscribe(listener)

  /** Looks from `nodeId`: its members, its detail. */
  focus(nodeId: string | null): void {
    if (nodeId === this.focusId) return
    this.tellFocus(nodeId)
    this.publishNow()
  }

  private tellFocus(nodeId: string | null): void {
    this.focusId = nodeId
    for (const source of this.sources) source.focus(nodeId === null || !source.hasNode(nodeId) ? [] : [nodeId])
  }

  /** Publishes what the sources hold now, without waiting for the next frame. */
  refresh(): void {
    this.publishNow()
  }

  readKey(nodeId: string, key: string): Promise<KeyReading> {
    const source = this.sources.find((candidate) => candidate.hasNode(nodeId))
    return source === undefined ? Promise.resolve({ ok: false, error: `no node ${nodeId}` }) : source.readKey(nodeId, key)
  }

  injectFault(fault: FaultRequest): Promise<string> {
    if (this.faults === null) return Promise.reject(new Error('no fault switch here: faults need a simulation or a cluster started with --dev (and no --readonly)'))
    return this.faults.inject(fault)
  }

  close(): void {
    for (const unsubscribe of this.unsubscribes) unsubscribe()
    if (this.timer !== null) this.timers.clearTimeout(this.timer)
    this.timer = null
    for (const source of this.sources) source.close()
  }

  private changed(): void {
    if (this.publishIntervalMs === 0) return this.publishNow()
    if (this.timer !== null) return
    const waitMs = this.lastPublishMs + this.publishIntervalMs - this.timers.nowMs()
    if (waitMs <= 0) return this.publishNow()
    this.timer = this.timers.setTimeout(() => {
      this.timer = null
      this.publishNow()
    }, waitMs)
  }

  private publishNow(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer)
    this.timer = null
    this.lastPublishMs = this.timers.nowMs()
    if (this.store !== undefined) this.store.set(this.build())
  }

  private build(): ClusterSnapshot {
    let sources = this.sources.map((source) => source.getSnapshot())
    let nodes = sources.length === 1 ? sources[0]!.nodes : sources.flatMap((source) => source.nodes)
    // Nothing looked at yet, or the node looked at is gone (a live node is named by its address until its first snapshot): the first node.
    const first = nodes[0]?.id ?? null
    if (first !== null && (this.focusId === null || !nodes.some((node) => node.id === this.focusId))) {
      this.tellFocus(first)
      // A source may publish again for its new focus (a large simulation reads the node's members).
      sources = this.sources.map((source) => source.getSnapshot())
      nodes = sources.length === 1 ? sources[0]!.nodes : sources.flatMap((source) => source.nodes)
    }
    const sim = sources.find((source) => source.sim !== null)?.sim ?? null
    const atMs = sim !== null ? sim.nowUs / 1000 : this.timers.wallMs()
    this.noteAlive(nodes, atMs)
    return {
      version: ++this.version,
      sources,
      nodes,
      events: this.mergedEvents(sources),
      eventsDropped: sources.reduce((sum, source) => sum + source.eventsDropped, 0),
      sim,
      atMs,
      history: this.sampleHistory(nodes, atMs),
      lastAlive: new Map(this.lastAlive),
      focus: this.focusId,
      faultsAvailable: this.faults !== null,
    }
  }

  private mergedEvents(sources: readonly SourceState[]): readonly ClusterEvent[] {
    if (sources.length === 1) return sources[0]!.events
    const totals = sources.map((source) => source.eventsTotal).join(',')
    if (this.merged?.totals === totals) return this.merged.events
    const events = mergeEvents(
      sources.map((source) => source.events),
      clusterModelLimits.eventsMax,
    )
    this.merged = { totals, events }
    return events
  }

  private noteAlive(nodes: readonly NodeEntry[], atMs: number): void {
    for (const node of nodes) {
      if (!node.up) continue
      for (const member of membersOf(node.snapshot) ?? []) {
        // A node always sees itself alive: only others' word counts (a partitioned node is not seen by them).
        if (member.state !== 'alive' || member.id === node.id) continue
        if (!this.lastAlive.has(member.id) && this.lastAlive.size >= clusterModelLimits.lastAliveMax) continue
        this.lastAlive.set(member.id, atMs)
      }
    }
  }

  private sampleHistory(nodes: readonly NodeEntry[], atMs: number): HistoryView {
    if (!this.history.due(atMs)) return this.history.current
    if (!nodes.some((node) => storeOf(node.snapshot) !== null)) return emptyHistory
    let bytes = 0
    for (const node of nodes) {
      const store = storeOf(node.snapshot)
      if (store !== null) bytes += antiEntropyBytes(store.crdtMetrics)
    }
    return this.history.offer(atMs, keyTable(nodes).divergentKeys, bytes)
  }
}
