/**
 * The deterministic host. It owns virtual time, the network, every node's
 * storage, crashes and restarts, and drives each engine exactly as a real host
 * does (persist, send, apply, advance). Every random choice comes from one
 * seed through split streams, so a seed replays a run event for event.
 */
import type { EngineCodec } from '../core/codec/engineCodec.ts'
import { FrameReceiver, writeMessageFrames } from '../core/codec/chunks.ts'
import { assert, assertFailed } from '../core/lib/assert.ts'
import { isValidId } from '../core/lib/limits.ts'
import { Rng } from '../core/lib/prng.ts'
import type { Clock, NodeId, StorageReader } from '../core/ports.ts'
import type { Engine, Ready, Refusal } from '../core/ready.ts'
import { driveUntilIdle, type DriverPorts } from '../host/driver.ts'
import { SteppedClock, VirtualClock } from './clock.ts'
import { Agenda, type AgendaEvent } from './agenda.ts'
import { SimNetwork, type NetworkConfig } from './network.ts'
import { defaultStorageFaults, SimStorage, type StorageFaults } from './storage.ts'
import { formatUs, Trace } from './trace.ts'

export interface EngineContext {
  readonly id: NodeId
  readonly peers: readonly NodeId[]
  readonly storage: StorageReader
  readonly rng: Rng
  readonly clock: Clock
}

/** What the simulator needs to know about an engine to host it. */
export interface SimEngineSpec<C, M, A, E> {
  readonly codec: EngineCodec<M>
  create(context: EngineContext): Engine<C, M, A, E>
}

export interface SimNode<C, M, A, E> {
  readonly index: number
  readonly id: NodeId
  readonly region: string
  readonly storage: SimStorage
  /** null while the node is down. */
  engine: Engine<C, M, A, E> | null
  /** Counts starts: 1 after the first start, +1 per restart. */
  incarnation: number
  /** Tick events of earlier incarnations carry an older generation and are ignored. */
  tickGeneration: number
  /** Where the kernel's driver loop puts this node's Readies: its storage, the network, the observers. */
  readonly ports: DriverPorts<M, A, E>
}

/** Hooks for checkers and scenarios; called synchronously inside the run. */
export interface SimObserver<C, M, A, E> {
  onStart?(node: SimNode<C, M, A, E>, restarted: boolean): void
  onReady?(node: SimNode<C, M, A, E>, ready: Ready<M, A, E>): void
  onCrash?(node: SimNode<C, M, A, E>): void
  /** A message the node's engine stepped (after the node's Ready was handled); `refusal` is what step returned. */
  onDeliver?(node: SimNode<C, M, A, E>, from: NodeId, message: M, refusal: Refusal | null): void
}

export interface SimOptions<C, M, A, E> {
  readonly seed: number
  readonly nodes: number
  readonly regions: readonly string[]
  readonly engine: SimEngineSpec<C, M, A, E>
  readonly network?: NetworkConfig
  readonly storageFaults?: StorageFaults
  /** Virtual time of one engine tick. */
  readonly tickUs: number
  /** Encode every message to a frame and decode it on arrival, as real hosts do. */
  readonly wire: boolean
  /** When set, every event becomes a trace line (and the trace hash covers them). */
  readonly trace: Trace | null
  readonly clusterId?: string
  /** The engines' wall clock advances in steps of this many milliseconds (Infinity: frozen); default 1. */
  readonly wallClockStepMs?: number
}

export interface SimMetrics {
  events: number
  ticks: number
  stepsRefused: number
  framesRefused: number
  /** Messages larger than a frame, sent as chunk frames (wire mode). */
  messagesChunked: number
  proposalsRefused: number
  crashes: number
  restarts: number
  eventsDroppedOverCapacity: number
}

export const simLimits = {
  /** Events waiting in the agenda at once. */
  eventsMax: 8_000_000,
} as const

const eventDeliver = 0
const eventTick = 1
const eventCall = 2

/**
 * Agenda fields by kind. deliver: node = receiver, from = sender, order = global
 * send order (for reorder counting), payload = message or frame. tick: node,
 * order = tick generation. call: payload = the action.
 */
type SimEvent = AgendaEvent<unknown>

export class Simulator<C, M, A, E> {
  readonly seed: number
  readonly clock = new VirtualClock()
  /** What engines read as wall time: the virtual clock itself, or a coarse or frozen view of it. */
  private readonly wallClock: Clock
  readonly network: SimNetwork
  readonly nodes: SimNode<C, M, A, E>[] = []
  readonly metrics: SimMetrics = { events: 0, ticks: 0, stepsRefused: 0, framesRefused: 0, messagesChunked: 0, proposalsRefused: 0, crashes: 0, restarts: 0, eventsDroppedOverCapacity: 0 }
  readonly trace: Trace | null
  readonly observers: SimObserver<C, M, A, E>[] = []
  private readonly options: SimOptions<C, M, A, E>
  private readonly agenda = new Agenda<unknown>(simLimits.eventsMax)
  /** The event being handled; reused so that running allocates nothing per event. */
  private readonly event: SimEvent = { atUs: 0, kind: 0, node: 0, from: 0, order: 0, payload: null }
  private readonly indexById = new Map<NodeId, number>()
  private readonly rootRng: Rng
  private readonly storageRng: Rng
  private readonly tickPhaseRng: Rng
  private readonly clusterId: string
  private sendSeq = 0
  private readonly ids: readonly NodeId[]
  /** Wire mode: each node's receiving side (its chunk reassembly buffer), new at every start. */
  private readonly receivers: (FrameReceiver<M> | null)[] = []

  constructor(options: SimOptions<C, M, A, E>) {
    assert(options.nodes >= 1, 'a simulation needs at least one node')
    assert(options.regions.length >= 1, 'a simulation needs at least one region')
    assert(options.tickUs >= 1, 'tickUs must be positive')
    this.options = options
    this.wallClock = (options.wallClockStepMs ?? 1) === 1 ? this.clock : new SteppedClock(this.clock, options.wallClockStepMs!)
    this.seed = options.seed
    this.trace = options.trace
    this.clusterId = options.clusterId ?? 'sim'
    if (!isValidId(this.clusterId)) assertFailed(`invalid cluster id ${this.clusterId}`)
    this.rootRng = Rng.fromSeed(options.seed)
    this.storageRng = this.rootRng.split('storage')
    this.tickPhaseRng = this.rootRng.split('tick-phase')
    const regionOf: number[] = []
    for (let index = 0; index < options.nodes; index++) {
      const regionIndex = index % options.regions.length
      regionOf.push(regionIndex)
      const id = `n${index + 1}`
      this.indexById.set(id, index)
      const storage = new SimStorage()
      const node: SimNode<C, M, A, E> = {
        index,
        id,
        region: options.regions[regionIndex]!,
        storage,
        engine: null,
        incarnation: 0,
        tickGeneration: 0,
        ports: {
          storage,
          transport: { send: (to, message) => this.send(node, to, message) },
          handled: (ready) => {
            const observers = this.observers
            for (let observer = 0; observer < observers.length; observer++) observers[observer]!.onReady?.(node, ready)
          },
        },
      }
      this.nodes.push(node)
    }
    this.ids = Object.freeze(this.nodes.map((node) => node.id))
    this.network = new SimNetwork({ regionOf, rng: this.rootRng.split('network'), config: options.network })
  }

  get nowUs(): number {
    return this.clock.nowUs
  }

  /** Every node's id, in index order; one shared array handed to every engine as its peer list. */
  get nodeIds(): readonly NodeId[] {
    return this.ids
  }

  /** Starts every node that is down. Call once before running. */
  startAll(): void {
    for (const node of this.nodes) if (node.engine === null) this.start(node)
  }

  private start(node: SimNode<C, M, A, E>): void {
    const restarted = node.incarnation > 0
    node.incarnation++
    node.tickGeneration++
    this.receivers[node.index] = this.options.wire ? new FrameReceiver(this.options.engine.codec) : null
    node.engine = this.options.engine.create({
      id: node.id,
      peers: this.nodeIds,
      storage: node.storage,
      rng: this.rootRng.split(`engine/${node.id}/${node.incarnation}`),
      clock: this.wallClock,
    })
    if (restarted) this.metrics.restarts++
    this.traceLine(() => `${restarted ? 'restart' : 'start'} ${node.id} incarnation=${node.incarnation}`)
    for (const observer of this.observers) observer.onStart?.(node, restarted)
    this.drive(node)
    this.schedule(this.clock.nowUs + 1 + this.tickPhaseRng.int(this.options.tickUs), eventTick, node.index, -1, node.tickGeneration, null)
  }

  /** Power loss on one node: its engine is gone and unsynced writes meet their fate. */
  crash(index: number): void {
    const node = this.nodes[index]!
    if (node.engine === null) return
    node.engine = null
    const before = { ...node.storage.metrics }
    node.storage.crash(this.storageRng, this.options.storageFaults ?? defaultStorageFaults)
    this.metrics.crashes++
    const after = node.storage.metrics
    this.traceLine(
      () =>
        `crash ${node.id} kept=${after.unsyncedKept - before.unsyncedKept} lost=${after.unsyncedLost - before.unsyncedLost} torn=${after.unsyncedTorn - before.unsyncedTorn}`,
    )
    for (const observer of this.observers) observer.onCrash?.(node)
  }

  restart(index: number): void {
    const node = this.nodes[index]!
    if (node.engine === null) this.start(node)
  }

  isUp(index: number): boolean {
    return this.nodes[index]!.engine !== null
  }

  /** A client command to one node; returns the refusal (code `down` for a node that is down), or null when accepted. */
  propose(index: number, command: C, describe: string): Refusal | null {
    const node = this.nodes[index]!
    if (node.engine === null) {
      this.metrics.proposalsRefused++
      this.traceLine(() => `propose ${node.id} ${describe} refused=down`)
      return { code: 'down', message: `${node.id} is down` }
    }
    const refusal = node.engine.propose(command)
    if (refusal !== null) this.metrics.proposalsRefused++
    this.traceLine(() => `propose ${node.id} ${describe}${refusal === null ? '' : ` refused=${refusal.code}`}`)
    this.drive(node)
    return refusal
  }

  /** Runs `action` at virtual time `atUs` (scenario scripts: faults, client requests, checks). */
  at(atUs: number, action: () => void): void {
    if (atUs < this.clock.nowUs) assertFailed(`cannot schedule in the past (${atUs} < ${this.clock.nowUs})`)
    this.schedule(atUs, eventCall, -1, -1, 0, action)
  }

  /** A line in the trace for scenario-level happenings (faults, phases). */
  note(text: string): void {
    this.traceLine(() => text)
  }

  /** Why a checker stopped the run (`halt`), or null while it runs. */
  haltedBecause: string | null = null

  /**
   * Stops the run for good: from now on `runUntil` processes nothing and only moves the clock, so the
   * scenario's loops end and its checkers judge the state as it is. For a checker that has seen enough
   * (a message storm that would take hours of wall time to simulate); it records its own violation.
   */
  halt(reason: string): void {
    if (this.haltedBecause === null) this.haltedBecause = reason
  }

  /** Processes every event up to and including `endUs`, then sets the clock to `endUs` (after a `halt`, only the latter). */
  runUntil(endUs: number): void {
    const agenda = this.agenda
    const event = this.event
    while (this.haltedBecause === null && agenda.popUntil(endUs, event)) {
      this.clock.nowUs = event.atUs
      this.metrics.events++
      if (event.kind === eventDeliver) this.deliver(event)
      else if (event.kind === eventTick) this.tick(event)
      else (event.payload as () => void)()
      event.payload = null
    }
    this.clock.nowUs = Math.max(this.clock.nowUs, endUs)
  }

  private schedule(atUs: number, kind: number, node: number, from: number, order: number, payload: unknown): void {
    if (!this.agenda.push(atUs, kind, node, from, order, payload)) this.metrics.eventsDroppedOverCapacity++
  }

  private tick(event: SimEvent): void {
    const node = this.nodes[event.node]!
    if (node.engine === null || event.order !== node.tickGeneration) return
    this.metrics.ticks++
    if (this.trace !== null) this.traceLine(() => `tick ${node.id}`)
    node.engine.tick()
    this.drive(node)
    this.schedule(event.atUs + this.options.tickUs, eventTick, node.index, -1, node.tickGeneration, null)
  }

  /** The kernel's driver loop: persist, then send, then apply (observers), then advance, until idle. */
  private drive(node: SimNode<C, M, A, E>): void {
    driveUntilIdle(node.engine!, node.ports)
  }

  private send(node: SimNode<C, M, A, E>, toId: NodeId, message: M): void {
    const to = this.indexById.get(toId)
    if (to === undefined) return assertFailed(`${node.id} sent to unknown node ${toId}`)
    const copies = this.network.route(node.index, to, this.clock.nowUs)
    const order = this.sendSeq++
    if (this.trace !== null) {
      const codec = this.options.engine.codec
      this.traceLine(() => `send ${node.id}>${toId} ${codec.describe(message)}${copies === 0 ? ' dropped' : copies === 2 ? ' duplicated' : ''}`)
    }
    if (copies === 0) return
    const times = this.network.deliveryTimesUs
    if (!this.options.wire) {
      for (let copy = 0; copy < copies; copy++) this.schedule(times[copy]!, eventDeliver, to, node.index, order, message)
      return
    }
    // The send order doubles as the message id of chunks: unique for the whole run, across restarts.
    const frames = writeMessageFrames(this.options.engine.codec, { clusterId: this.clusterId, from: node.id, to: toId }, message, order)
    for (let copy = 0; copy < copies; copy++) this.schedule(times[copy]!, eventDeliver, to, node.index, order, frames[0]!)
    if (frames.length === 1) return
    // Every further chunk travels on its own: lost, duplicated, delayed and reordered as any message.
    this.metrics.messagesChunked++
    for (let index = 1; index < frames.length; index++) {
      const chunkCopies = this.network.route(node.index, to, this.clock.nowUs)
      const chunkOrder = this.sendSeq++
      for (let copy = 0; copy < chunkCopies; copy++) this.schedule(times[copy]!, eventDeliver, to, node.index, chunkOrder, frames[index]!)
    }
  }

  private deliver(event: SimEvent): void {
    const node = this.nodes[event.node]!
    if (!this.network.arrive(event.from, event.node, event.order)) {
      this.traceLine(() => `drop ${this.nodes[event.from]!.id}>${node.id} partition`)
      return
    }
    if (node.engine === null) {
      this.network.metrics.droppedNodeDown++
      this.traceLine(() => `drop ${this.nodes[event.from]!.id}>${node.id} down`)
      return
    }
    this.network.metrics.delivered++
    let message: M
    let fromId = this.nodes[event.from]!.id
    if (this.options.wire) {
      const decoded = this.receivers[node.index]!.receive(event.payload as Uint8Array)
      if (decoded.ok && decoded.value === null) return // a chunk of a message not yet whole
      const whole = decoded.ok ? decoded.value : null
      if (whole === null || whole.to !== node.id || whole.clusterId !== this.clusterId) {
        this.metrics.framesRefused++
        this.traceLine(() => `refuse ${node.id} frame ${decoded.ok ? 'misaddressed' : decoded.error.code}`)
        return
      }
      message = whole.message
      fromId = whole.from
    } else {
      message = event.payload as M
    }
    if (this.trace !== null) this.traceLine(() => `recv ${fromId}>${node.id} ${this.options.engine.codec.describe(message)}`)
    const refusal = node.engine.step(fromId, message)
    if (refusal !== null) {
      this.metrics.stepsRefused++
      this.traceLine(() => `refuse ${node.id} step ${refusal.code}`)
    }
    this.drive(node)
    const observers = this.observers
    for (let index = 0; index < observers.length; index++) observers[index]!.onDeliver?.(node, fromId, message, refusal)
  }

  private traceLine(text: () => string): void {
    if (this.trace !== null) this.trace.line(`${formatUs(this.clock.nowUs)} ${text()}`)
  }
}
