/**
 * The Consensus screen's data: Raft per replica (role, term, log, commit and
 * applied index, calls in flight, lag: the leader's view of each follower,
 * or a follower's applied index behind the commit it knows) and PBFT per
 * replica of its group (view, primary, phase, sequence and executed, its
 * batches by phase, the stable checkpoint and those gathering votes, pending
 * requests, the lowest reputation it holds, evidence).
 */
import type { ClusterEvent } from '../clusterEvent.ts'
import { pbftOf, raftOf, replicaOf } from '../nodeSnapshot.ts'
import type { NodeEntry } from '../sourceState.ts'

export interface RaftRow {
  readonly id: string
  readonly up: boolean
  readonly role: string
  readonly term: number
  readonly leader: string | null
  readonly lastIndex: number
  readonly commit: number
  readonly applied: number
  /** Client calls waiting for a reply in the node's kernel (live nodes), or appends in flight to followers (a leader). */
  readonly inFlight: number | null
  /** A leader: its followers' largest lag in entries; a follower: entries committed but not yet applied. */
  readonly lag: number
  readonly followers: readonly { readonly id: string; readonly match: number; readonly lag: number; readonly state: string }[]
}

export interface PbftRow {
  readonly id: string
  readonly up: boolean
  readonly view: number
  readonly primary: string
  readonly phase: string
  /** The highest sequence number held, and the last executed. */
  readonly sequence: number
  readonly executed: number
  /** The batches between the watermarks by how far each got: decided, prepared, pre-prepared, still waiting. */
  readonly batches: { readonly decided: number; readonly prepared: number; readonly prePrepared: number; readonly waiting: number }
  /** The stable checkpoint (the low watermark) and how many replicas signed it; checkpoints above it still gathering votes. */
  readonly checkpoint: number
  readonly checkpointSigners: number
  readonly checkpointsPending: number
  readonly pendingRequests: number
  /** The lowest reputation this replica holds of another, and whose. */
  readonly reputationMin: { readonly id: string; readonly value: number } | null
  /** Evidence it keeps (its most recent) and evidence reported in the events seen. */
  readonly evidence: number
}

export function raftRows(entries: readonly NodeEntry[]): RaftRow[] {
  return entries.flatMap((entry) => {
    const raft = raftOf(entry.snapshot)
    if (raft === null) return []
    const followers = raft.followers.map((follower) => ({ id: follower.id, match: follower.match, lag: follower.lag, state: follower.state }))
    const leading = raft.role === 'leader'
    const appendsInFlight = raft.followers.reduce((sum, follower) => sum + follower.inflight, 0)
    return [
      {
        id: entry.id,
        up: entry.up,
        role: raft.role,
        term: raft.term,
        leader: raft.leader,
        lastIndex: raft.lastIndex,
        commit: raft.commit,
        applied: raft.applied,
        inFlight: replicaOf(entry.snapshot)?.kernel?.inFlight ?? (leading ? appendsInFlight : null),
        lag: leading ? Math.max(0, ...followers.map((follower) => follower.lag)) : raft.commit - raft.applied,
        followers,
      },
    ]
  })
}

export function pbftRows(entries: readonly NodeEntry[], events: readonly ClusterEvent[]): PbftRow[] {
  const reported = new Map<string, number>()
  for (const event of events) if (event.source === 'pbft' && event.kind === 'evidence') reported.set(event.node, (reported.get(event.node) ?? 0) + 1)
  return entries.flatMap((entry) => {
    const pbft = pbftOf(entry.snapshot)
    if (pbft === null) return []
    let reputationMin: PbftRow['reputationMin'] = null
    for (const replica of pbft.replicas) if (replica.id !== pbft.id && (reputationMin === null || replica.reputation < reputationMin.value)) reputationMin = { id: replica.id, value: replica.reputation }
    const batches = { decided: 0, prepared: 0, prePrepared: 0, waiting: 0 }
    for (const slot of pbft.slots) {
      if (slot.decided) batches.decided++
      else if (slot.prepared) batches.prepared++
      else if (slot.prePrepared) batches.prePrepared++
      else batches.waiting++
    }
    return [
      {
        id: entry.id,
        up: entry.up,
        view: pbft.view,
        primary: pbft.primary,
        phase: pbft.phase,
        sequence: pbft.sequence,
        executed: pbft.executed,
        batches,
        checkpoint: pbft.stableCheckpoint.seq,
        checkpointSigners: pbft.stableCheckpoint.signers.length,
        checkpointsPending: pbft.pendingCheckpoints.length,
        pendingRequests: pbft.pendingRequests,
        reputationMin,
        evidence: Math.max(pbft.recentEvidence.length, reported.get(entry.id) ?? 0),
      },
    ]
  })
}
