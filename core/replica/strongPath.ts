/**
 * The strong path (DESIGN §2): strong writes and policy changes go into the
 * Raft log (forwarding.ts takes them to the leader); linearizable reads are
 * served by the leader's ReadIndex. What Raft applies answers them, joins
 * committed auto writes into the CRDT register on every replica, and, at the
 * leader, publishes committed strong values for follower reads.
 */
import type { CrdtEngine } from '../crdt/engine.ts'
import type { Hlc } from '../crdt/hlc.ts'
import type { RaftApplied, RaftEngine } from '../raft/engine.ts'
import type { Refusal } from '../ready.ts'
import type { AutoPath } from './autoPath.ts'
import { requestDeadlineMs, type ReplicaContext } from './context.ts'
import type { ClusterConfiguration } from './clusterConfiguration.ts'
import type { Forwarding } from './forwarding.ts'
import { decodeLogCommand, decodeLogReply, type LogCommand, type LogReply } from './logCommand.ts'
import type { ForwardResult } from './messages.ts'
import type { Policy } from './policy.ts'
import { publishedKey } from './published.ts'
import type { PendingRequest } from './requests.ts'
import { decodeKeyValue, encodeKeyQuery } from './strongState.ts'

export interface StrongPathOptions {
  readonly context: ReplicaContext
  readonly raft: RaftEngine | null
  readonly crdt: CrdtEngine
  readonly forwarding: Forwarding
  readonly auto: AutoPath
}

export class StrongPath {
  private readonly context: ReplicaContext
  private readonly raft: RaftEngine | null
  private readonly crdt: CrdtEngine
  private readonly forwarding: Forwarding
  private readonly auto: AutoPath

  constructor(options: StrongPathOptions) {
    this.context = options.context
    this.raft = options.raft
    this.crdt = options.crdt
    this.forwarding = options.forwarding
    this.auto = options.auto
  }

  /** A put (value) or delete (null) of a strong namespace. */
  write(requestId: number, key: string, value: string | null, stamp: Hlc): Refusal | null {
    const origin = this.context.id
    return this.proposeWaiting(requestId, stamp, value === null ? { kind: 'delete', origin, stamp, key } : { kind: 'put', origin, stamp, key, value })
  }

  /** A namespace's new policy: a strong write, so every replica switches at the same log position. */
  setPolicy(requestId: number, namespace: string, policy: Policy): Refusal | null {
    const stamp = this.crdt.hlc.now()
    return this.proposeWaiting(requestId, stamp, { kind: 'policy', origin: this.context.id, stamp, namespace, policy })
  }

  /** The next cluster configuration: a client's membership change (answered when it applies), or the leader's own (requestId null). */
  proposeConfiguration(requestId: number | null, configuration: ClusterConfiguration): Refusal | null {
    const stamp = this.crdt.hlc.now()
    const command: LogCommand = { kind: 'configuration', origin: this.context.id, stamp, configuration }
    if (requestId === null) return this.forwarding.propose(0, command)
    return this.proposeWaiting(requestId, stamp, command, true)
  }

  private proposeWaiting(requestId: number, stamp: Hlc, command: LogCommand, configuration = false): Refusal | null {
    const deadlineMs = requestDeadlineMs(this.context)
    const refusal = this.forwarding.propose(requestId, command)
    if (refusal !== null) return refusal
    this.context.requests.open({ kind: 'strongWrite', requestId, deadlineMs, stamp, ...(configuration ? { configuration: true as const } : {}) })
    return null
  }

  /** A linearizable read: served by the leader's ReadIndex, here or through forwarding. */
  read(requestId: number, key: string): Refusal | null {
    if (this.raft === null || !this.forwarding.inGroup) return { code: 'notInGroup', message: `${this.context.id} is not in the Raft group; ask with consistency=eventual for the published value` }
    const deadlineMs = requestDeadlineMs(this.context)
    if (this.raft.role === 'leader') {
      const readId = this.context.nextReadId()
      const refusal = this.raft.propose({ type: 'read', readId, query: encodeKeyQuery(key) })
      if (refusal !== null) return refusal
      this.context.requests.open({ kind: 'strongRead', requestId, deadlineMs, readId })
      return null
    }
    const refusal = this.forwarding.forwardRead(requestId, key)
    if (refusal !== null) return refusal
    this.context.requests.open({ kind: 'forwardedRead', requestId, deadlineMs })
    return null
  }

  /** What Raft applied, once the host persisted its Ready. */
  handleApplied(applied: RaftApplied): void {
    if (applied.type === 'read' || applied.type === 'readFailed') {
      if (this.forwarding.answerRead(applied)) return
      const request = this.context.requests.find({ at: 'raftRead', readId: applied.readId })
      if (request === undefined) return
      if (applied.type === 'readFailed') return this.context.answers.fail(request, 'notLeader', applied.reason, this.forwarding.leader)
      const held = decodeKeyValue(applied.reply)
      return this.context.answers.succeed(request, 'raft', { kind: 'raft', index: applied.index, version: held?.version ?? 0 }, held?.value ?? null)
    }
    if (applied.type !== 'entry' || applied.kind !== 'command' || applied.reply === null) return
    const command = decodeLogCommand(applied.data)
    const reply = decodeLogReply(applied.reply)
    if (!command.ok || !reply.ok) return
    const logCommand = command.value
    // Every replica joins a committed auto write into its register: the same stamp, so it is one write whatever path it also took.
    if (logCommand.kind === 'auto') this.crdt.propose({ requestId: 0, op: { type: 'register', key: logCommand.key, value: logCommand.value, at: { timestamp: logCommand.stamp, replica: logCommand.origin } } })
    if (this.raft?.role === 'leader' && reply.value.outcome === 'applied' && (logCommand.kind === 'put' || logCommand.kind === 'delete')) {
      this.context.publish(publishedKey('strong', logCommand.key), reply.value.version, logCommand.kind === 'put' ? logCommand.value : null)
    }
    this.forwarding.answerWrite(logCommand, applied.index, reply.value)
    if (logCommand.origin !== this.context.id) return
    const request = this.context.requests.find({ at: 'raftEntry', stamp: logCommand.stamp })
    if (request !== undefined) this.answerFromLog(request, applied.index, reply.value)
  }

  /** The leader's answer to a request this node forwarded. */
  handleForwardAnswer(request: PendingRequest, result: ForwardResult): void {
    if (result.kind === 'failed') {
      if (request.kind === 'autoWrite') return this.auto.raftFailed(request)
      return this.context.answers.fail(request, result.code, result.message, result.leader)
    }
    if (result.kind === 'read') return this.context.answers.succeed(request, 'raft', { kind: 'raft', index: result.index, version: result.value.version }, result.value.value)
    // A membership change is answered once it applied here, so the answer and this node's configuration agree (a join's answer carries it).
    if (request.kind === 'strongWrite' && request.configuration === true && result.reply.outcome !== 'refused') return
    this.answerFromLog(request, result.index, result.reply)
  }

  /** Answers a request from what the log made of its entry; an auto write's answer is the auto path's to give. */
  private answerFromLog(request: PendingRequest, index: number, reply: LogReply): void {
    const version = reply.outcome === 'applied' ? reply.version : 0
    if (request.kind === 'autoWrite') return reply.outcome === 'refused' ? this.auto.raftFailed(request) : this.auto.committed(request, index, version)
    if (reply.outcome === 'refused') return this.context.answers.fail(request, reply.code, reply.message)
    if (request.kind === 'strongWrite' && request.configuration === true) {
      // A duplicate (the same proposal twice in the log) made no version of its own: the one applied now stands.
      return this.context.answers.succeed(request, 'raft', { kind: 'configuration', version: reply.outcome === 'applied' ? reply.version : 0, index })
    }
    this.context.answers.succeed(request, 'raft', { kind: 'raft', index, version })
  }
}
