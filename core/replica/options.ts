/** What a replica is built from: its identity and groups, the ports it reads, and settings over the defaults. */
import type { ModeDetectorConfig } from '../adaptive/modeConfig.ts'
import type { ProberConfig } from '../adaptive/proberConfig.ts'
import type { Rng } from '../lib/prng.ts'
import type { Clock, NodeId, Signer, StorageReader } from '../ports.ts'
import type { MemberMeta } from '../gossip/memberMeta.ts'
import type { ClusterConfiguration } from './clusterConfiguration.ts'
import type { ReplicaConfig } from './config.ts'
import type { PlacementConfig } from './placementConfig.ts'
import type { Policy } from './policy.ts'

export interface ReplicaMember {
  readonly id: NodeId
  readonly region: string
}

export interface ReplicaOptions {
  readonly id: NodeId
  /**
   * The configuration this node starts from: a new cluster's (version 1, the
   * same on every member) or, for a node that joined, the one its join answer
   * carried (it is in `members` and `raftLearners`). Storage wins: a replica
   * that applied a later configuration restarts with that one. PBFT public
   * keys come from `members[].publicKey`.
   */
  readonly configuration: ClusterConfiguration
  /** This node's signer; needed when it is one of `configuration.pbftReplicas`. */
  readonly signer: Signer | null
  readonly storage: StorageReader
  readonly rng: Rng
  readonly clock: Clock
  /** Policies every replica starts with (the same on all); runtime changes go through `setPolicy`. */
  readonly policies?: Readonly<Record<string, Policy>>
  readonly config?: Partial<ReplicaConfig>
  readonly prober?: Partial<ProberConfig>
  readonly mode?: ModeDetectorConfig
  readonly placement?: Partial<PlacementConfig>
  /** The region, address and tags this node announces through gossip (its host's settings); by default its configuration member's. */
  readonly gossipMeta?: MemberMeta
}
