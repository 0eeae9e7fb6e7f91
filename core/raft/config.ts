import { limits } from '../lib/limits.ts'

/**
 * Raft settings, in ticks (the host decides how long a tick is; the
 * simulator and the node host use 10 ms), each with its reason.
 */
export interface RaftConfig {
  /** A follower that hears no leader for a random time in [min, 2·min) ticks starts an election; random, so that two rarely collide. */
  readonly electionTicksMin: number
  /** A leader sends heartbeats this often; well below the election timeout, so that one lost heartbeat does not cost the leadership. */
  readonly heartbeatTicks: number
  /** Ask for votes without raising terms first: a node cut off and back cannot disrupt a working leader. */
  readonly preVote: boolean
  /** A leader that has not heard from a quorum for an election timeout steps down, so that clients stop waiting on it. */
  readonly checkQuorum: boolean
  /**
   * Serve reads from the leader's lease (no round of heartbeats) while a quorum has answered within
   * the election timeout. Safe only with checkQuorum and clocks whose ticks drift little: opt-in.
   */
  readonly leaseReads: boolean
  /** Append messages in flight to one follower before waiting for acknowledgements (pipelining). */
  readonly inflightMessagesMax: number
  /** Entries in one append message (batching). */
  readonly entriesPerMessageMax: number
  /** Bytes of entry data in one append message: keeps a message well under the frame limit. */
  readonly appendBytesMax: number
  /** Applied entries kept in the log beyond the latest snapshot; more and a snapshot is taken and the log compacted. */
  readonly snapshotEntries: number
  /** A leadership transfer that has not completed in this many ticks is abandoned. */
  readonly transferTicksMax: number
  /** A learner is promoted only when it is at most this many entries behind the leader. */
  readonly promoteLagEntriesMax: number
  /**
   * A new leader's heartbeats and check-quorum fall on tick counts that are multiples of
   * heartbeatTicks (its first check-quorum comes less than one heartbeat early), so they share
   * the ticks of other aligned timers (ReplicaConfig.alignedPeriods). Needs electionTicksMin a
   * multiple of heartbeatTicks to stay aligned. Default false.
   */
  readonly alignHeartbeats?: boolean
}

export const defaultRaftConfig: RaftConfig = {
  electionTicksMin: 10,
  heartbeatTicks: 1,
  preVote: true,
  checkQuorum: true,
  leaseReads: false,
  inflightMessagesMax: 64,
  entriesPerMessageMax: 256,
  appendBytesMax: 256 * 1024,
  snapshotEntries: 1024,
  transferTicksMax: 20,
  promoteLagEntriesMax: 16,
}

export const raftLimits = {
  /** Bytes of one entry's data: a command with a value of limits.valueBytesMax and its head (kind, origin, stamp, key). */
  entryBytesMax: limits.valueBytesMax + 4 * 1024,
  /** Entries appended by the leader and not yet committed: beyond it proposals are refused (back-pressure). */
  uncommittedEntriesMax: 8192,
  /** Reads waiting for their ReadIndex round. */
  pendingReadsMax: 4096,
  /** Members (voters and learners) of one group. */
  membersMax: 15,
  /**
   * Bytes of a snapshot's state: a state machine's state (limits.stateBytesMax)
   * and its bookkeeping (versions, policies, stamps). It travels in one
   * message, chunked on the wire (core/codec/chunks.ts).
   */
  snapshotBytesMax: limits.stateBytesMax + 2 * 1024 * 1024,
  /** Entries in one append message on the wire. */
  entriesPerMessageMax: 4096,
  /** Entries in one stored log record: a run appended in one Ready is one record up to this (see log.ts). */
  entriesPerRecordMax: 8192,
  /** Entry data in one stored log record: a longer run is split (an entry larger than this is a record alone). */
  recordEntryBytesMax: 1024 * 1024,
} as const
