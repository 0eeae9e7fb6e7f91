/**
 * View change, as in the paper (§4.4): the certificates a view-change message
 * carries are checked here, and the new primary's choice of what to
 * pre-prepare again in the new view (the set O) is computed here, by the new
 * primary to send it and by every backup to check it.
 *
 * For every sequence number between the latest stable checkpoint named in
 * the view changes (min-s) and the highest one prepared in any of them
 * (max-s), the new view orders the batch of the prepared certificate with the
 * highest view, or the null request (the empty batch) where none prepared.
 * A batch that committed anywhere prepared at a quorum, and every quorum of
 * view changes includes one correct member of it: so it is ordered again, at
 * the same number.
 */
import type { PbftGroup } from './group.ts'
import { emptyBatch, sameBytes, type Batch, type CheckpointBody, type PreparedCertificate, type Signed, type ViewChangeBody } from './messages.ts'

/**
 * A view change: its signed body and the batch of each prepared certificate,
 * aligned with `prepared`. Inside a new-view message view changes travel
 * without their batches (`batches` empty): the new view carries the batches
 * it orders.
 */
export interface ViewChangeMessage {
  readonly signed: Signed<ViewChangeBody>
  readonly batches: readonly Batch[]
}

/** One sequence number of the new view's order; `batch` is undefined when the view changes it came from carried no batches. */
export interface Ordered {
  readonly seq: number
  readonly digest: Uint8Array
  readonly batch: Batch | undefined
}

export interface NewViewOrder {
  /** The latest stable checkpoint among the view changes, and its proof. */
  readonly stableSeq: number
  readonly stableProof: readonly Signed<CheckpointBody>[]
  readonly order: readonly Ordered[]
}

/**
 * The state digest `proof` certifies for `seq` (a quorum of valid, matching checkpoints of the group's epoch), or null.
 * The group's start (0 in epoch 0; the checkpoint a reconfiguration took effect at) needs no proof in its epoch: every
 * replica of the epoch knows it, and the previous group's proof of it is an epoch link (groupConfig.ts).
 */
export function checkpointProofDigest(group: PbftGroup, seq: number, proof: readonly Signed<CheckpointBody>[]): Uint8Array | null {
  if (seq < group.startSeq) return null
  if (seq === group.startSeq) return proof.length === 0 ? new Uint8Array(0) : null
  const first = proof[0]
  if (first === undefined) return null
  const signers = new Set<string>()
  for (const checkpoint of proof) {
    if (checkpoint.body.seq !== seq || !sameBytes(checkpoint.body.stateDigest, first.body.stateDigest)) return null
    if (signers.has(checkpoint.body.replica) || !group.verify(checkpoint)) return null
    signers.add(checkpoint.body.replica)
  }
  return signers.size >= group.quorum ? first.body.stateDigest : null
}

/** Why a prepared certificate is invalid for a view change to `view` above stable checkpoint `stableSeq`, or null when it is valid. */
export function preparedCertificateError(group: PbftGroup, certificate: PreparedCertificate, batch: Batch | undefined, view: number, stableSeq: number, windowSeqs: number): string | null {
  const prePrepare = certificate.prePrepare.body
  if (prePrepare.view >= view) return `certificate of view ${prePrepare.view} in a view change to ${view}`
  if (prePrepare.seq <= stableSeq || prePrepare.seq > stableSeq + windowSeqs) return `certificate for n${prePrepare.seq} outside (${stableSeq}, ${stableSeq + windowSeqs}]`
  if (prePrepare.replica !== group.primaryOf(prePrepare.view)) return `pre-prepare of v${prePrepare.view} not signed by its primary`
  if (batch !== undefined && !group.batchMatches(batch, prePrepare.digest)) return `batch of n${prePrepare.seq} does not match its digest`
  if (!group.verify(certificate.prePrepare)) return `pre-prepare of n${prePrepare.seq} has a bad signature`
  const signers = new Set<string>()
  for (const prepare of certificate.prepares) {
    const body = prepare.body
    if (body.view !== prePrepare.view || body.seq !== prePrepare.seq || !sameBytes(body.digest, prePrepare.digest)) return `prepare of n${prePrepare.seq} does not match its pre-prepare`
    if (body.replica === prePrepare.replica || signers.has(body.replica)) return `prepare of n${prePrepare.seq} from the primary or twice from ${body.replica}`
    if (!group.verify(prepare)) return `prepare of n${prePrepare.seq} from ${body.replica} has a bad signature`
    signers.add(body.replica)
  }
  return signers.size >= group.quorum - 1 ? null : `n${prePrepare.seq} has ${signers.size} prepares, needs ${group.quorum - 1}`
}

/** Why a view change (whose own signature was checked) is invalid, or null. `withBatches`: it must carry the batch of every certificate. */
export function viewChangeError(group: PbftGroup, message: ViewChangeMessage, windowSeqs: number, withBatches: boolean): string | null {
  const body = message.signed.body
  if (checkpointProofDigest(group, body.stableSeq, body.checkpoints) === null) return `no valid proof of checkpoint n${body.stableSeq}`
  if (message.batches.length !== (withBatches ? body.prepared.length : 0)) return 'the batches do not match the prepared certificates'
  const seqs = new Set<number>()
  for (let index = 0; index < body.prepared.length; index++) {
    const certificate = body.prepared[index]!
    if (seqs.has(certificate.prePrepare.body.seq)) return `two certificates for n${certificate.prePrepare.body.seq}`
    seqs.add(certificate.prePrepare.body.seq)
    const error = preparedCertificateError(group, certificate, message.batches[index], body.view, body.stableSeq, windowSeqs)
    if (error !== null) return error
  }
  return null
}

/** The new view's order from a quorum of valid view changes (the paper's min-s, max-s and O). */
export function computeNewViewOrder(group: PbftGroup, viewChanges: readonly ViewChangeMessage[]): NewViewOrder {
  let stable = viewChanges[0]!.signed.body
  for (const message of viewChanges) if (message.signed.body.stableSeq > stable.stableSeq) stable = message.signed.body
  const stableSeq = stable.stableSeq
  // The certificate of the highest view for each sequence number above min-s.
  const best = new Map<number, { view: number; digest: Uint8Array; batch: Batch | undefined }>()
  for (const message of viewChanges) {
    message.signed.body.prepared.forEach((certificate, index) => {
      const { seq, view, digest } = certificate.prePrepare.body
      if (seq <= stableSeq) return
      const known = best.get(seq)
      if (known === undefined || view > known.view) best.set(seq, { view, digest, batch: message.batches[index] })
    })
  }
  const maxSeq = best.size === 0 ? stableSeq : Math.max(...best.keys())
  const nullDigest = group.digestOf(emptyBatch)
  const order: Ordered[] = []
  for (let seq = stableSeq + 1; seq <= maxSeq; seq++) {
    const chosen = best.get(seq)
    order.push(chosen === undefined ? { seq, digest: nullDigest, batch: emptyBatch } : { seq, digest: chosen.digest, batch: chosen.batch })
  }
  return { stableSeq, stableProof: stable.checkpoints, order }
}
