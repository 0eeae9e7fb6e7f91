/**
 * The replica group as every member sees it: who is in it, whose key signs
 * what, who is primary of a view, how many make a quorum; and the checks of
 * signed messages and batches that every certificate rests on. One group is
 * one epoch (groupConfig.ts): a reconfiguration makes a new PbftGroup.
 */
import type { NodeId, Signer } from '../ports.ts'
import { faultsTolerated, quorumOf, type PbftReplica } from './config.ts'
import type { PbftGroupConfig } from './groupConfig.ts'
import { batchBytes, sameBytes, type Batch, type Signed } from './messages.ts'

export class PbftGroup {
  readonly epoch: number
  /** The group orders the sequence numbers after this one; the state at it needs no proof in this epoch. */
  readonly startSeq: number
  readonly config: PbftGroupConfig
  readonly ids: readonly NodeId[]
  readonly n: number
  readonly f: number
  /** See `quorumOf`. */
  readonly quorum: number
  private readonly keys: ReadonlyMap<NodeId, Uint8Array>
  private readonly signer: Signer
  /** Counts of signature checks (they dominate the cost; benchmarks report them). */
  verifications = 0

  constructor(replicas: readonly PbftReplica[], signer: Signer, epoch = 0, startSeq = 0) {
    this.epoch = epoch
    this.startSeq = startSeq
    this.config = { epoch, startSeq, replicas }
    this.ids = replicas.map((replica) => replica.id)
    this.n = replicas.length
    this.f = faultsTolerated(this.n)
    this.quorum = quorumOf(this.n)
    this.keys = new Map(replicas.map((replica) => [replica.id, replica.publicKey]))
    this.signer = signer
  }

  has(id: NodeId): boolean {
    return this.keys.has(id)
  }

  primaryOf(view: number): NodeId {
    return this.ids[view % this.n]!
  }

  static of(config: PbftGroupConfig, signer: Signer): PbftGroup {
    return new PbftGroup(config.replicas, signer, config.epoch, config.startSeq)
  }

  /** True when the signature verifies under the key of the replica the body names, and the body is of this epoch. */
  verify(signed: Signed): boolean {
    return signed.body.epoch === this.epoch && this.verifyBytes(signed.body.replica, signed.bytes, signed.signature)
  }

  /** True when `signature` over `bytes` verifies under the key of replica `id` of this group. */
  verifyBytes(id: NodeId, bytes: Uint8Array, signature: Uint8Array): boolean {
    const key = this.keys.get(id)
    if (key === undefined) return false
    this.verifications++
    return this.signer.verify(key, bytes, signature)
  }

  digestOf(batch: Batch): Uint8Array {
    return this.signer.digest(batchBytes(batch))
  }

  /** True when `batch` is the batch `digest` names. */
  batchMatches(batch: Batch, digest: Uint8Array): boolean {
    return sameBytes(this.digestOf(batch), digest)
  }
}
