/**
 * What createApi is given (ApiOptions) and what its routes share (ApiContext).
 */
import type { Context } from 'hono'
import type { UpgradeWebSocket } from 'hono/ws'
import type { FaultControl } from '../host/faults.ts'
import type { PeerFrameMetrics } from '../host/peerFrames.ts'
import type { ReplicaHost } from '../host/replicaHost.ts'
import type { ApiTokens } from './auth.ts'
import type { DocHub } from './docHub.ts'
import type { MembershipPort } from './membershipRoutes.ts'
import type { ApiStats, EventCounts } from './metrics.ts'

/** The node behind the API: its hosted replica, and what its host adds. */
export interface ApiBackend {
  readonly host: ReplicaHost
  /** The dev fault switch (--dev only); null: POST /v1/admin/faults is 404. */
  readonly faults: FaultControl | null
  /** The host's peer links, for /metrics: sockets refused by reason (absent where the host has none). */
  readonly links?: { status(): { readonly refused: Readonly<Record<string, number>> } } | null
  /** The host's peer frames, for /metrics (absent where the host has none). */
  readonly frames?: { readonly metrics: PeerFrameMetrics } | null
  /**
   * A host that commits storage in groups (several syncs the engines asked
   * for in one commit) answers a call only once what the call wrote is
   * durable: a promise that resolves then, or null when nothing waits. Absent:
   * the host syncs inside the call.
   */
  readonly durable?: () => Promise<void> | null
  /** Joins, removals and leaves (api/membershipRoutes.ts); absent or null: the join and leave routes are 404. */
  readonly membership?: MembershipPort | null
  /** The cluster's id, for GET /v1/status; absent: the membership port's, else unknown (null). */
  readonly clusterId?: string | null
}

export interface ApiOptions<Socket = unknown> {
  readonly backend: ApiBackend
  /** Bearer tokens; null: that class of requests is open. */
  readonly tokens: ApiTokens
  /** The runtime's WebSocket upgrade (from @hono/node-ws on Node, hono/cloudflare-workers on Workers). */
  readonly upgradeWebSocket: UpgradeWebSocket<Socket>
  /** The client's IP address (the admin route serves loopback clients only); absent: none is loopback. */
  readonly clientAddress?: (c: Context) => string | null
  /** Monotonic milliseconds for request latencies; performance.now by default. */
  readonly nowMs?: () => number
  /** A handler threw (a bug): the client gets a 500 without details; the host may log the error here. */
  readonly onInternalError?: (error: Error) => void
}

export interface ApiContext {
  readonly host: ReplicaHost
  readonly backend: ApiBackend
  readonly tokens: ApiTokens
  readonly stats: ApiStats
  readonly events: EventCounts
  readonly hub: DocHub
  readonly clientAddress: (c: Context) => string | null
}
