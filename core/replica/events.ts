/**
 * What a replica reports: each engine's events tagged with the engine, mode
 * changes with the measurements behind them, placement decisions with their
 * reasons, and refused peer messages. Observations only (see core/ready.ts).
 */
import type { ModeChangedEvent } from '../adaptive/modeEvents.ts'
import type { CrdtEvent } from '../crdt/engine.ts'
import type { GossipEvent } from '../gossip/engine.ts'
import type { PbftEvent } from '../pbft/engine.ts'
import type { RaftEvent } from '../raft/engine.ts'
import type { ClusterConfiguration } from './clusterConfiguration.ts'
import type { HomeProposal, LeaderTransfer } from './placement.ts'
import type { ReplicaMessageEngine } from './messages.ts'

export interface PeerMessageRefused {
  readonly kind: 'refused'
  readonly from: string
  readonly engine: ReplicaMessageEngine
  readonly code: string
  readonly message: string
}

/** A new cluster configuration applied here (and once at boot, with the one the replica starts with). */
export interface ConfigurationChanged {
  readonly kind: 'configurationChanged'
  readonly version: number
  readonly configuration: ClusterConfiguration
}

/**
 * The leader's autopilot acted: a learner promoted toward its region's voter target, a voter dead past
 * deadVoterRemoveMs removed, or a replica of the PBFT target dead as long replaced in the target (`member`: the dead one).
 */
export interface AutopilotEvent {
  readonly kind: 'autopilot'
  readonly action: 'promote' | 'removeDeadVoter' | 'replacePbftReplica'
  readonly member: string
  readonly reason: string
}

export type ReplicaEvent =
  | { readonly source: 'crdt'; readonly event: CrdtEvent }
  | { readonly source: 'gossip'; readonly event: GossipEvent }
  | { readonly source: 'raft'; readonly event: RaftEvent }
  | { readonly source: 'pbft'; readonly event: PbftEvent }
  | { readonly source: 'adaptive'; readonly event: ModeChangedEvent }
  | { readonly source: 'placement'; readonly event: HomeProposal | LeaderTransfer }
  | { readonly source: 'replica'; readonly event: PeerMessageRefused | ConfigurationChanged | AutopilotEvent }
