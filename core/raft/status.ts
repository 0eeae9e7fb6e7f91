/**
 * What a Raft node shows of itself (etcd-io/raft's status.go): plain data,
 * copied out of the engine, safe to keep, compare and JSON-encode. Hosts,
 * viewers, tests and checkers read Raft state through this, never through
 * the engine's fields.
 */
import type { NodeId } from '../ports.ts'
import type { ProgressState } from './progress.ts'

export type RaftRole = 'follower' | 'preCandidate' | 'candidate' | 'leader'

export interface RaftMetrics {
  elections: number
  becameLeader: number
  proposals: number
  committed: number
  applied: number
  snapshotsTaken: number
  snapshotsInstalled: number
  messagesSent: number
  readsServed: number
}

/** What a leader knows of one follower's log (etcd's Progress). */
export interface RaftFollowerStatus {
  readonly id: NodeId
  /** Highest index known to match the leader's log. */
  readonly match: number
  /** Next index the leader sends. */
  readonly next: number
  readonly state: ProgressState
  /** Appends in flight, unacknowledged. */
  readonly inflight: number
  /** Entries the follower lacks: the leader's last index minus match. */
  readonly lag: number
  /** Heard from since the last check-quorum round. */
  readonly recentActive: boolean
}

export interface RaftStatus {
  readonly id: NodeId
  readonly role: RaftRole
  readonly term: number
  /** Whom this node voted for in `term` (null: nobody). */
  readonly vote: NodeId | null
  /** The leader this node knows of in `term` (itself when it leads; null: none known). */
  readonly leader: NodeId | null
  readonly commit: number
  readonly applied: number
  /** The first index held as an entry (the snapshot covers everything before it). */
  readonly firstIndex: number
  readonly lastIndex: number
  readonly lastTerm: number
  /** The latest snapshot: its last index and term, and the membership as of it. */
  readonly snapshot: { readonly index: number; readonly term: number; readonly voters: readonly NodeId[]; readonly learners: readonly NodeId[] }
  /** The membership in effect: the latest in the log, committed or not. */
  readonly voters: readonly NodeId[]
  readonly learners: readonly NodeId[]
  /** The node a leadership transfer is moving to (null: none under way). */
  readonly transferee: NodeId | null
  /** Every other member, sorted by id, while this node leads; empty otherwise. */
  readonly followers: readonly RaftFollowerStatus[]
  readonly metrics: Readonly<RaftMetrics>
}
