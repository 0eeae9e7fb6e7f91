/**
 * What the parts of one replica share, built once by the Replica: who it is,
 * its settings and clock, its counters, the request table and the one place
 * requests are answered, and its outbox and event queue. Each part names the engines and the
 * other parts it needs on top of this.
 */
import type { Clock, NodeId } from '../ports.ts'
import type { Answers } from './answers.ts'
import type { ReplicaConfig } from './config.ts'
import type { ReplicaEvent } from './events.ts'
import type { ReplicaMessage } from './messages.ts'
import type { ReplicaMetrics } from './metrics.ts'
import type { PendingRequests } from './requests.ts'

export interface ReplicaContext {
  readonly id: NodeId
  readonly config: ReplicaConfig
  readonly clock: Clock
  readonly metrics: ReplicaMetrics
  readonly requests: PendingRequests
  readonly answers: Answers
  /** Queues a message of the replica's own (a forward, a probe) for the next Ready. */
  send(to: NodeId, message: ReplicaMessage): void
  /** Queues an event of the replica's own (a mode change, a placement decision, a refused message) for the next Ready. */
  report(event: ReplicaEvent): void
  /** The next id in Raft's and PBFT's read spaces: one counter for both, so a read id names one read whoever asked. */
  nextReadId(): number
  /** Publishes a committed strong or byzantine value into the gossiped state, where every member can read it (possibly stale). */
  publish(key: string, version: number, value: string | null): void
}

/** When a request accepted now is answered `timeout` if nothing else answered it. */
export function requestDeadlineMs(context: ReplicaContext): number {
  return context.clock.nowMs() + context.config.requestTimeoutMs
}
