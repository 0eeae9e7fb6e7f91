/**
 * The host kernel: what every host (node process, Durable Object, simulator)
 * does around an engine, written once and runtime-neutral. It
 *
 * - drives the engine after every input until idle (persist, sync, send,
 *   apply, advance: core/ready.ts), once right after construction too;
 * - refuses input while a Ready is out (a callback that calls back in waits
 *   until the drive is done: replies are delivered after it);
 * - turns monotonic time into ticks (`tick(nowMs)`, `nextDeadlineMs()`);
 *   a sleeping kernel (`sleepWhenIdle`) reports as its next deadline the
 *   tick at which the engine next has work (`Engine.ticksUntilWork`), not
 *   every tick, and runs the ticks due before every other input, so the
 *   engine sees the same ticks between the same inputs as when every tick
 *   runs on time (a read between two wakes sees the state of the last tick run);
 * - correlates client calls: each gets a refusal or exactly one reply;
 * - numbers every engine event and fans it out to bounded subscriptions.
 *
 * A host adds only its ports: storage writer, transport, monotonic clock
 * (and the core's clock, rng and signer, which it hands the engine).
 */
import { assertFailed, type Engine, type NodeId, type Ready, type Refusal } from '../core/index.ts'
import { driveUntilIdle, type DriverPorts } from './driver.ts'
import { EventLog, type EventLogOptions } from './eventLog.ts'
import type { MonotonicClock, StorageWriter, Transport } from './ports.ts'
import { RequestTable } from './requests.ts'
import { tickLimits, TickSchedule } from './ticks.ts'

/** How the kernel puts its request id into a command and finds it in a result. */
export interface RequestBinding<C, A> {
  withRequestId(command: C, requestId: number): C
  /** The request a result answers, or null for results that answer no client call. */
  replyTo(applied: A): number | null
}

/** What a client call ends with: exactly one of these. */
export type CallOutcome<A> = { readonly kind: 'reply'; readonly reply: A } | { readonly kind: 'refused'; readonly refusal: Refusal }

export interface KernelOptions<C, M, A, E> {
  readonly engine: Engine<C, M, A, E>
  readonly storage: StorageWriter
  readonly transport: Transport<M>
  readonly monotonic: MonotonicClock
  readonly tickMs: number
  /** Time from construction to the first tick, in (0, tickMs]; default one tick (host/ticks.ts). */
  readonly firstTickInMs?: number
  readonly requests: RequestBinding<C, A>
  readonly events: EventLogOptions
  readonly inFlightMax?: number
  /** Every Ready, after persist and send, before advance: checkers, traces, metrics. */
  readonly onReady?: (ready: Ready<M, A, E>) => void
  /**
   * Sleep between the ticks that have work: `nextDeadlineMs()` is the first
   * tick at which the engine may have work (at most catchUpTicksMax ticks
   * away, so no tick is ever skipped), and every input first runs the ticks
   * due. The engine must implement `ticksUntilWork`. Default false: every tick.
   */
  readonly sleepWhenIdle?: boolean
  /** After every input (step, tick, call, input): the next deadline may have moved, so a host re-arms its timer or alarm. */
  readonly onInput?: () => void
}

export interface KernelStatus {
  readonly readies: number
  readonly stepsRefused: number
  readonly callsRefused: number
  readonly inFlight: number
  readonly repliesUnmatched: number
  readonly ticks: { readonly tickMs: number; readonly ticksRun: number; readonly ticksSkipped: number; readonly nextDueMs: number; readonly sleeps: boolean; readonly nextDeadlineMs: number }
  readonly events: ReturnType<EventLog<unknown>['status']>
}

export class HostKernel<C, M, A, E> {
  readonly engine: Engine<C, M, A, E>
  readonly events: EventLog<E>
  private readonly requests: RequestTable<CallOutcome<A>>
  private readonly binding: RequestBinding<C, A>
  private readonly schedule: TickSchedule
  private readonly monotonic: MonotonicClock
  private readonly ports: DriverPorts<M, A, E>
  private readonly onReady: ((ready: Ready<M, A, E>) => void) | null
  private readonly onInput: (() => void) | null
  private readonly sleeps: boolean
  /** Replies settled during the current drive, delivered once it is done (null: none, the common case, checked per input). */
  private settled: { onReply: (outcome: CallOutcome<A>) => void; outcome: CallOutcome<A> }[] | null = null
  private driving = false
  /** Why the kernel was stopped; null while it runs. */
  private stoppedBecause: string | null = null
  private readies = 0
  private stepsRefused = 0
  private callsRefused = 0

  constructor(options: KernelOptions<C, M, A, E>) {
    this.engine = options.engine
    // What every input touches first, so that it lies close together; the event log's buffer after.
    this.monotonic = options.monotonic
    this.schedule = new TickSchedule({ tickMs: options.tickMs, startMs: options.monotonic.nowMs(), firstTickInMs: options.firstTickInMs })
    this.onReady = options.onReady ?? null
    this.onInput = options.onInput ?? null
    this.sleeps = options.sleepWhenIdle ?? false
    if (this.sleeps && typeof options.engine.ticksUntilWork !== 'function') assertFailed(`engine ${options.engine.id} cannot sleep when idle: it has no ticksUntilWork()`)
    this.ports = { storage: options.storage, transport: options.transport, handled: (ready) => this.handled(ready) }
    this.binding = options.requests
    this.requests = new RequestTable(options.inFlightMax)
    this.events = new EventLog<E>(options.events)
    // An engine may have work right after construction (recovery writes, first messages).
    this.drive()
  }

  /** A peer message, already authenticated and checked for cluster and destination. */
  step(from: NodeId, message: M): Refusal | null {
    this.assertIdle('step')
    if (this.sleeps) this.runDueTicks()
    const refusal = this.engine.step(from, message)
    if (refusal !== null) this.stepsRefused++
    this.drive()
    this.onInput?.()
    return refusal
  }

  /** Runs the ticks due by now; returns how many ran. */
  tick(): number {
    this.assertIdle('tick')
    const due = this.runDueTicks()
    this.onInput?.()
    return due
  }

  /**
   * Monotonic time at which `tick()` has work next: the next tick, or, when
   * sleeping, the tick the engine reports (`ticksUntilWork`), at most
   * catchUpTicksMax ticks away.
   */
  nextDeadlineMs(): number {
    const nextTickMs = this.schedule.nextDeadlineMs()
    if (!this.sleeps || this.stoppedBecause !== null) return nextTickMs
    const ticks = Math.min(this.engine.ticksUntilWork!(), tickLimits.catchUpTicksMax)
    if (!(ticks >= 1)) assertFailed(`engine ${this.engine.id} reported ${ticks} ticks until work; at least 1`)
    return nextTickMs + (Math.floor(ticks) - 1) * this.schedule.tickMs
  }

  private runDueTicks(): number {
    const due = this.schedule.due(this.monotonic.nowMs())
    for (let count = 0; count < due; count++) {
      this.engine.tick()
      this.drive()
    }
    return due
  }

  /** A client call: `onOutcome` is called exactly once, with a refusal or the engine's reply (unless the kernel is stopped first). */
  call(command: C, onOutcome: (outcome: CallOutcome<A>) => void): void {
    this.assertIdle('call')
    if (this.sleeps) this.runDueTicks()
    const requestId = this.requests.open(onOutcome)
    if (requestId === null) {
      this.callsRefused++
      onOutcome({ kind: 'refused', refusal: { code: 'overloaded', message: 'too many calls wait for a reply on this node' } })
      return
    }
    const refusal = this.engine.propose(this.binding.withRequestId(command, requestId))
    if (refusal !== null) {
      this.callsRefused++
      this.requests.settle(requestId)
      onOutcome({ kind: 'refused', refusal })
    }
    this.drive()
    this.onInput?.()
  }

  /**
   * An input outside step, tick and propose (a replica's leave): `apply`
   * gives it to the engine, which is then driven like after any input.
   */
  input(name: string, apply: (engine: Engine<C, M, A, E>) => Refusal | null): Refusal | null {
    this.assertIdle(name)
    if (this.sleeps) this.runDueTicks()
    const refusal = apply(this.engine)
    this.drive()
    this.onInput?.()
    return refusal
  }

  /**
   * The process is gone (a crash, a power loss): the engine is never touched
   * again and later input is refused, loudly. Open calls are dropped unanswered
   * (their callbacks are never called): what their callers see is the
   * connection breaking, and whether the command took effect stays unknown. A
   * host that shuts down gracefully answers or drains its calls first.
   * Returns how many calls were dropped.
   */
  stop(reason: string): number {
    this.assertIdle('stop')
    this.stoppedBecause = reason
    return this.requests.dropAll()
  }

  status(): KernelStatus {
    return {
      readies: this.readies,
      stepsRefused: this.stepsRefused,
      callsRefused: this.callsRefused,
      inFlight: this.requests.inFlight,
      repliesUnmatched: this.requests.repliesUnmatched,
      ticks: { ...this.schedule.status(), sleeps: this.sleeps, nextDeadlineMs: this.nextDeadlineMs() },
      events: this.events.status(),
    }
  }

  private assertIdle(input: string): void {
    if (this.driving) assertFailed(`${input} while a Ready is out: inputs wait until the drive is done`)
    if (this.stoppedBecause !== null) assertFailed(`${input} after the kernel stopped (${this.stoppedBecause})`)
  }

  private drive(): void {
    this.driving = true
    try {
      this.readies += driveUntilIdle(this.engine, this.ports)
    } finally {
      this.driving = false
    }
    const settled = this.settled
    if (settled === null) return
    this.settled = null
    for (const { onReply, outcome } of settled) onReply(outcome)
  }

  private handled(ready: Ready<M, A, E>): void {
    const { applied, events } = ready
    for (let index = 0; index < applied.length; index++) {
      const reply = applied[index]!
      const requestId = this.binding.replyTo(reply)
      if (requestId === null) continue
      const onReply = this.requests.settle(requestId)
      if (onReply !== null) (this.settled ??= []).push({ onReply, outcome: { kind: 'reply', reply } })
    }
    for (let index = 0; index < events.length; index++) this.events.append(events[index]!)
    this.onReady?.(ready)
  }
}
