/**
 * One replica hosted through the kernel: what the Node process, the Durable
 * Object and the API share. It binds client calls to the replica's request
 * ids (a call gets a refusal or exactly one reply), numbers the replica's
 * events per incarnation, and gives viewers a snapshot with the kernel's own
 * counters beside the replica's. Runtime-neutral: the host brings storage,
 * transport and a monotonic clock, and calls `tick()` at `nextDeadlineMs()`
 * (every tick, or with `sleepWhenIdle` only the ticks with work).
 */
import type { NodeId, Ready, Refusal, Replica, ReplicaApplied, ReplicaCommand, ReplicaEvent, ReplicaMessage, ReplicaReply, ReplicaSnapshot, Result } from '../core/index.ts'
import type { Subscription } from './eventLog.ts'
import { HostKernel, type CallOutcome, type KernelStatus, type RequestBinding } from './kernel.ts'
import type { MonotonicClock, StorageWriter, Transport } from './ports.ts'

/** A client command without its request id: the kernel assigns one. */
export type ReplicaCall = ReplicaCommand extends infer C ? (C extends ReplicaCommand ? Omit<C, 'requestId'> : never) : never

/** Every replica reply names the request it answers. */
export const replicaRequests: RequestBinding<ReplicaCommand, ReplicaApplied> = {
  withRequestId: (command, requestId) => ({ ...command, requestId }),
  replyTo: (applied) => applied.requestId,
}

/** Whether a replica event says a new cluster configuration applied (hosts then follow its members with their links). */
export function isConfigurationChange(event: ReplicaEvent): boolean {
  return (event.event as { readonly kind?: string }).kind === 'configurationChanged'
}

export interface ReplicaHostOptions {
  readonly replica: Replica
  readonly storage: StorageWriter
  readonly transport: Transport<ReplicaMessage>
  readonly monotonic: MonotonicClock
  readonly inFlightMax?: number
  /** Limits of the event log (retained events, subscribers, buffer per subscriber). */
  readonly eventsRetainedMax?: number
  readonly subscribersMax?: number
  readonly subscriberBufferMax?: number
  readonly onReady?: (ready: Ready<ReplicaMessage, ReplicaApplied, ReplicaEvent>) => void
  /** Wake only at ticks with work (host/kernel.ts sleepWhenIdle); default false, every tick. */
  readonly sleepWhenIdle?: boolean
  /** After every input: the host re-arms its timer or alarm at `nextDeadlineMs()`. */
  readonly onInput?: () => void
}

/** What a viewer sees of a hosted node: the replica's snapshot, the kernel's counters and where the event numbering stands. */
export interface HostSnapshot extends ReplicaSnapshot {
  readonly kernel: KernelStatus
  readonly events: { readonly epoch: string; readonly lastSeq: number }
}

export class ReplicaHost {
  readonly replica: Replica
  readonly kernel: HostKernel<ReplicaCommand, ReplicaMessage, ReplicaApplied, ReplicaEvent>

  constructor(options: ReplicaHostOptions) {
    this.replica = options.replica
    this.kernel = new HostKernel({
      engine: options.replica,
      storage: options.storage,
      transport: options.transport,
      monotonic: options.monotonic,
      tickMs: options.replica.config.tickMs,
      requests: replicaRequests,
      // Numbers restart with each life of the node: a viewer holding numbers of an earlier one gets a gap, not wrong events.
      events: { epoch: `${options.replica.id}:${options.replica.boot}`, retainedMax: options.eventsRetainedMax, subscribersMax: options.subscribersMax, subscriberBufferMax: options.subscriberBufferMax },
      inFlightMax: options.inFlightMax,
      onReady: options.onReady,
      sleepWhenIdle: options.sleepWhenIdle,
      onInput: options.onInput,
    })
  }

  get id(): NodeId {
    return this.replica.id
  }

  /** Runs `command`; resolves with the replica's reply or a refusal, exactly once. */
  call(command: ReplicaCall): Promise<CallOutcome<ReplicaReply>> {
    return new Promise((resolve) => this.kernel.call(command as ReplicaCommand, resolve))
  }

  /** A peer message, after its link was authenticated and its frame checked (PeerFrames). */
  step(from: NodeId, message: ReplicaMessage): Refusal | null {
    return this.kernel.step(from, message)
  }

  /** Leaves the cluster gracefully (Replica.leave); the news is handed to the transport before this returns. */
  leave(): Refusal | null {
    return this.kernel.input('leave', () => this.replica.leave())
  }

  /** Runs the ticks due by the monotonic clock; returns how many ran. */
  tick(): number {
    return this.kernel.tick()
  }

  /** Monotonic time at which `tick()` has work next: the host's timer or alarm. */
  nextDeadlineMs(): number {
    return this.kernel.nextDeadlineMs()
  }

  snapshot(): HostSnapshot {
    const events = this.kernel.events.status()
    return { ...this.replica.snapshot(), kernel: this.kernel.status(), events: { epoch: events.epoch, lastSeq: events.lastSeq } }
  }

  /** Events after `since` (kept ones first), or only new ones when null; see EventLog.subscribe. */
  subscribe(since: { readonly epoch: string; readonly seq: number } | null): Subscription<ReplicaEvent> | Refusal {
    return this.kernel.events.subscribe(since)
  }

  /** Document `key`'s Yjs state vector (y-protocols SyncStep1). */
  docStateVector(key: string): Uint8Array {
    return this.replica.docStateVector(key)
  }

  /** What a holder of `stateVector` lacks of document `key` (y-protocols SyncStep2). */
  docDiff(key: string, stateVector: Uint8Array): Result<Uint8Array, Refusal> {
    return this.replica.docDiff(key, stateVector)
  }

  /** The present awareness states of document `key` as one y-protocols update, or null. */
  awarenessStates(key: string): Uint8Array | null {
    return this.replica.awarenessStates(key)
  }
}
