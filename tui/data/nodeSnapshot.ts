/**
 * What the TUI knows of one node. Most nodes are replicas: a live node's
 * HostSnapshot (`GET /v1/snapshot`, the first message of `/v1/events`) or a
 * simulated replica's `Replica.snapshot()`. The large membership simulations
 * (more nodes than a replica cluster holds) run gossip engines only: of those
 * the TUI sees the SWIM view alone, and only of the nodes it looks at. The
 * single-engine simulations (`--sim raft`, pbft, crdt) show that engine's
 * status (core/ENGINE/status.ts) and nothing else.
 */
import type { CrdtStatus } from '../../core/crdt/status.ts'
import type { CrdtType } from '../../core/crdt/value.ts'
import type { GossipMetrics } from '../../core/gossip/status.ts'
import type { PbftStatus } from '../../core/pbft/status.ts'
import type { RaftStatus } from '../../core/raft/status.ts'
import type { Policy } from '../../core/replica/policy.ts'
import type { MemberView, ReplicaSnapshot } from '../../core/replica/snapshot.ts'
import type { KernelStatus } from '../../host/kernel.ts'

/** A replica's snapshot; a hosted node's adds its kernel's counters and where its event numbering stands. */
export type ReplicaView = ReplicaSnapshot & {
  readonly kernel?: KernelStatus
  readonly events?: { readonly epoch: string; readonly lastSeq: number }
}

export interface GossipView {
  readonly id: string
  readonly region: string
  /** What the node's status said, when the source read it (large memberships read a few nodes a frame): else null. */
  readonly status: {
    /** Its own incarnation. */
    readonly incarnation: number
    /** Members it sees in each state, itself included. */
    readonly alive: number
    readonly suspect: number
    readonly dead: number
    /** Suspicions it has under way. */
    readonly suspicions: number
    readonly metrics: Readonly<GossipMetrics>
  } | null
  /** Its SWIM view; only for the nodes on screen (ClusterModel.focus). */
  readonly members: readonly MemberView[] | null
}

/** How much of a node a simulation reads for one snapshot: its whole view, its status in numbers, or only who it is. */
export type SnapshotDetail = 'members' | 'status' | 'none'

/** A bare CRDT engine's status with its keys and their digests (`CrdtEngine.keyDigests`). */
export interface CrdtView {
  readonly status: CrdtStatus
  readonly keys: readonly { readonly key: string; readonly type: CrdtType; readonly digest: string }[]
  readonly keysTruncated: boolean
}

export type NodeSnapshot =
  | { readonly kind: 'replica'; readonly replica: ReplicaView }
  | { readonly kind: 'gossip'; readonly gossip: GossipView }
  | { readonly kind: 'raft'; readonly raft: RaftStatus }
  /** `byzantine`: how a simulated Byzantine replica misbehaves (its status is its honest engine's inside); null: correct. */
  | { readonly kind: 'pbft'; readonly pbft: PbftStatus; readonly byzantine: string | null }
  | { readonly kind: 'crdt'; readonly crdt: CrdtView }

/** What the Overview and Consensus screens show of a node's Raft state (a replica's, or a bare engine's status). */
export type RaftView = NonNullable<ReplicaSnapshot['raft']>

/** What the State and Convergence screens show of a node's CRDT store. */
export interface StoreView {
  readonly keys: readonly { readonly key: string; readonly type: CrdtType; readonly digest: string }[]
  readonly keysTruncated: boolean
  readonly storeDigest: string
  readonly crdtMetrics: Readonly<Record<string, number>>
  /** Namespaces with a policy (a replica's; none on a bare CRDT engine). */
  readonly policies: readonly { readonly namespace: string; readonly policy: Policy }[]
}

/** The node's SWIM view, when the snapshot holds one. */
export function membersOf(snapshot: NodeSnapshot | null): readonly MemberView[] | null {
  if (snapshot === null) return null
  if (snapshot.kind === 'replica') return snapshot.replica.members
  return snapshot.kind === 'gossip' ? snapshot.gossip.members : null
}

export function replicaOf(snapshot: NodeSnapshot | null): ReplicaView | null {
  return snapshot !== null && snapshot.kind === 'replica' ? snapshot.replica : null
}

export function raftOf(snapshot: NodeSnapshot | null): RaftView | null {
  if (snapshot === null) return null
  if (snapshot.kind === 'raft') return snapshot.raft
  return snapshot.kind === 'replica' ? snapshot.replica.raft : null
}

export function pbftOf(snapshot: NodeSnapshot | null): PbftStatus | null {
  if (snapshot === null) return null
  if (snapshot.kind === 'pbft') return snapshot.pbft
  return snapshot.kind === 'replica' ? snapshot.replica.pbft : null
}

export function storeOf(snapshot: NodeSnapshot | null): StoreView | null {
  if (snapshot === null) return null
  if (snapshot.kind === 'crdt') {
    const { status, keys, keysTruncated } = snapshot.crdt
    return { keys, keysTruncated, storeDigest: status.storeDigest, crdtMetrics: status.metrics, policies: [] }
  }
  if (snapshot.kind !== 'replica') return null
  const replica = snapshot.replica
  return { keys: replica.keys, keysTruncated: replica.keysTruncated, storeDigest: replica.storeDigest, crdtMetrics: replica.metrics.crdt, policies: replica.policies }
}
