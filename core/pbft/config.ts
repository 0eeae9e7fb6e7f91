/**
 * PBFT settings, in ticks (the host decides how long a tick is; the simulator
 * and the node host use 10 ms), each with its reason, and the named limits of
 * the protocol's sizes and queues.
 */
import { limits } from '../lib/limits.ts'
import type { NodeId } from '../ports.ts'

/** One replica of the group: its id and the Ed25519 public key its messages are signed with. */
export interface PbftReplica {
  readonly id: NodeId
  readonly publicKey: Uint8Array
}

export interface PbftConfig {
  /** A checkpoint every this many sequence numbers; 2f+1 matching ones make it stable and let the log be collected. */
  readonly checkpointInterval: number
  /** Sequence numbers accepted above the stable checkpoint (the high watermark is low + this): bounds the log and every certificate. */
  readonly windowSeqs: number
  /** Batches pre-prepared by the primary and not yet executed by it: pipelining depth. */
  readonly inflightBatchesMax: number
  /** Requests in one batch (1 turns batching off: one request per decision). */
  readonly batchRequestsMax: number
  /** Requests one gateway signs into one bundle it forwards to the primary. */
  readonly bundleRequestsMax: number
  /** A request known to a replica and not executed within this many ticks makes it ask for a new view. */
  readonly requestTimeoutTicks: number
  /** A view change that has not installed its new view within this many ticks (doubled at each further view) moves to the next view. */
  readonly viewChangeTicks: number
  /** Every replica tells the others how far it is this often, so that a replica that lost messages is sent what it lacks. */
  readonly statusTicks: number
  /** A gateway that sees no f+1 matching replies within this many ticks sends its bundle to every replica. */
  readonly retransmitTicks: number
  /** Suspected (not proven) misbehaviour halves its weight in the reputation score every this many ticks. */
  readonly suspicionHalfLifeTicks: number
}

export const defaultPbftConfig: PbftConfig = {
  checkpointInterval: 16,
  windowSeqs: 32,
  inflightBatchesMax: 4,
  batchRequestsMax: 256,
  bundleRequestsMax: 256,
  requestTimeoutTicks: 50,
  viewChangeTicks: 50,
  statusTicks: 10,
  retransmitTicks: 20,
  suspicionHalfLifeTicks: 500,
}

export const pbftLimits = {
  /** Replicas of one group (n = 3f+1). */
  replicasMax: 31,
  /** Bytes of one request's operation: a command with a value of limits.valueBytesMax and its head. */
  operationBytesMax: limits.valueBytesMax + 4 * 1024,
  /** Bytes of one client id (scoped by its gateway). */
  clientIdBytesMax: 64,
  /**
   * Bytes the primary packs into one batch (and a gateway into half of one);
   * a batch always takes one bundle, so one batch is at most this plus one
   * bundle of one request (batchWireBytesMax).
   */
  batchBytesMax: 16 * 1024,
  /** Bundles in one batch. */
  batchBundlesMax: 256,
  /** Requests in one bundle or batch. */
  requestsMax: 1024,
  /** Bytes of one reply's result: a read answers a value of limits.valueBytesMax. */
  resultBytesMax: limits.valueBytesMax + 4 * 1024,
  /** Requests a gateway holds that are not yet answered by f+1 replicas: beyond it proposals are refused (back-pressure). */
  pendingRequestsMax: 8192,
  /** Bundles waiting at the primary (or watched by a backup) to be ordered. */
  queuedBundlesMax: 4096,
  /** Clients whose last reply every replica keeps (for at-most-once execution); the table is part of the checkpointed state. */
  clientsMax: 65_536,
  /** Bytes of that table in the state: at least a few results of resultBytesMax, so that a large result is not evicted at once. */
  clientTableBytesMax: 4 * 1024 * 1024,
  /**
   * Bytes of one checkpoint's state: the state machine's (limits.stateBytesMax,
   * with its bookkeeping) and the client table. It travels in one
   * state-transfer message, chunked on the wire (core/codec/chunks.ts).
   */
  stateBytesMax: limits.stateBytesMax + 6 * 1024 * 1024,
  /** Largest sequence number window a config may ask for (and a decoder accepts); see viewChangeBytesMax for the real bound. */
  windowSeqsMax: 64,
  /** Evidence records kept for the host (older ones are dropped; the counts keep growing). */
  evidenceKept: 256,
  /** Bytes of one replica's public key (32 for Ed25519; the simulator's are shorter). */
  publicKeyBytesMax: 64,
  /**
   * Epoch links a replica keeps (the last reconfigurations, groupConfig.ts): a replica that fell behind by more
   * epochs than this can no longer follow the chain from the group it knows, and needs a newer group to start from.
   */
  epochLinksKept: 8,
  /** Approvals one reconfiguration carries (one per replica of the group it replaces). */
  approvalsMax: 31,
} as const

/** A signed pre-prepare, prepare or checkpoint on the wire, at most: body with a 64-byte id and 32-byte digest, and a 64-byte signature. */
const signedVoteBytesMax = 200

/** The largest batch on the wire: a full batch and one more bundle of one largest request, with its signature and framing. */
export const batchWireBytesMax = pbftLimits.batchBytesMax + pbftLimits.operationBytesMax + 1024

/**
 * The largest view-change or new-view message a group of `replicaCount` with
 * this config can send: a view change carries a prepared certificate (n
 * signed messages) and a batch per sequence number of the window; a new view
 * carries a quorum of view changes (without batches) and the window's batches.
 */
export function viewChangeBytesMax(config: PbftConfig, replicaCount: number): number {
  const quorum = quorumOf(replicaCount)
  const certificates = config.windowSeqs * replicaCount * signedVoteBytesMax + quorum * signedVoteBytesMax
  const batches = config.windowSeqs * (batchWireBytesMax + signedVoteBytesMax)
  return Math.max(certificates + batches, quorum * certificates + batches)
}

/** Replicas that make a quorum: any two intersect in at least f+1, so in at least one correct replica (2f+1 at n = 3f+1). */
export function quorumOf(replicaCount: number): number {
  return Math.ceil((replicaCount + faultsTolerated(replicaCount) + 1) / 2)
}

/** The largest f with n ≥ 3f+1. */
export function faultsTolerated(replicaCount: number): number {
  return Math.floor((replicaCount - 1) / 3)
}

export function validatePbftConfig(config: PbftConfig, replicas: readonly PbftReplica[]): void {
  const positive = ['checkpointInterval', 'windowSeqs', 'inflightBatchesMax', 'batchRequestsMax', 'bundleRequestsMax', 'requestTimeoutTicks', 'viewChangeTicks', 'statusTicks', 'retransmitTicks', 'suspicionHalfLifeTicks'] as const
  for (const name of positive) {
    if (!Number.isSafeInteger(config[name]) || config[name] < 1) throw new RangeError(`pbft config ${name} must be a positive integer, got ${config[name]}`)
  }
  if (config.windowSeqs > pbftLimits.windowSeqsMax) throw new RangeError(`pbft config windowSeqs ${config.windowSeqs} is above its limit ${pbftLimits.windowSeqsMax}`)
  if (config.windowSeqs < 2 * config.checkpointInterval)
    throw new RangeError(`pbft config windowSeqs ${config.windowSeqs} must be at least twice checkpointInterval ${config.checkpointInterval}, or the primary stalls before a checkpoint can become stable`)
  if (config.batchRequestsMax > pbftLimits.requestsMax || config.bundleRequestsMax > pbftLimits.requestsMax) throw new RangeError(`pbft config batchRequestsMax and bundleRequestsMax must be at most ${pbftLimits.requestsMax}`)
  if (replicas.length < 1 || replicas.length > pbftLimits.replicasMax) throw new RangeError(`a pbft group has 1 to ${pbftLimits.replicasMax} replicas, got ${replicas.length}`)
  const viewChangeBytes = viewChangeBytesMax(config, replicas.length)
  if (viewChangeBytes > limits.messageBytesMax)
    throw new RangeError(`pbft config windowSeqs ${config.windowSeqs} is too large for ${replicas.length} replicas: a new view could take ${viewChangeBytes} bytes, above messageBytesMax=${limits.messageBytesMax}; lower windowSeqs`)
  const error = replicasError(replicas)
  if (error !== null) throw new RangeError(error)
}

/** Why a list of replicas cannot make a group (count, distinct ids, key sizes), or null. */
export function replicasError(replicas: readonly PbftReplica[]): string | null {
  if (replicas.length < 1 || replicas.length > pbftLimits.replicasMax) return `a pbft group has 1 to ${pbftLimits.replicasMax} replicas, got ${replicas.length}`
  if (new Set(replicas.map((replica) => replica.id)).size !== replicas.length) return 'pbft replica ids must be distinct'
  for (const replica of replicas) {
    if (replica.publicKey.length < 1 || replica.publicKey.length > pbftLimits.publicKeyBytesMax) return `public key of ${replica.id} has ${replica.publicKey.length} bytes, needs 1 to ${pbftLimits.publicKeyBytesMax}`
  }
  return null
}
