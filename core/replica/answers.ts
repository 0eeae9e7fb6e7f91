/**
 * The one place a client request is answered: a waiting request is settled
 * in the request table and its reply queued for the next Ready's `applied`;
 * requests answered at once (local reads, awareness) only queue their reply.
 */
import type { NodeId } from '../ports.ts'
import type { Position, ReplicaReply } from './commands.ts'
import type { ReplicaMetrics } from './metrics.ts'
import type { PendingRequest, PendingRequests } from './requests.ts'

export type ReplyValue = Extract<ReplicaReply, { ok: true }>['value']

export class Answers {
  private readonly requests: PendingRequests
  private readonly metrics: ReplicaMetrics
  private readonly applied: (reply: ReplicaReply) => void

  constructor(requests: PendingRequests, metrics: ReplicaMetrics, applied: (reply: ReplicaReply) => void) {
    this.requests = requests
    this.metrics = metrics
    this.applied = applied
  }

  succeed(request: PendingRequest, path: 'raft' | 'crdt' | 'pbft', position: Position, value?: ReplyValue): void {
    this.requests.settle(request.requestId)
    const isWrite = request.kind === 'strongWrite' || request.kind === 'autoWrite' || request.kind === 'byzantineWrite' || request.kind === 'crdtWrite'
    if (isWrite) this.metrics[`path.${path}`]++
    const auto = request.kind === 'autoWrite' ? { reason: request.route.via === 'raft' ? ('datacenter' as const) : request.route.reason, mode: request.mode, timestamp: request.stamp } : undefined
    this.reply({ type: 'reply', requestId: request.requestId, ok: true, path, position, ...(value === undefined ? {} : { value }), ...(auto === undefined ? {} : { auto }) })
  }

  fail(request: PendingRequest, code: string, message: string, leader?: NodeId | null): void {
    this.requests.settle(request.requestId)
    this.reply({ type: 'reply', requestId: request.requestId, ok: false, code, message, ...(leader === undefined ? {} : { leader }) })
  }

  /** Queues a reply; requests that waited are answered through `succeed` and `fail`. */
  reply(reply: ReplicaReply): void {
    if (reply.ok) this.metrics.repliesOk++
    else this.metrics.repliesFailed++
    this.applied(reply)
  }
}
