/** What a replica is built from: its identity and groups, the ports it reads, and settings over the defaults. */
import type { ModeDetectorConfig } from '../adaptive/modeConfig.ts'
import type { ProberConfig } from '../adaptive/proberConfig.ts'
import type { Rng } from '../lib/prng.ts'
import type { PbftReplica } from '../pbft/config.ts'
import type { Clock, NodeId, Signer, StorageReader } from '../ports.ts'
import type { ReplicaConfig } from './config.ts'
import type { PlacementConfig } from './placementConfig.ts'
import type { Policy } from './policy.ts'

export interface ReplicaMember {
  readonly id: NodeId
  readonly region: string
}

export interface ReplicaOptions {
  readonly id: NodeId
  /** Every member of the cluster, this node included, with its region. */
  readonly members: readonly ReplicaMember[]
  /** The Raft group (the home group of strong and auto namespaces); a node outside it has no Raft engine. */
  readonly raftVoters: readonly NodeId[]
  /** The PBFT group (3f+1 replicas with their public keys); empty: no byzantine namespaces. */
  readonly pbftReplicas: readonly PbftReplica[]
  /** This node's signer; needed when it is one of `pbftReplicas`. */
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
}
