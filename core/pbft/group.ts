/**
 * The replica group as every member sees it: who is in it, whose key signs
 * what, who is primary of a view, how many make a quorum; and the checks of
 * signed messages and batches that every certificate rests on.
 */
import type { NodeId, Signer } from '../ports.ts'
import { faultsTolerated, quorumOf, type PbftReplica } from './config.ts'
import { batchBytes, sameBytes, type Batch, type Signed } from './messages.ts'

export class PbftGroup {
  readonly ids: readonly NodeId[]
  readonly n: number
  readonly f: number
  /** See `quorumOf`. */
  readonly quorum: number
  private readonly keys: ReadonlyMap<NodeId, Uint8Array>
  private readonly signer: Signer
  /** Counts of signature checks (they dominate the cost; benchmarks report them). */
  verifications = 0

  constructor(replicas: readonly PbftReplica[], signer: Signer) {
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

  /** True when the signature verifies under the key of the replica the body names. */
  verify(signed: Signed): boolean {
    const key = this.keys.get(signed.body.replica)
    if (key === undefined) return false
    this.verifications++
    return this.signer.verify(key, signed.bytes, signed.signature)
  }

  digestOf(batch: Batch): Uint8Array {
    return this.signer.digest(batchBytes(batch))
  }

  /** True when `batch` is the batch `digest` names. */
  batchMatches(batch: Batch, digest: Uint8Array): boolean {
    return sameBytes(this.digestOf(batch), digest)
  }
}
