/**
 * One script node's engine hosted through the host kernel (host/kernel.ts),
 * as every real host runs it: the kernel drives the engine after each input
 * (persist, sync, send, apply, advance, until idle). The script's clock moves
 * one tick per `tick()`. What the Readies print waits in `printed` until the
 * harness takes it.
 */
import type { NodeId } from '../../core/ports.ts'
import type { Engine, Ready, Refusal } from '../../core/ready.ts'
import { HostKernel, type RequestBinding } from '../../host/kernel.ts'
import type { StorageWriter } from '../../host/ports.ts'

/** Scripts pick their own request ids and print every result: commands go to the engine as written. */
const asWritten: RequestBinding<never, unknown> = { withRequestId: (command) => command, replyTo: () => null }

/** Events the kernel keeps for resuming viewers; scripts print every event as it comes instead. */
const eventsRetainedMax = 16

export interface ScriptPorts<M, A, E> {
  readonly storage: StorageWriter
  readonly send: (to: NodeId, message: M) => void
  /** The lines one Ready prints (its results and events). */
  readonly describe: (ready: Ready<M, A, E>) => string[]
}

export class ScriptHost<C, M, A, E> {
  private readonly kernel: HostKernel<C, M, A, E>
  private nowMs = 0
  private printed: string[] = []

  constructor(engine: Engine<C, M, A, E>, ports: ScriptPorts<M, A, E>) {
    this.kernel = new HostKernel<C, M, A, E>({
      engine,
      storage: ports.storage,
      transport: { send: ports.send },
      monotonic: { nowMs: () => this.nowMs },
      tickMs: 1,
      requests: asWritten as RequestBinding<C, A>,
      events: { epoch: engine.id, retainedMax: eventsRetainedMax },
      onReady: (ready) => {
        for (const line of ports.describe(ready)) this.printed.push(line)
      },
    })
  }

  step(from: NodeId, message: M): Refusal | null {
    return this.kernel.step(from, message)
  }

  /** One tick of the node's clock, run by the kernel. */
  tick(): void {
    this.nowMs++
    this.kernel.tick()
  }

  /** Input outside step and tick (one or more proposals before the next Ready, say), driven once after. */
  input(name: string, apply: () => Refusal | null): Refusal | null {
    return this.kernel.input(name, apply)
  }

  /** The process is gone (a crash): later input is refused. */
  stop(reason: string): void {
    this.kernel.stop(reason)
  }

  /** The lines printed since the last call. */
  takePrinted(): string[] {
    const printed = this.printed
    this.printed = []
    return printed
  }
}
