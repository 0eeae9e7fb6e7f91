/**
 * Forwarding to the Raft leader (DESIGN §3): a strong command or linearizable
 * read that arrives at a follower goes to the leader, which proposes or serves
 * it and answers. The origin also answers a write when it applies the entry
 * itself, whichever comes first.
 *
 * - origin side: `propose` puts a command into the log here when this node
 *   leads, else forwards it; `forwardRead` forwards a read. A `forwardReply`
 *   is matched by request id and by the origin's incarnation `boot` it echoes,
 *   so an answer meant for an earlier life of this node never answers a new
 *   request that reuses the id;
 * - leader side: what it proposed or reads for others, answered when the entry
 *   applies or the read is served, forgotten after requestTimeoutMs (the
 *   origin has answered `timeout` by then).
 */
import { assert } from '../lib/assert.ts'
import type { Hlc } from '../crdt/hlc.ts'
import type { NodeId } from '../ports.ts'
import type { RaftApplied, RaftEngine } from '../raft/engine.ts'
import type { Refusal } from '../ready.ts'
import { replicaLimits } from './config.ts'
import type { ReplicaContext } from './context.ts'
import { encodeLogCommand, type LogCommand, type LogReply } from './logCommand.ts'
import type { ForwardMessage, ForwardResult } from './messages.ts'
import type { PendingRequest } from './requests.ts'
import { decodeKeyValue, encodeKeyQuery } from './strongState.ts'

/** A request this node, as leader, took from another member. */
interface Forwarded {
  readonly origin: NodeId
  readonly requestId: number
  /** The origin's incarnation when it forwarded: echoed in the answer. */
  readonly boot: number
  readonly expiresMs: number
}

export interface ForwardingOptions {
  readonly context: ReplicaContext
  /** This node's incarnation (incarnation.ts). */
  readonly boot: number
  readonly raft: RaftEngine | null
  /** The Raft voters now (for messages), and whether this node is a voter or learner (only then does it propose or forward). */
  readonly raftVoters: () => readonly NodeId[]
  readonly inRaftGroup: () => boolean
  /** Counts a write the leader proposes toward placement, by the member it came from. */
  readonly recordWrite: (command: LogCommand, origin: NodeId) => void
  /** A leader's answer to a request still waiting here. */
  readonly onAnswer: (request: PendingRequest, result: ForwardResult) => void
}

export class Forwarding {
  private readonly context: ReplicaContext
  private readonly boot: number
  private readonly raft: RaftEngine | null
  private readonly raftVoters: () => readonly NodeId[]
  private readonly inRaftGroup: () => boolean
  private readonly recordWrite: (command: LogCommand, origin: NodeId) => void
  private readonly onAnswer: (request: PendingRequest, result: ForwardResult) => void
  /** Leader side: forwarded writes by their entry's origin and stamp, forwarded reads by Raft read id. */
  private readonly writes = new Map<string, Forwarded>()
  private readonly reads = new Map<number, Forwarded>()

  constructor(options: ForwardingOptions) {
    this.context = options.context
    this.boot = options.boot
    this.raft = options.raft
    this.raftVoters = options.raftVoters
    this.inRaftGroup = options.inRaftGroup
    this.recordWrite = options.recordWrite
    this.onAnswer = options.onAnswer
  }

  /** Raft's leader as this node knows it (itself included), or null. */
  get leader(): NodeId | null {
    return this.raft === null ? null : this.raft.role === 'leader' ? this.context.id : this.raft.leader
  }

  /** Whether this node takes part in Raft (a voter or learner of the applied configuration). */
  get inGroup(): boolean {
    return this.raft !== null && this.inRaftGroup()
  }

  // ---- the origin's side ---------------------------------------------------

  /**
   * Puts a command into the Raft log: proposed here when this node leads,
   * else forwarded to the leader. A refusal when it can go nowhere; what that
   * means for the request is the caller's to decide.
   */
  propose(requestId: number, command: LogCommand): Refusal | null {
    const raft = this.raft
    // A leader removed from the configuration still leads until Raft's own removal commits: it may propose.
    if (raft === null || (!this.inRaftGroup() && raft.role !== 'leader')) return { code: 'notInGroup', message: `${this.context.id} is not in the Raft group (${this.raftVoters().join(', ')})` }
    if (raft.role === 'leader') {
      const refusal = raft.propose({ type: 'propose', data: encodeLogCommand(command) })
      if (refusal !== null) return refusal
      this.recordWrite(command, this.context.id)
      return null
    }
    return this.toLeader(raft.leader, { type: 'forward', requestId, boot: this.boot, command })
  }

  /** Sends a linearizable read to the leader; only a follower forwards one (a leader serves it). */
  forwardRead(requestId: number, key: string): Refusal | null {
    assert(this.raft !== null && this.raft.role !== 'leader', 'only a Raft follower forwards a read')
    return this.toLeader(this.raft.leader, { type: 'forwardRead', requestId, boot: this.boot, key })
  }

  private toLeader(leader: NodeId | null, message: ForwardMessage): Refusal | null {
    if (leader === null) return { code: 'noLeader', message: 'no Raft leader is known; retry shortly' }
    this.context.send(leader, { engine: 'replica', message })
    this.context.metrics.forwardsSent++
    return null
  }

  // ---- peer messages -------------------------------------------------------

  step(from: NodeId, message: ForwardMessage): Refusal | null {
    if (message.type === 'forwardReply') {
      if (message.boot !== this.boot) {
        this.context.metrics.forwardRepliesStale++
        return null
      }
      const request = this.context.requests.get(message.requestId)
      if (request === undefined) return null // answered already (by our own apply) or timed out
      this.onAnswer(request, message.result)
      return null
    }
    return this.serve(from, message)
  }

  // ---- the leader's side ---------------------------------------------------

  private serve(from: NodeId, message: Exclude<ForwardMessage, { type: 'forwardReply' }>): Refusal | null {
    const nowMs = this.context.clock.nowMs()
    const fail = (code: string, text: string): null => {
      this.context.send(from, { engine: 'replica', message: { type: 'forwardReply', requestId: message.requestId, boot: message.boot, result: { kind: 'failed', code, message: text, leader: this.leader } } })
      return null
    }
    if (this.raft === null || this.raft.role !== 'leader') return fail('notLeader', `${this.context.id} does not lead the Raft group`)
    if (this.writes.size + this.reads.size >= replicaLimits.forwardedRequestsMax) return fail('overloaded', `forwardedRequestsMax=${replicaLimits.forwardedRequestsMax}`)
    this.context.metrics.forwardsServed++
    const forwarded: Forwarded = { origin: from, requestId: message.requestId, boot: message.boot, expiresMs: nowMs + this.context.config.requestTimeoutMs }
    if (message.type === 'forward') {
      if (message.command.origin !== from) return { code: 'forgedOrigin', message: `${from} forwarded a command of ${message.command.origin}` }
      const refusal = this.raft.propose({ type: 'propose', data: encodeLogCommand(message.command) })
      if (refusal !== null) return fail(refusal.code, refusal.message)
      this.writes.set(stampKey(from, message.command.stamp), forwarded)
      this.recordWrite(message.command, from)
      return null
    }
    const readId = this.context.nextReadId()
    const refusal = this.raft.propose({ type: 'read', readId, query: encodeKeyQuery(message.key) })
    if (refusal !== null) return fail(refusal.code, refusal.message)
    this.reads.set(readId, forwarded)
    return null
  }

  /** Answers the origin of a forwarded read Raft served (or can no longer serve); false when the read was this node's own. */
  answerRead(applied: Extract<RaftApplied, { type: 'read' | 'readFailed' }>): boolean {
    const forwarded = this.reads.get(applied.readId)
    if (forwarded === undefined) return false
    this.reads.delete(applied.readId)
    const result: ForwardResult =
      applied.type === 'read' ? { kind: 'read', index: applied.index, value: decodeKeyValue(applied.reply) ?? { value: null, version: 0 } } : { kind: 'failed', code: 'notLeader', message: applied.reason, leader: this.leader }
    this.answer(forwarded, result)
    return true
  }

  /** Answers the origin of a forwarded write whose entry applied here. */
  answerWrite(command: LogCommand, index: number, reply: LogReply): void {
    const key = stampKey(command.origin, command.stamp)
    const forwarded = this.writes.get(key)
    if (forwarded === undefined) return
    this.writes.delete(key)
    this.answer(forwarded, { kind: 'written', index, reply })
  }

  /** Forgets forwarded requests past requestTimeoutMs: their origins have answered `timeout`. */
  expire(nowMs: number): void {
    for (const [key, forwarded] of this.writes) if (nowMs >= forwarded.expiresMs) this.writes.delete(key)
    for (const [readId, forwarded] of this.reads) if (nowMs >= forwarded.expiresMs) this.reads.delete(readId)
  }

  private answer(forwarded: Forwarded, result: ForwardResult): void {
    this.context.send(forwarded.origin, { engine: 'replica', message: { type: 'forwardReply', requestId: forwarded.requestId, boot: forwarded.boot, result } })
  }
}

function stampKey(origin: NodeId, stamp: Hlc): string {
  return `${origin}@${stamp.wallMs}.${stamp.logical}`
}
