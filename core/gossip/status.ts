/**
 * What a SWIM node shows of itself (etcd-io/raft's status.go): plain data,
 * copied out of the engine by `GossipEngine.status()`. Viewers, checkers and
 * tests read the engine through this and its events, never its fields.
 */
import type { NodeId } from '../ports.ts'
import type { LocalHealthStatus } from './awareness.ts'
import type { MemberSummary } from './messages.ts'
import type { SuspicionStatus } from './suspicion.ts'

export interface GossipMetrics {
  probes: number
  probesFailed: number
  acks: number
  pingReqs: number
  nacks: number
  suspicionsRaised: number
  refutations: number
  deadDeclared: number
  messagesSent: number
  bytesSent: number
}

export interface GossipStatus {
  readonly id: NodeId
  /** This node's own incarnation (raised by each refutation and restart). */
  readonly incarnation: number
  /** A full state exchange with the cluster completed (a founder is joined from the start). */
  readonly joined: boolean
  readonly leaving: boolean
  /** Every member this node knows, itself included, in the order of its member directory (not sorted: at thousands of members a sort per status costs). */
  readonly members: readonly MemberSummary[]
  /** Lifeguard's local health (awareness.ts). */
  readonly localHealth: LocalHealthStatus
  /** Suspicions in progress, oldest first (suspicion.ts). */
  readonly suspicions: readonly SuspicionStatus[]
  /** Updates (published key-value pairs) held. */
  readonly updates: number
  readonly metrics: Readonly<GossipMetrics>
}
