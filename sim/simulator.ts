/**
 * The deterministic host. It owns virtual time, the network, every node's
 * storage, crashes and restarts, and hosts each node's engine through the
 * host kernel every real host runs (host/kernel.ts): the kernel drives it
 * (persist, sync, send, apply, advance), counts its ticks on a virtual
 * monotonic clock and correlates client calls; the simulator only supplies
 * the ports (SimStorage, the simulated network, virtual time). Every random
 * choice comes from one seed through split streams, so a seed replays a run
 * event for event.
 */
import type { EngineCodec } from '../core/codec/engineCodec.ts'
import { FrameReceiver, writeMessageFrames } from '../core/codec/chunks.ts'
import { assert, assertFailed } from '../core/lib/assert.ts'
import { isValidId } from '../core/lib/limits.ts'
import { Rng } from '../core/lib/prng.ts'
import type { Clock, NodeId, StorageReader } from '../core/ports.ts'
import type { Engine, Ready, Refusal } from '../core/ready.ts'
import { HostKernel, type CallOutcome, type RequestBinding } from '../host/kernel.ts'
import type { Transport } from '../host/ports.ts'
import { ProcessClock, SteppedClock, VirtualClock } from './clock.ts'
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
  /** Counts the node's starts: 1 at the first, +1 per restart. */
  readonly incarnation: number
}

/** What the simulator needs to know about an engine to host it. */
export interface SimEngineSpec<C, M, A, E> {
  readonly codec: EngineCodec<M>
  create(context: EngineContext): Engine<C, M, A, E>
  /**
   * How the kernel's request ids ride in the engine's commands and come back in its results
   * (host/kernel.ts); a binding per incarnation, so it may keep state and tag ids with the node.
   */
  requests(context: EngineContext): RequestBinding<C, A>
}

export interface SimNode<C, M, A, E> {
  readonly index: number
  readonly id: NodeId
  readonly region: string
  readonly storage: SimStorage
  /** The kernel hosting the node; null while the node is down (a crash discards it with its open calls). */
  kernel: HostKernel<C, M, A, E> | null
  /** The kernel's engine, for checkers that read state; null while the node is down. */
  engine: Engine<C, M, A, E> | null
  /** Counts starts: 1 after the first start, +1 per restart. Tick events of earlier incarnations are ignored. */
  incarnation: number
  /** Virtual time of the latest start, where the node's monotonic clock reads 0 (a process's clock starts with it). */
  startedUs: number
}

/**
 * What a simulated client sees of a call: its node's kernel's outcome, or, when the node crashes
 * first, its connection breaking: whether the command took effect is unknown (Jepsen's `info`).
 */
export type SimCallOutcome<A> = CallOutcome<A> | { readonly kind: 'unknown'; readonly reason: 'crashed' }

/** Hooks for checkers and scenarios; called synchronously inside the run. */
export interface SimObserver<C, M, A, E> {
  /** A node's engine was built (from its storage, after a restart), before its kernel drives it for the first time. */
  onStart?(node: SimNode<C, M, A, E>, restarted: boolean): void
  /** A client command about to reach the node's engine, bound to the request id its kernel gave the call. */
  onCall?(node: SimNode<C, M, A, E>, command: C): void
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
  /** Virtual time of one engine tick: whole milliseconds, as the kernel counts them. */
  readonly tickUs: number
  /** Encode every message to a frame and decode it on arrival, as real hosts do. */
  readonly wire: boolean
  /** When set, every event becomes a trace line (and the trace hash covers them). */
  readonly trace: Trace | null
  readonly clusterId?: string
  /** The engines' wall clock advances in steps of this many milliseconds (Infinity: frozen); default 1. */
  readonly wallClockStepMs?: number
  /**
   * Hosts that sleep while their engine has no work (host/kernel.ts sleepWhenIdle: a node wakes at
   * the tick its engine reports, and runs the ticks due before every input), as the Durable Object
   * and node hosts do. Default false: every node ticks every tick. The engine needs ticksUntilWork.
   */
  readonly sleepWhenIdle?: boolean
}

export interface SimMetrics {
  events: number
  ticks: number
  /** Tick events a node handled: every tick, or with sleepWhenIdle only the wakes. */
  wakes: number
  stepsRefused: number
  framesRefused: number
  /** Messages larger than a frame, sent as chunk frames (wire mode). */
  messagesChunked: number
  /** Client calls and proposals refused: by the engine, by the kernel (overloaded), or because the node was down. */
  callsRefused: number
  crashes: number
  restarts: number
  eventsDroppedOverCapacity: number
}

export const simLimits = {
  /** Events waiting in the agenda at once. */
  eventsMax: 8_000_000,
  /**
   * Events each node's kernel keeps for viewers that resume (host/eventLog.ts), per incarnation.
   * Every node keeps its own, alive until pushed out: at 10,000 nodes 64 each is some 50 MB; a
   * viewer of a simulated node takes a snapshot and follows its events as they come.
   */
  eventsRetainedPerNode: 64,
} as const

const eventDeliver = 0
const eventTick = 1
const eventAction = 2

/**
 * Agenda fields by kind. deliver: node = receiver, from = sender, order = global
 * send order (for reorder counting), payload = message or frame. tick: node,
 * order = incarnation. action: payload = the action.
 */
type SimEvent = AgendaEvent<unknown>

export class Simulator<C, M, A, E> {
  readonly seed: number
  readonly clock = new VirtualClock()
  /** What engines read as wall time: the virtual clock itself, or a coarse or frozen view of it. */
  private readonly wallClock: Clock
  readonly network: SimNetwork
  readonly nodes: SimNode<C, M, A, E>[] = []
  readonly metrics: SimMetrics = { events: 0, ticks: 0, wakes: 0, stepsRefused: 0, framesRefused: 0, messagesChunked: 0, callsRefused: 0, crashes: 0, restarts: 0, eventsDroppedOverCapacity: 0 }
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
  private readonly tickMs: number
  /** Each node's transport port: its sends go into the simulated network. */
  private readonly transports: Transport<M>[] = []
  /** Per node, the clients' calls its kernel has not answered: their connections break if it crashes. */
  private readonly openCalls: Set<(outcome: SimCallOutcome<A>) => void>[] = []
  /** Wire mode: each node's receiving side (its chunk reassembly buffer), new at every start. */
  private readonly receivers: (FrameReceiver<M> | null)[] = []
  /** Sleeping hosts: the time of each node's one live tick event (Infinity: none); earlier or later ones are stale. */
  private readonly wakeAtUs: number[] = []

  constructor(options: SimOptions<C, M, A, E>) {
    assert(options.nodes >= 1, 'a simulation needs at least one node')
    assert(options.regions.length >= 1, 'a simulation needs at least one region')
    assert(options.tickUs >= 1000 && options.tickUs % 1000 === 0, `tickUs must be whole milliseconds, got ${options.tickUs}`)
    this.tickMs = options.tickUs / 1000
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
      const node: SimNode<C, M, A, E> = { index, id, region: options.regions[regionIndex]!, storage: new SimStorage(), kernel: null, engine: null, incarnation: 0, startedUs: 0 }
      this.nodes.push(node)
      this.transports.push({ send: (to, message) => this.send(node, to, message) })
      this.openCalls.push(new Set())
      this.wakeAtUs.push(Number.POSITIVE_INFINITY)
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
    for (const node of this.nodes) if (node.kernel === null) this.start(node)
  }

  /** A new process on the node: an engine built from its storage, hosted by a new kernel over the node's ports. */
  private start(node: SimNode<C, M, A, E>): void {
    const restarted = node.incarnation > 0
    node.incarnation++
    const startedUs = (node.startedUs = this.clock.nowUs)
    this.receivers[node.index] = this.options.wire ? new FrameReceiver(this.options.engine.codec) : null
    const context: EngineContext = {
      id: node.id,
      peers: this.nodeIds,
      storage: node.storage,
      rng: this.rootRng.split(`engine/${node.id}/${node.incarnation}`),
      clock: this.wallClock,
      incarnation: node.incarnation,
    }
    const engine = this.options.engine.create(context)
    node.engine = engine
    if (restarted) this.metrics.restarts++
    this.traceLine(() => `${restarted ? 'restart' : 'start'} ${node.id} incarnation=${node.incarnation}`)
    for (const observer of this.observers) observer.onStart?.(node, restarted)
    const observers = this.observers
    node.kernel = new HostKernel({
      engine,
      storage: node.storage,
      transport: this.transports[node.index]!,
      monotonic: new ProcessClock(this.clock, startedUs),
      tickMs: this.tickMs,
      // Nodes started together tick at different whole milliseconds of the tick.
      firstTickInMs: 1 + this.tickPhaseRng.int(this.tickMs),
      requests: this.observedBinding(node, this.options.engine.requests(context)),
      events: { epoch: `${node.id}/${node.incarnation}`, retainedMax: simLimits.eventsRetainedPerNode },
      onReady: (ready) => {
        for (let index = 0; index < observers.length; index++) observers[index]!.onReady?.(node, ready)
      },
      sleepWhenIdle: this.options.sleepWhenIdle,
      // A sleeping node's deadline moves with its inputs (a message may bring work sooner than the wake set).
      onInput: this.options.sleepWhenIdle === true ? () => this.scheduleWake(node) : undefined,
    })
    this.wakeAtUs[node.index] = Number.POSITIVE_INFINITY
    this.scheduleTick(node, node.kernel)
  }

  /** A sleeping node: a tick event at its kernel's next deadline, unless one is set for that time already. */
  private scheduleWake(node: SimNode<C, M, A, E>): void {
    const kernel = node.kernel
    if (kernel === null) return
    const atUs = node.startedUs + kernel.nextDeadlineMs() * 1000
    if (atUs === this.wakeAtUs[node.index]) return
    this.wakeAtUs[node.index] = atUs
    this.schedule(atUs, eventTick, node.index, -1, node.incarnation, null)
  }

  /** The spec's binding, telling the observers of every client command as its request id is bound. */
  private observedBinding(node: SimNode<C, M, A, E>, binding: RequestBinding<C, A>): RequestBinding<C, A> {
    return {
      withRequestId: (command, requestId) => {
        const bound = binding.withRequestId(command, requestId)
        for (const observer of this.observers) observer.onCall?.(node, bound)
        return bound
      },
      replyTo: (applied) => binding.replyTo(applied),
    }
  }

  /** Wakes the node when its kernel's next tick is due (its monotonic clock counts from its start). */
  private scheduleTick(node: SimNode<C, M, A, E>, kernel: HostKernel<C, M, A, E>): void {
    if (this.options.sleepWhenIdle === true) return this.scheduleWake(node)
    this.schedule(node.startedUs + kernel.nextDeadlineMs() * 1000, eventTick, node.index, -1, node.incarnation, null)
  }

  /**
   * Power loss on one node: its kernel and engine are gone (the kernel drops its open calls) and
   * unsynced writes meet their fate. The clients of those calls see their connections break: the
   * outcome is unknown.
   */
  crash(index: number): void {
    const node = this.nodes[index]!
    const kernel = node.kernel
    if (kernel === null) return
    node.kernel = null
    node.engine = null
    const before = { ...node.storage.metrics }
    node.storage.crash(this.storageRng, this.options.storageFaults ?? defaultStorageFaults)
    this.metrics.crashes++
    const after = node.storage.metrics
    this.traceLine(() => `crash ${node.id} kept=${after.unsyncedKept - before.unsyncedKept} lost=${after.unsyncedLost - before.unsyncedLost} torn=${after.unsyncedTorn - before.unsyncedTorn}`)
    for (const observer of this.observers) observer.onCrash?.(node)
    const dropped = kernel.stop('crashed')
    const open = [...this.openCalls[index]!]
    this.openCalls[index]!.clear()
    assert(dropped === open.length, `${node.id}'s kernel dropped ${dropped} calls, its clients wait on ${open.length}`)
    const broken: SimCallOutcome<A> = { kind: 'unknown', reason: 'crashed' }
    for (const settle of open) settle(broken)
  }

  restart(index: number): void {
    const node = this.nodes[index]!
    if (node.kernel === null) this.start(node)
  }

  /**
   * Starts a node that has not started yet: a spare that joins a running
   * cluster (the scenario starts the others with `startAll` or `startNodes`).
   * Until then it is down: messages to it are lost and calls refused `down`.
   */
  startLate(index: number): void {
    const node = this.nodes[index]!
    assert(node.incarnation === 0, `${node.id} has started before: restart it instead`)
    this.start(node)
  }

  /** Starts the nodes at these indexes (the others stay down until `startLate`). */
  startNodes(indexes: readonly number[]): void {
    for (const index of indexes) if (this.nodes[index]!.kernel === null) this.start(this.nodes[index]!)
  }

  isUp(index: number): boolean {
    return this.nodes[index]!.kernel !== null
  }

  /**
   * A client call to one node through its kernel: `onOutcome` gets exactly one outcome — the reply, a
   * refusal (code `down` for a node that is down), or `unknown` when the node crashes first.
   */
  call(index: number, command: C, describe: string, onOutcome: (outcome: SimCallOutcome<A>) => void): void {
    const node = this.nodes[index]!
    const kernel = node.kernel
    this.traceLine(() => `call ${node.id} ${describe}`)
    if (kernel === null) {
      this.metrics.callsRefused++
      this.traceLine(() => `refused ${node.id} ${describe} down`)
      onOutcome({ kind: 'refused', refusal: { code: 'down', message: `${node.id} is down` } })
      return
    }
    const open = this.openCalls[index]!
    const settle = (outcome: SimCallOutcome<A>): void => {
      open.delete(settle)
      if (outcome.kind === 'refused') this.metrics.callsRefused++
      this.traceLine(() => `${outcome.kind} ${node.id} ${describe}${outcome.kind === 'refused' ? ` ${outcome.refusal.code}` : ''}`)
      onOutcome(outcome)
    }
    open.add(settle)
    kernel.call(command, settle)
  }

  /**
   * A command to one node's kernel with no call to answer (a Raft membership change; a test harness that
   * picks request ids itself); returns the refusal (code `down` for a node that is down), or null.
   */
  propose(index: number, command: C, describe: string): Refusal | null {
    const node = this.nodes[index]!
    const kernel = node.kernel
    const refusal = kernel === null ? { code: 'down', message: `${node.id} is down` } : kernel.input('propose', (engine) => engine.propose(command))
    if (refusal !== null) this.metrics.callsRefused++
    this.traceLine(() => `propose ${node.id} ${describe}${refusal === null ? '' : ` refused=${refusal.code}`}`)
    return refusal
  }

  /** Runs `action` at virtual time `atUs` (scenario scripts: faults, client requests, checks). */
  at(atUs: number, action: () => void): void {
    if (atUs < this.clock.nowUs) assertFailed(`cannot schedule in the past (${atUs} < ${this.clock.nowUs})`)
    this.schedule(atUs, eventAction, -1, -1, 0, action)
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
    const kernel = node.kernel
    if (kernel === null || event.order !== node.incarnation) return
    if (this.options.sleepWhenIdle === true) {
      // Only the wake set last counts: the deadline moved since the others were set.
      if (event.atUs !== this.wakeAtUs[node.index]) return
      this.wakeAtUs[node.index] = Number.POSITIVE_INFINITY
    }
    if (this.trace !== null) this.traceLine(() => `tick ${node.id}`)
    this.metrics.wakes++
    this.metrics.ticks += kernel.tick()
    // A callback may have crashed the node meanwhile (a restart schedules its own ticks).
    if (node.kernel === kernel) this.scheduleTick(node, kernel)
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
    const kernel = node.kernel
    if (kernel === null) {
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
    const refusal = kernel.step(fromId, message)
    if (refusal !== null) {
      this.metrics.stepsRefused++
      this.traceLine(() => `refuse ${node.id} step ${refusal.code}`)
    }
    const observers = this.observers
    for (let index = 0; index < observers.length; index++) observers[index]!.onDeliver?.(node, fromId, message, refusal)
  }

  private traceLine(text: () => string): void {
    if (this.trace !== null) this.trace.line(`${formatUs(this.clock.nowUs)} ${text()}`)
  }
}
