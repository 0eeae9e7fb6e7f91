/**
 * What Raft and PBFT replicate into: a deterministic state machine the host injects.
 * An engine applies committed commands in order, answers linearizable
 * reads once the state has caught up with their read index, and takes and
 * restores snapshots, so that hosts never see a half-applied log.
 */
export interface StateMachine {
  /** Applies a committed command (the same bytes on every replica, in the same order); returns the reply for its proposer. */
  apply(command: Uint8Array): Uint8Array
  /** Answers a read against the current state; never changes it. */
  query(query: Uint8Array): Uint8Array
  /** The whole state, within the engine's snapshot limit (raftLimits.snapshotBytesMax, pbftLimits.stateBytesMax). */
  snapshot(): Uint8Array
  /** Replaces the whole state with a snapshot's. */
  restore(data: Uint8Array): void
}
