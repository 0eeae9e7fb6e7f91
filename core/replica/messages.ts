/**
 * A replica's peer messages: each engine's own, tagged with the engine, and
 * the replica's forwarding of client commands to the Raft leader.
 *
 *   forward      varuint requestId, command        the origin's log command, for the leader to propose
 *   forwardRead  varuint requestId, text key        a linearizable read, for the leader to serve
 *   forwardReply varuint requestId, result          the leader's answer to either
 *   pbftApproval varuint fromEpoch, replicas, id approver, bytes signature
 *                                                   a PBFT replica's approval of the configuration's target group (pbftGroupChange.ts)
 *   result := uint8 kind
 *     0 written   varuint index, reply            (LogReply)
 *     1 read      varuint index, keyValue
 *     2 failed    text code, text message, uint8 hasLeader, [id leader]
 */
import type * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import type { CrdtMessage } from '../crdt/messages.ts'
import type { GossipMessage } from '../gossip/messages.ts'
import type { PbftMessage } from '../pbft/messages.ts'
import type { RaftMessage } from '../raft/messages.ts'
import type { ProbeMessage } from '../adaptive/probeMessages.ts'
import { fail } from '../codec/decodeError.ts'
import { readBytes, readId, readText, readUint, writeBytes, writeId, writeText, writeUint } from '../codec/fields.ts'
import type { PbftReplica } from '../pbft/config.ts'
import { readReplicas, writeReplicas } from '../pbft/groupConfig.ts'
import type { PbftApproval } from '../pbft/reconfiguration.ts'
import { logCommandLimits, readKeyValue, readLogCommand, readLogReply, writeKeyValue, writeLogCommand, writeLogReply, type KeyValue, type LogCommand, type LogReply } from './logCommand.ts'
import { policyLimits } from './policy.ts'
import type { NodeId } from '../ports.ts'

export type ForwardResult =
  | { readonly kind: 'written'; readonly index: number; readonly reply: LogReply }
  | { readonly kind: 'read'; readonly index: number; readonly value: KeyValue }
  | { readonly kind: 'failed'; readonly code: string; readonly message: string; readonly leader: NodeId | null }

/**
 * A strong command or read sent to the leader, and its answer. `boot` is the
 * origin's incarnation (replica/boot): the answer echoes it, so an answer meant
 * for an earlier life of the origin never answers a new request that reuses
 * its request id.
 */
export type ForwardMessage =
  | { readonly type: 'forward'; readonly requestId: number; readonly boot: number; readonly command: LogCommand }
  | { readonly type: 'forwardRead'; readonly requestId: number; readonly boot: number; readonly key: string }
  | { readonly type: 'forwardReply'; readonly requestId: number; readonly boot: number; readonly result: ForwardResult }

/** A PBFT replica's signed approval of replacing the group of `fromEpoch` by `replicas` (core/pbft/reconfiguration.ts). */
export interface PbftApprovalMessage {
  readonly type: 'pbftApproval'
  readonly fromEpoch: number
  readonly replicas: readonly PbftReplica[]
  readonly approval: PbftApproval
}

/** The replica's own peer messages: forwards to the leader, and PBFT approvals. */
export type ReplicaPeerMessage = ForwardMessage | PbftApprovalMessage

export type ReplicaMessage =
  | { readonly engine: 'crdt'; readonly message: CrdtMessage }
  | { readonly engine: 'gossip'; readonly message: GossipMessage }
  | { readonly engine: 'raft'; readonly message: RaftMessage }
  | { readonly engine: 'pbft'; readonly message: PbftMessage }
  | { readonly engine: 'probe'; readonly message: ProbeMessage }
  | { readonly engine: 'replica'; readonly message: ReplicaPeerMessage }

export type ReplicaMessageEngine = ReplicaMessage['engine']

export const forwardTypes = ['forward', 'forwardRead', 'forwardReply', 'pbftApproval'] as const

/** Signatures are at most this long (64 bytes on real hosts). */
const approvalSignatureBytesMax = 128

const resultKinds = ['written', 'read', 'failed'] as const

export function writeForwardMessage(encoder: encoding.Encoder, message: ReplicaPeerMessage): void {
  if (message.type === 'pbftApproval') {
    writeUint(encoder, message.fromEpoch)
    writeReplicas(encoder, message.replicas)
    writeId(encoder, message.approval.replica)
    return writeBytes(encoder, message.approval.signature)
  }
  writeUint(encoder, message.requestId)
  writeUint(encoder, message.boot)
  switch (message.type) {
    case 'forward':
      return writeLogCommand(encoder, message.command)
    case 'forwardRead':
      return writeText(encoder, message.key)
    case 'forwardReply':
      return writeForwardResult(encoder, message.result)
  }
}

export function readForwardMessage(decoder: decoding.Decoder, type: number): ReplicaPeerMessage {
  const name = forwardTypes[type]
  if (name === undefined) fail('unknownType', `replica message type ${type} is not known`)
  if (name === 'pbftApproval') {
    const fromEpoch = readUint(decoder, Number.MAX_SAFE_INTEGER, 'from epoch')
    const replicas = readReplicas(decoder)
    const approval = { replica: readId(decoder, 'approver'), signature: readBytes(decoder, approvalSignatureBytesMax, 'approval signature') }
    return { type: name, fromEpoch, replicas, approval }
  }
  const requestId = readUint(decoder, Number.MAX_SAFE_INTEGER, 'request id')
  const boot = readUint(decoder, Number.MAX_SAFE_INTEGER, 'boot')
  switch (name) {
    case 'forward':
      return { type: name, requestId, boot, command: readLogCommand(decoder) }
    case 'forwardRead':
      return { type: name, requestId, boot, key: readText(decoder, policyLimits.keyBytesMax, 'key') }
    case 'forwardReply':
      return { type: name, requestId, boot, result: readForwardResult(decoder) }
  }
}

function writeForwardResult(encoder: encoding.Encoder, result: ForwardResult): void {
  writeUint(encoder, resultKinds.indexOf(result.kind))
  switch (result.kind) {
    case 'written':
      writeUint(encoder, result.index)
      return writeLogReply(encoder, result.reply)
    case 'read':
      writeUint(encoder, result.index)
      return writeKeyValue(encoder, result.value)
    case 'failed':
      writeText(encoder, result.code)
      writeText(encoder, result.message)
      writeUint(encoder, result.leader === null ? 0 : 1)
      if (result.leader !== null) writeId(encoder, result.leader)
  }
}

function readForwardResult(decoder: decoding.Decoder): ForwardResult {
  const kind = resultKinds[readUint(decoder, resultKinds.length - 1, 'result kind')]!
  switch (kind) {
    case 'written':
      return { kind, index: readUint(decoder, Number.MAX_SAFE_INTEGER, 'index'), reply: readLogReply(decoder) }
    case 'read':
      return { kind, index: readUint(decoder, Number.MAX_SAFE_INTEGER, 'index'), value: readKeyValue(decoder) }
    case 'failed': {
      const code = readText(decoder, logCommandLimits.messageBytesMax, 'code')
      const message = readText(decoder, logCommandLimits.messageBytesMax, 'message')
      return { kind, code, message, leader: readUint(decoder, 1, 'leader flag') === 1 ? readId(decoder, 'leader') : null }
    }
  }
}

export function describeForwardMessage(message: ReplicaPeerMessage): string {
  switch (message.type) {
    case 'pbftApproval':
      return `pbftApproval ${message.approval.replica} e${message.fromEpoch} -> ${message.replicas.map((replica) => replica.id).join(',')}`
    case 'forward':
      return `forward #${message.requestId} ${message.command.kind}`
    case 'forwardRead':
      return `forwardRead #${message.requestId} ${message.key}`
    case 'forwardReply':
      return `forwardReply #${message.requestId} ${message.result.kind}`
  }
}
