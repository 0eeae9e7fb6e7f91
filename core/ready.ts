/**
 * The engine contract: how a host drives any DWCP engine.
 *
 * An engine is a deterministic state machine. It changes only when the host
 * calls one of its inputs:
 *
 *   step(from, message)   a peer message arrived (already decoded and authenticated)
 *   tick()                one logical tick passed (the host decides how long a tick is)
 *   propose(command)      a client asked for something
 *
 * After any input the host asks `hasReady()`; when true it takes `ready()` and
 * must handle the fields of the returned Ready strictly in this order:
 *
 *   1. persist: apply every entry of `writes` to durable storage, in order.
 *      If `mustSync` is true, sync (fsync / commit with synchronous=FULL)
 *      before going on; messages below may promise that these writes are durable.
 *   2. send: hand every entry of `messages` to the transport. Delivery is not
 *      guaranteed; engines tolerate loss, duplication and reordering.
 *   3. apply: hand every entry of `applied` to whoever waits for it (client
 *      acknowledgements, the state machine, follower reads). Only now may a
 *      client be told that its command succeeded.
 *   4. advance: call `advance(ready)` with the same object, telling the engine
 *      that everything above is done. Until then `ready()` must not be called
 *      again, and no input (step, tick, propose) may be given: the Ready's
 *      arrays are the engine's own and stay valid only until advance.
 *
 * `events` carry no obligation: they are typed observations (role changes,
 * suspicions, refused messages) for the TUI, metrics and traces.
 *
 * A host that crashes between steps 1 and 4 restarts the engine from storage;
 * the engine's recovery must accept every prefix of an unfinished Ready that
 * storage may have kept (unsynced writes may be lost or torn).
 */
import { assert, assertFailed } from './lib/assert.ts'
import type { NodeId, StorageWrite } from './ports.ts'

export interface Outbound<M> {
  readonly to: NodeId
  readonly message: M
}

export interface Ready<M, A, E> {
  /** Step 1: durable writes, in order. */
  readonly writes: readonly StorageWrite[]
  /** Step 1: whether `writes` must be synced before any message is sent. */
  readonly mustSync: boolean
  /** Step 2: messages to peers. */
  readonly messages: readonly Outbound<M>[]
  /** Step 3: results that may now be made visible (acknowledged, applied). */
  readonly applied: readonly A[]
  /** Observations; no obligation for the host. */
  readonly events: readonly E[]
}

/** Why an engine refused an input. Refusals are counted, never thrown. */
export interface Refusal {
  readonly code: string
  readonly message: string
}

export interface Engine<C, M, A, E> {
  readonly id: NodeId
  /** A peer message. Returns a refusal when the message is invalid for this engine's state. */
  step(from: NodeId, message: M): Refusal | null
  tick(): void
  /** A client command. Returns a refusal (queue full, invalid) or null when accepted. */
  propose(command: C): Refusal | null
  hasReady(): boolean
  ready(): Ready<M, A, E>
  advance(ready: Ready<M, A, E>): void
  /**
   * How many `tick()` calls from now until a tick may give the engine work (a
   * Ready: messages, writes, results, events), with no other input between:
   * 1 when the next tick may, Infinity when no tick ever will. Read-only.
   * Exact in one direction: an answer may be early (a wake that finds
   * nothing), never late (a tick that had work would wait: a liveness bug).
   * Ticks before it may still change counters; a sleeping host runs every
   * tick anyway, one at a time, before its next input (host/kernel.ts), so
   * only when output leaves changes. Optional: hosts that tick every tick
   * never ask.
   */
  ticksUntilWork?(): number
}

/** `ticksUntilWork` of an engine that no tick will give work. */
export const noTickWork = Number.POSITIVE_INFINITY

/** Ticks until a tick at or after `dueTick` (an engine's own tick count), from `nowTick`: at least 1. */
export function ticksUntil(dueTick: number, nowTick: number): number {
  return Math.max(1, dueTick - nowTick)
}

/**
 * Ticks until the tick that first sees time `dueMs` of a clock that reads
 * `nowMs` now, for a host whose next tick is at most one tick away: a tick
 * k ticks from now runs at most k·tickMs from now, so the first tick with
 * time >= dueMs is at least ⌈(dueMs − nowMs) / tickMs⌉ ticks away (early,
 * never late).
 */
export function ticksUntilMs(dueMs: number, nowMs: number, tickMs: number): number {
  if (dueMs === Number.POSITIVE_INFINITY) return noTickWork
  return Math.max(1, Math.ceil((dueMs - nowMs) / tickMs))
}

/** An empty Ready, shared so idle engines allocate nothing. */
export const emptyReady: Ready<never, never, never> = Object.freeze({
  writes: [],
  mustSync: false,
  messages: [],
  applied: [],
  events: [],
})

/**
 * What an engine gathers between two Readies (messages, results, events) and
 * the hand-out protocol every engine shares: `handOut` builds the Ready,
 * `advance` takes it back, and nothing is handed out twice.
 */
export class ReadyBuffer<M, A, E> {
  messages: Outbound<M>[] = []
  applied: A[] = []
  events: E[] = []
  private handedOut: Ready<M, A, E> | null = null

  /** True between `handOut` and `advance`: no Ready may be handed out then. */
  get isHandedOut(): boolean {
    return this.handedOut !== null
  }

  /**
   * Every input (step, tick, propose) starts here: no input while a Ready is
   * out, since its arrays are the engine's own until advance (contract step 4).
   */
  assertIdle(input: string): void {
    if (this.handedOut !== null) assertFailed(`${input} while a Ready is out: advance() it first`)
  }

  /** True when messages, results or events wait; engines add their own pending writes to this. */
  get hasPending(): boolean {
    return this.messages.length > 0 || this.applied.length > 0 || this.events.length > 0
  }

  /**
   * Queues a message unless `messagesMax` wait already; false when it was
   * dropped. Protocols here repeat what they send (gossip, sync, probes), so a
   * full outbox drops a message rather than growing without bound.
   */
  send(to: NodeId, message: M, messagesMax: number): boolean {
    if (this.messages.length >= messagesMax) return false
    // A Ready's first message starts an array of one: a push onto the empty array would reserve room for 16.
    if (this.messages.length === 0) this.messages = [{ to, message }]
    else this.messages.push({ to, message })
    return true
  }

  /** Adds a result for the next Ready (the first starts an array of one, as in `send`). */
  addApplied(result: A): void {
    if (this.applied.length === 0) this.applied = [result]
    else this.applied.push(result)
  }

  /** Adds an event for the next Ready (the first starts an array of one, as in `send`). */
  addEvent(event: E): void {
    if (this.events.length === 0) this.events = [event]
    else this.events.push(event)
  }

  /** Hands out everything gathered, with the engine's `writes`. */
  handOut(writes: readonly StorageWrite[], mustSync: boolean): Ready<M, A, E> {
    assert(this.handedOut === null, 'ready() called again before advance()')
    const ready: Ready<M, A, E> = { writes, mustSync, messages: this.messages, applied: this.applied, events: this.events }
    // Fresh arrays only where something was handed out: an empty array can serve again.
    if (this.messages.length > 0) this.messages = []
    if (this.applied.length > 0) this.applied = []
    if (this.events.length > 0) this.events = []
    this.handedOut = ready
    return ready
  }

  advance(ready: Ready<M, A, E>): void {
    if (ready === emptyReady) return
    assert(ready === this.handedOut, 'advance() with a Ready this engine did not hand out last')
    this.handedOut = null
  }
}
