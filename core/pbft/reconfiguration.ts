/**
 * Reconfiguration of the PBFT group: what changes it, who must approve, and
 * how the request travels (as BFT-SMaRt does it: a reconfiguration is a
 * request the group orders like any other; it takes effect at the first
 * checkpoint at or after the sequence number it executes at, engine.ts).
 *
 * Authorization: a reconfiguration carries the signatures ("approvals") of
 * at least a quorum (2f+1) of the group it replaces, over (the group's epoch,
 * the new members with their keys). A quorum holds at least f+1 correct
 * replicas, so the f faulty ones can never change the group alone, and no
 * key outside the group is trusted (an administrator key would be a single
 * secret outside the f-of-3f+1 fault model: whoever steals it owns the group).
 * Since 2f+1 correct replicas exist, the faulty ones cannot block a change the
 * correct ones approve either. An approval names the epoch it approves from,
 * so it can never be used again once the group moved on. The engine checks
 * the approvals when the request enters (at the gateway and at the primary)
 * and again when it executes (where the verdict is the same at every correct
 * replica, since it depends only on the ordered request and the executed
 * state); a refused reconfiguration executes as a no-op with a refusal result.
 *
 * On the wire it is a client request of the reserved client
 * `reconfigureClient`, whose operation is:
 *
 *   reconfiguration := fromEpoch replicas approvals
 *   approval        := replica signature
 *   approved bytes  := engineId approvalTag fromEpoch replicas   (never a message body: no message type is approvalTag)
 *   result          := accepted epoch startSeq detail            (what f+1 replicas answer the proposer)
 */
import type * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { decodeWith, encodeWith } from '../codec/envelope.ts'
import { engineIds } from '../codec/engineIds.ts'
import { readBytes, readId, readText, readUint, writeBytes, writeId, writeText, writeUint } from '../codec/fields.ts'
import type { Result } from '../lib/result.ts'
import type { DecodeError } from '../codec/decodeError.ts'
import type { NodeId, Signer } from '../ports.ts'
import { pbftLimits, replicasError, viewChangeBytesMax, type PbftConfig, type PbftReplica } from './config.ts'
import { readReplicas, writeReplicas } from './groupConfig.ts'
import { limits } from '../lib/limits.ts'

/** The client id a reconfiguration request carries at its gateway; ordinary clients may not use it. */
export const reconfigureClient = '#reconfigure'

/** Precedes the approved bytes; no message type has this number, so an approval never verifies as a message. */
const approvalTag = 200
/** Signatures are at most this long (64 bytes on real hosts). */
const signatureBytesMax = 128
/** Text of a reconfiguration's result. */
const detailBytesMax = 512

export interface PbftApproval {
  readonly replica: NodeId
  readonly signature: Uint8Array
}

export interface PbftReconfiguration {
  /** The epoch of the group it replaces: it executes only while that group orders. */
  readonly fromEpoch: number
  /** The new group, in its order (the primary of view v is replicas[v mod n]). */
  readonly replicas: readonly PbftReplica[]
  /** Signatures over approvedBytes(fromEpoch, replicas) by distinct replicas of the group of `fromEpoch`: at least its quorum. */
  readonly approvals: readonly PbftApproval[]
}

/** What f+1 replicas answer the replica that proposed a reconfiguration. */
export interface PbftReconfigurationResult {
  readonly accepted: boolean
  /** The new group's epoch and the sequence number it orders after (0 when refused). */
  readonly epoch: number
  readonly startSeq: number
  readonly detail: string
}

/** The bytes a replica signs to approve replacing the group of `fromEpoch` by `replicas`. */
export function approvedBytes(fromEpoch: number, replicas: readonly PbftReplica[]): Uint8Array {
  return encodeWith({ fromEpoch, replicas }, (encoder, held) => {
    writeUint(encoder, engineIds.pbft)
    writeUint(encoder, approvalTag)
    writeUint(encoder, held.fromEpoch)
    writeReplicas(encoder, held.replicas)
  })
}

/** This replica's approval of replacing the group of `fromEpoch` by `replicas` (the host decides whether its operator wants it). */
export function approveReconfiguration(signer: Signer, replica: NodeId, fromEpoch: number, replicas: readonly PbftReplica[]): PbftApproval {
  return { replica, signature: signer.sign(approvedBytes(fromEpoch, replicas)) }
}

/** The group a reconfiguration is checked against: its epoch, quorum and members' keys. */
export interface ApprovingGroup {
  readonly epoch: number
  readonly quorum: number
  has(id: NodeId): boolean
  verifyBytes(id: NodeId, bytes: Uint8Array, signature: Uint8Array): boolean
}

/**
 * Why `reconfiguration` may not replace `group` under `config`, or null: it
 * names another epoch, the new group is not a valid group, or fewer than a
 * quorum of distinct members of `group` approved it with a valid signature.
 */
export function reconfigurationError(group: ApprovingGroup, config: PbftConfig, reconfiguration: PbftReconfiguration): string | null {
  if (reconfiguration.fromEpoch !== group.epoch) return `reconfiguration from epoch ${reconfiguration.fromEpoch}, the group is in epoch ${group.epoch}`
  const invalid = replicasError(reconfiguration.replicas)
  if (invalid !== null) return invalid
  const viewChangeBytes = viewChangeBytesMax(config, reconfiguration.replicas.length)
  if (viewChangeBytes > limits.messageBytesMax) return `a group of ${reconfiguration.replicas.length} replicas needs new views of ${viewChangeBytes} bytes under this config, above messageBytesMax=${limits.messageBytesMax}`
  const bytes = approvedBytes(reconfiguration.fromEpoch, reconfiguration.replicas)
  const approvers = new Set<NodeId>()
  for (const approval of reconfiguration.approvals) {
    if (approvers.has(approval.replica)) return `two approvals from ${approval.replica}`
    if (!group.has(approval.replica)) return `approval from ${approval.replica}, not a replica of epoch ${group.epoch}`
    if (!group.verifyBytes(approval.replica, bytes, approval.signature)) return `approval from ${approval.replica} does not verify`
    approvers.add(approval.replica)
  }
  if (approvers.size < group.quorum) return `${approvers.size} approvals, needs ${group.quorum} (2f+1) of epoch ${group.epoch}`
  return null
}

export function writeReconfiguration(encoder: encoding.Encoder, reconfiguration: PbftReconfiguration): void {
  writeUint(encoder, reconfiguration.fromEpoch)
  writeReplicas(encoder, reconfiguration.replicas)
  writeUint(encoder, reconfiguration.approvals.length)
  for (const approval of reconfiguration.approvals) {
    writeId(encoder, approval.replica)
    writeBytes(encoder, approval.signature)
  }
}

export function readReconfiguration(decoder: decoding.Decoder): PbftReconfiguration {
  const fromEpoch = readUint(decoder, Number.MAX_SAFE_INTEGER, 'from epoch')
  const replicas = readReplicas(decoder)
  const count = readUint(decoder, pbftLimits.approvalsMax, 'approvals')
  const approvals = Array.from({ length: count }, () => ({ replica: readId(decoder, 'approver'), signature: readBytes(decoder, signatureBytesMax, 'approval signature') }))
  return { fromEpoch, replicas, approvals }
}

/** The operation of a reconfiguration request. */
export function encodeReconfiguration(reconfiguration: PbftReconfiguration): Uint8Array {
  return encodeWith(reconfiguration, writeReconfiguration)
}

export function decodeReconfiguration(operation: Uint8Array): Result<PbftReconfiguration, DecodeError> {
  return decodeWith(operation, readReconfiguration, 'pbft reconfiguration')
}

export function encodeReconfigurationResult(result: PbftReconfigurationResult): Uint8Array {
  const encoder = encoding.createEncoder()
  writeUint(encoder, result.accepted ? 1 : 0)
  writeUint(encoder, result.epoch)
  writeUint(encoder, result.startSeq)
  writeText(encoder, result.detail.length > detailBytesMax / 4 ? result.detail.slice(0, detailBytesMax / 4) : result.detail)
  return encoding.toUint8Array(encoder)
}

export function decodeReconfigurationResult(bytes: Uint8Array): Result<PbftReconfigurationResult, DecodeError> {
  return decodeWith(
    bytes,
    (decoder) => {
      const accepted = readUint(decoder, 1, 'accepted') === 1
      const epoch = readUint(decoder, Number.MAX_SAFE_INTEGER, 'epoch')
      const startSeq = readUint(decoder, Number.MAX_SAFE_INTEGER, 'start seq')
      return { accepted, epoch, startSeq, detail: readText(decoder, detailBytesMax, 'detail') }
    },
    'pbft reconfiguration result',
  )
}
