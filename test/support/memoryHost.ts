/**
 * The smallest host for engine tests: each engine hosted through the host
 * kernel every real host runs (host/kernel.ts), over a SimStorage, a clock
 * that moves one tick per `tick()`, and an outbox; and a lock-step network
 * that delivers every queued message at the next tick, except to or from a
 * node that is down or across a cut. Tests give input only through the node
 * (step, tick, propose, input), so the kernel drives the engine after each
 * one, and read state through the engine's status() and read methods, the
 * applied results and the events.
 */
import type { NodeId, StorageWrite } from '../../core/ports.ts'
import type { Engine, Outbound, Ready, Refusal } from '../../core/ready.ts'
import { HostKernel, type RequestBinding } from '../../host/kernel.ts'
import type { SimStorage } from '../../sim/storage.ts'

/** Commands travel as the test wrote them: the tests pick their own request ids and read every result. */
const asWritten: RequestBinding<never, unknown> = { withRequestId: (command) => command, replyTo: () => null }

/**
 * Where in a Ready the power fails: at its sync (its writes reached storage
 * unsynced; nothing was sent or applied), or after its sync and sends, before
 * its results are applied (it is durable; the Readies after it never come).
 */
export type PowerLossPoint = 'sync' | 'apply'

/** Thrown by the ports of a node armed by `losePowerInNextReady`: the process is gone mid-Ready. */
export class PowerLoss extends Error {
  constructor() {
    super('power lost in the middle of a Ready')
  }
}

/** Events a hosted node's kernel keeps for resuming viewers (the tests read `events`, which keeps all). */
const eventsRetainedMax = 64

export class HostedNode<C, M, A, E> {
  readonly storage: SimStorage
  /** Messages sent and not yet delivered (deliver() takes them). */
  readonly outbox: Outbound<M>[] = []
  /** Every result of every Ready, across restarts. */
  readonly applied: A[] = []
  /** Every event of every Ready, across restarts. */
  readonly events: E[] = []
  /** What each Ready persisted, in order, across restarts (tests of what a Ready writes and when it syncs). */
  readonly persisted: { readonly writes: readonly StorageWrite[]; readonly mustSync: boolean }[] = []
  down = false
  private hosted: HostKernel<C, M, A, E>
  private nowMs = 0
  /** Armed: the power fails at this point of the next Ready (PowerLoss is thrown from the port). */
  private losingPower: PowerLossPoint | null = null

  constructor(engine: Engine<C, M, A, E>, storage: SimStorage) {
    this.storage = storage
    this.hosted = this.host(engine)
  }

  /** The hosted engine, for its status() and read methods; input goes through the node. */
  get engine(): Engine<C, M, A, E> {
    return this.hosted.engine
  }

  step(from: NodeId, message: M): Refusal | null {
    return this.hosted.step(from, message)
  }

  /** One tick: the node's clock moves one tick on and the kernel runs it. */
  tick(): void {
    this.nowMs++
    this.hosted.tick()
  }

  propose(command: C): Refusal | null {
    return this.hosted.input('propose', (engine) => engine.propose(command))
  }

  /** An input outside step, tick and propose (publishAwareness, leave...), driven like any other. */
  input(name: string, apply: () => Refusal | null): Refusal | null {
    return this.hosted.input(name, apply)
  }

  /** A new process: the old kernel is stopped and `engine` (built from the same storage) is hosted instead. */
  restartWith(engine: Engine<C, M, A, E>): void {
    this.hosted.stop('restarted')
    this.outbox.length = 0
    this.hosted = this.host(engine)
  }

  /**
   * Runs `input` with the power failing in the middle of the first Ready it
   * leaves, at `point` (PowerLossPoint). The kernel is then dead: restart
   * with restartWith, or host a new engine on the same storage.
   */
  losePowerInNextReady(input: () => void, point: PowerLossPoint = 'sync'): void {
    this.losingPower = point
    try {
      input()
    } catch (error) {
      if (!(error instanceof PowerLoss)) throw error
    } finally {
      this.losingPower = null
    }
  }

  private host(engine: Engine<C, M, A, E>): HostKernel<C, M, A, E> {
    const storage = this.storage
    return new HostKernel<C, M, A, E>({
      engine,
      storage: {
        write: (write) => storage.write(write),
        sync: () => {
          if (this.losingPower === 'sync') throw new PowerLoss()
          storage.sync()
        },
      },
      transport: {
        send: (to, message) => {
          if (this.losingPower === 'sync') throw new PowerLoss()
          this.outbox.push({ to, message })
        },
      },
      monotonic: { nowMs: () => this.nowMs },
      tickMs: 1,
      requests: asWritten as RequestBinding<C, A>,
      events: { epoch: `${engine.id}`, retainedMax: eventsRetainedMax },
      onReady: (ready: Ready<M, A, E>) => {
        if (this.losingPower !== null) throw new PowerLoss()
        this.persisted.push({ writes: [...ready.writes], mustSync: ready.mustSync })
        for (const applied of ready.applied) this.applied.push(applied)
        for (const event of ready.events) this.events.push(event)
      },
    })
  }
}

export function hosted<C, M, A, E>(engine: Engine<C, M, A, E>, storage: SimStorage): HostedNode<C, M, A, E> {
  return new HostedNode(engine, storage)
}

/** Drops a message: a cut between two nodes, or (with the message) a filter on what travels. */
export type Cut<M> = (from: NodeId, to: NodeId, message: M) => boolean

/** What a message becomes on its way (a frame encoded and decoded, say); the identity by default. */
export type Carry<M> = (from: NodeId, to: NodeId, message: M) => M

/** Delivers every queued message once (the ones they cause wait for the next call). */
export function deliver<C, M, A, E>(nodes: Record<NodeId, HostedNode<C, M, A, E>>, cut: Cut<M> = () => false, carry?: Carry<M>): void {
  for (const [id, node] of Object.entries(nodes)) {
    for (const { to, message } of node.outbox.splice(0)) {
      const target = nodes[to]
      if (target === undefined || target.down || node.down || cut(id, to, message)) continue
      target.step(id, carry === undefined ? message : carry(id, to, message))
    }
  }
}

/** `ticks` rounds of: deliver what is queued, then tick every live node. */
export function runTicks<C, M, A, E>(nodes: Record<NodeId, HostedNode<C, M, A, E>>, ticks: number, cut?: Cut<M>, carry?: Carry<M>): void {
  for (let tick = 0; tick < ticks; tick++) {
    deliver(nodes, cut, carry)
    for (const node of Object.values(nodes)) {
      if (node.down) continue
      node.tick()
    }
  }
}
