/**
 * What the TUI knows of one node. Most nodes are replicas: a live node's
 * HostSnapshot (`GET /v1/snapshot`, the first message of `/v1/events`) or a
 * simulated replica's `Replica.snapshot()`. The large membership simulations
 * (more nodes than a replica cluster holds) run gossip engines only: of those
 * the TUI sees the SWIM view alone, and only of the nodes it looks at.
 */
import type { GossipMetrics } from '../../core/gossip/status.ts'
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

export type NodeSnapshot = { readonly kind: 'replica'; readonly replica: ReplicaView } | { readonly kind: 'gossip'; readonly gossip: GossipView }

/** The node's SWIM view, when the snapshot holds one. */
export function membersOf(snapshot: NodeSnapshot | null): readonly MemberView[] | null {
  if (snapshot === null) return null
  return snapshot.kind === 'replica' ? snapshot.replica.members : snapshot.gossip.members
}

export function replicaOf(snapshot: NodeSnapshot | null): ReplicaView | null {
  return snapshot !== null && snapshot.kind === 'replica' ? snapshot.replica : null
}
