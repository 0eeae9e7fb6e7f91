/**
 * The Consensus screen's data: Raft per replica (role, term, log, commit and
 * applied index, calls in flight, lag: the leader's view of each follower,
 * or a follower's applied index behind the commit it knows) and PBFT per
 * replica of its group (view, primary, phase, executed sequence, checkpoint
 * watermark, pending requests, reputations, evidence seen in the events).
 */
import type { ClusterEvent } from '../clusterEvent.ts'
import { replicaOf } from '../nodeSnapshot.ts'
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
  readonly executed: number
  readonly lowWatermark: number
  readonly pendingRequests: number
  /** The lowest reputation this replica holds of any peer, and whose. */
  readonly reputationMin: { readonly id: string; readonly value: number } | null
  readonly evidence: number
}

export function raftRows(entries: readonly NodeEntry[]): RaftRow[] {
  return entries.flatMap((entry) => {
    const replica = replicaOf(entry.snapshot)
    const raft = replica?.raft
    if (raft == null) return []
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
        inFlight: replica!.kernel?.inFlight ?? (leading ? appendsInFlight : null),
        lag: leading ? Math.max(0, ...followers.map((follower) => follower.lag)) : raft.commit - raft.applied,
        followers,
      },
    ]
  })
}

export function pbftRows(entries: readonly NodeEntry[], events: readonly ClusterEvent[]): PbftRow[] {
  const evidence = new Map<string, number>()
  for (const event of events) if (event.source === 'pbft' && event.kind === 'evidence') evidence.set(event.node, (evidence.get(event.node) ?? 0) + 1)
  return entries.flatMap((entry) => {
    const pbft = replicaOf(entry.snapshot)?.pbft
    if (pbft == null) return []
    let reputationMin: PbftRow['reputationMin'] = null
    for (const [id, value] of Object.entries(pbft.reputations)) if (reputationMin === null || value < reputationMin.value) reputationMin = { id, value }
    return [
      {
        id: entry.id,
        up: entry.up,
        view: pbft.view,
        primary: pbft.primary,
        phase: pbft.phase,
        executed: pbft.executed,
        lowWatermark: pbft.lowWatermark,
        pendingRequests: pbft.pendingRequests,
        reputationMin,
        evidence: evidence.get(entry.id) ?? 0,
      },
    ]
  })
}
