/**
 * What a CRDT replica shows of itself (etcd-io/raft's status.go): plain data,
 * copied out of the engine by `CrdtEngine.status()`. Viewers, checkers and
 * tests read the engine through this, its events and its read methods
 * (read, keyDigests), never its fields.
 */
import type { NodeId } from '../ports.ts'
import type { HlcStatus } from './hlc.ts'

export interface CrdtMetrics {
  deltaMessages: number
  /** Payload bytes of delta messages sent (compressed where it paid). */
  deltaBytes: number
  /** The same payloads before compression. */
  deltaRawBytes: number
  /** What sending the whole store instead of each delta message would have cost. */
  fullStateBytes: number
  digestMessages: number
  digestBytes: number
  stateMessages: number
  stateBytes: number
  entriesJoined: number
  entriesRefused: number
  messagesRefused: number
  bufferOverflows: number
  /** Document updates appended to storage, and compactions (a new base written, older records deleted). */
  docAppends: number
  docCompactions: number
  /** Awareness messages sent to peers; updates or entries refused (malformed, oversized, no room); states expired. */
  awarenessMessages: number
  awarenessRefused: number
  awarenessExpired: number
}

export interface CrdtStatus {
  readonly id: NodeId
  /** Keys the store holds. */
  readonly keys: number
  /** A digest of the whole store: equal on two replicas exactly when their values are equal. */
  readonly storeDigest: string
  readonly hlc: HlcStatus
  /** The sequence number the next buffered delta gets (persisted: it never repeats across restarts). */
  readonly deltaSeq: number
  /** Deltas buffered for peers that have not acknowledged them. */
  readonly bufferedDeltas: number
  /** Documents with awareness states present (never stored). */
  readonly awarenessDocs: number
  readonly metrics: Readonly<CrdtMetrics>
}
