/**
 * What a PBFT replica shows of itself (etcd-io/raft's status.go): plain data,
 * copied out of the engine by `PbftEngine.status()`, safe to keep, compare and
 * JSON-encode. Viewers, checkers and tests read the engine through this and
 * through its events, never through its fields.
 */
import type { NodeId } from '../ports.ts'
import type { Evidence, EvidenceKind } from './evidence.ts'

export interface PbftMetrics {
  /** Sequence numbers executed (null requests included). */
  decisions: number
  requestsExecuted: number
  prePreparesSent: number
  preparesSent: number
  commitsSent: number
  checkpointsSent: number
  viewChangesSent: number
  newViewsSent: number
  repliesSent: number
  requestsSent: number
  statusSent: number
  relaysSent: number
  statesSent: number
  viewChanges: number
  stateTransfers: number
  evidenceProven: number
  evidenceSuspected: number
  refused: number
  /** Messages of another group epoch than this replica's, refused (a status of an older one is answered with state). */
  epochRefused: number
  /** Reconfigurations this replica executed and accepted (each takes effect at its checkpoint). */
  reconfigurationsOrdered: number
  /** Group epochs this replica entered. */
  groupChanges: number
  signatures: number
  verifications: number
}

/** What this replica holds against one replica of the group (itself included). */
export interface PbftReplicaStatus {
  readonly id: NodeId
  /** 1 = no evidence, towards 0 = faulty (evidence.ts). */
  readonly reputation: number
  /** Proven evidence recorded against it (never fades). */
  readonly proven: number
  /** Suspected evidence, each record's weight halving every suspicionHalfLifeTicks. */
  readonly suspected: number
  /** Evidence recorded against it since this engine started, by kind (kinds never seen are left out). */
  readonly evidenceByKind: Readonly<Partial<Record<EvidenceKind, number>>>
}

/** The stable checkpoint: the low watermark, and the state digest that 2f+1 replicas signed for it. */
export interface PbftStableCheckpoint {
  readonly seq: number
  /** The state digest in hex; null at sequence number 0 (the initial state needs no proof). */
  readonly stateDigest: string | null
  /** The replicas whose signed checkpoints prove it. */
  readonly signers: readonly NodeId[]
}

/** One sequence number this replica holds protocol state for (between the watermarks). */
export interface PbftSlotStatus {
  readonly seq: number
  /** The view its messages belong to. */
  readonly view: number
  /** It holds the pre-prepare (and batch) of that view. */
  readonly prePrepared: boolean
  /** Prepares and commits held from distinct replicas in that view (any digest). */
  readonly prepares: number
  readonly commits: number
  /** Prepared in that view: the pre-prepare and 2f matching prepares. */
  readonly prepared: boolean
  /** The view of the highest prepared certificate it holds (survives view changes), or null. */
  readonly certificateView: number | null
  /** Committed (in some view): final, executed in sequence order. */
  readonly decided: boolean
}

/** A checkpoint above the stable one that has not gathered 2f+1 matching votes yet (or this replica's own state at it). */
export interface PbftPendingCheckpoint {
  readonly seq: number
  /** Replicas whose checkpoint for `seq` arrived (whatever their digest). */
  readonly votes: number
  /** Of those, the ones matching this replica's own state at `seq` (0 until it took that checkpoint). */
  readonly matchingOwn: number
  /** This replica executed up to `seq` and took its own checkpoint there. */
  readonly taken: boolean
}

/** A group that an executed reconfiguration makes next, waiting for its checkpoint. */
export interface PbftNextGroup {
  readonly epoch: number
  readonly startSeq: number
  readonly members: readonly NodeId[]
}

export interface PbftStatus {
  readonly id: NodeId
  /** The group epoch this replica is in (0 until the first reconfiguration), and the sequence number its group orders after. */
  readonly epoch: number
  readonly epochStartSeq: number
  /** The replicas of that group, in its order (the primary of view v is members[v mod n]). */
  readonly members: readonly NodeId[]
  /** This replica votes in its epoch (false: it left the group, or joins and waits for the state). */
  readonly member: boolean
  /** The group an executed reconfiguration makes next, or null. */
  readonly nextGroup: PbftNextGroup | null
  readonly view: number
  readonly primary: NodeId
  /** 'normal' in an installed view, 'viewChange' while waiting for the new view. */
  readonly phase: 'normal' | 'viewChange'
  /** The highest sequence number this replica holds a pre-prepare or a decision for, or executed (0 before any). */
  readonly sequence: number
  /** The last sequence number executed. */
  readonly executed: number
  /** The stable checkpoint's sequence number: nothing at or below it is accepted. */
  readonly lowWatermark: number
  /** lowWatermark + windowSeqs: nothing above it is accepted. */
  readonly highWatermark: number
  /** The slots held, by sequence number (at most windowSeqs). */
  readonly slots: readonly PbftSlotStatus[]
  readonly stableCheckpoint: PbftStableCheckpoint
  /** Checkpoints above the stable one, by sequence number. */
  readonly pendingCheckpoints: readonly PbftPendingCheckpoint[]
  /** Every replica of the group, in the group's order. */
  readonly replicas: readonly PbftReplicaStatus[]
  /** The most recent evidence, newest last (at most pbftLimits.evidenceKept). */
  readonly recentEvidence: readonly Evidence[]
  /** Client requests that entered here and wait for f+1 matching replies. */
  readonly pendingRequests: number
  /** At the primary: request bundles waiting to be ordered. */
  readonly queuedBundles: number
  readonly metrics: Readonly<PbftMetrics>
}

/** A digest as lower-case hex (status shows digests as text). */
export function digestHex(digest: Uint8Array): string {
  let text = ''
  for (let index = 0; index < digest.length; index++) text += digest[index]!.toString(16).padStart(2, '0')
  return text
}
