/**
 * What clients ask a replica (DESIGN §5) and what it answers. Every request
 * carries the client's `requestId` and is answered exactly once, by a reply
 * in a later Ready's `applied`: ok with the path taken and its position, or
 * an error with a code.
 */
import type { CrdtOp } from '../crdt/ops.ts'
import type { Hlc } from '../crdt/hlc.ts'
import type { PlainValue } from '../crdt/value.ts'
import type { ConfigMember } from './clusterConfiguration.ts'
import type { Consistency, Policy } from './policy.ts'

export type ReplicaCommand =
  /** Writes a register value; `consistency`, when given, must be the namespace's (a mismatch is refused, never silently changed). */
  | { readonly type: 'put'; readonly requestId: number; readonly key: string; readonly value: string; readonly consistency?: Consistency }
  | { readonly type: 'delete'; readonly requestId: number; readonly key: string; readonly consistency?: Consistency }
  /** Reads a key; `consistency: 'eventual'` on a strong or byzantine namespace is a follower read of the published state. */
  | { readonly type: 'get'; readonly requestId: number; readonly key: string; readonly consistency?: Consistency }
  /** A typed operation (counter, set, map, doc, registers) on an eventual namespace. */
  | { readonly type: 'crdt'; readonly requestId: number; readonly op: CrdtOp }
  /**
   * A y-protocols awareness update of a document from a client of this node:
   * relayed to every peer, never stored; answered ok at once (it is not
   * durable). Changes come back as `awarenessChanged` events of the crdt engine.
   */
  | { readonly type: 'awareness'; readonly requestId: number; readonly key: string; readonly update: Uint8Array }
  /** Changes a namespace's policy: a strong write, so every replica switches at the same log position. */
  | { readonly type: 'setPolicy'; readonly requestId: number; readonly namespace: string; readonly policy: Policy }
  /**
   * Adds a member to the cluster configuration (a gossip member, a CRDT peer
   * and a Raft learner): a configuration change through the Raft log, answered
   * once it applies here with position `{ kind: 'configuration' }`. Idempotent
   * for the same id, region, address and key; refused `memberConflict` when the
   * id is a member with another key or address, `tooManyMembers` at membersMax.
   */
  | { readonly type: 'memberJoin'; readonly requestId: number; readonly member: ConfigMember }
  /**
   * Removes a member (leave is removing oneself, then stopping). Refused
   * `lastVoter` or `belowQuorum` when the voters left would have no quorum of
   * live members; `notMember` for an id not in the configuration.
   */
  | { readonly type: 'memberRemove'; readonly requestId: number; readonly id: string }
  /**
   * Sets the PBFT group the cluster wants: 3f+1 members with public keys
   * (refused `invalidPbftGroup` otherwise). A configuration change through the
   * Raft log, answered once it applies here; the running group then reaches it
   * by its own reconfiguration, which 2f+1 of its replicas approve.
   */
  | { readonly type: 'pbftGroupSet'; readonly requestId: number; readonly replicas: readonly string[] }

/** The path a request took. `published`: a follower read of committed strong or byzantine state. */
export type ReplyPath = 'raft' | 'crdt' | 'pbft' | 'local' | 'published'

/** Where an answer stands: the Raft index, the PBFT state version, the CRDT write's timestamp. */
export type Position =
  | { readonly kind: 'raft'; readonly index: number; readonly version: number }
  | { readonly kind: 'pbft'; readonly version: number }
  | { readonly kind: 'crdt'; readonly timestamp: Hlc | null; readonly replica: string | null }
  | { readonly kind: 'published'; readonly version: number }
  /** A membership change: the configuration version it made (or, for a join already done, found) and the Raft index it applied at (0: nothing to apply). */
  | { readonly kind: 'configuration'; readonly version: number; readonly index: number }

/** Why an auto write took its path (DESIGN §2): the reply says it. */
export type AutoReason =
  /** The home group is in datacenter mode and the commit came within the deadline. */
  | 'datacenter'
  /** The home group is not in datacenter mode (its mode is named in `mode`). */
  | 'groupMode'
  /** Raft was tried and did not commit within autoDeadlineMs. */
  | 'deadline'
  /** Raft could not take it (no leader known, leadership moving, not a member). */
  | 'raftUnavailable'

export type ReplicaReply =
  | {
      readonly type: 'reply'
      readonly requestId: number
      readonly ok: true
      readonly path: ReplyPath
      readonly position: Position
      /** Reads: the value (null: absent); CRDT operations: the key's value after them. */
      readonly value?: string | null | PlainValue
      /** Auto writes: why this path, the home group's mode when the write arrived, and its LWW timestamp (the same on either path). */
      readonly auto?: { readonly reason: AutoReason; readonly mode: string; readonly timestamp: Hlc }
    }
  | { readonly type: 'reply'; readonly requestId: number; readonly ok: false; readonly code: string; readonly message: string; readonly leader?: string | null }

export type ReplicaApplied = ReplicaReply
