/** A replica's own counters (each engine keeps its own beside them); plain numbers a viewer copies. */

export interface ReplicaMetrics {
  requests: number
  repliesOk: number
  repliesFailed: number
  timeouts: number
  forwardsSent: number
  forwardsServed: number
  /** Forward answers meant for an earlier incarnation of this node, ignored. */
  forwardRepliesStale: number
  peerMessagesRefused: number
  published: number
  /** Writes by the path that answered them. */
  'path.raft': number
  'path.crdt': number
  'path.pbft': number
  /** Auto writes by why they took the CRDT path. */
  'auto.groupMode': number
  'auto.deadline': number
  'auto.raftUnavailable': number
  'auto.raft': number
  leaderTransfers: number
  homeProposals: number
  /** The leader's autopilot changes proposed (autopilot.ts). */
  autopilotPromotions: number
  autopilotRemovals: number
  /** Replicas of the PBFT target dead past deadVoterRemoveMs that the leader's autopilot replaced in the target. */
  autopilotPbftReplacements: number
  /** Reconfigurations of the PBFT group toward the configuration's target this replica proposed to its engine (pbftGroupChange.ts). */
  pbftReconfigurationsProposed: number
}

export function newReplicaMetrics(): ReplicaMetrics {
  return {
    requests: 0,
    repliesOk: 0,
    repliesFailed: 0,
    timeouts: 0,
    forwardsSent: 0,
    forwardsServed: 0,
    forwardRepliesStale: 0,
    peerMessagesRefused: 0,
    published: 0,
    'path.raft': 0,
    'path.crdt': 0,
    'path.pbft': 0,
    'auto.groupMode': 0,
    'auto.deadline': 0,
    'auto.raftUnavailable': 0,
    'auto.raft': 0,
    leaderTransfers: 0,
    homeProposals: 0,
    autopilotPromotions: 0,
    autopilotRemovals: 0,
    autopilotPbftReplacements: 0,
    pbftReconfigurationsProposed: 0,
  }
}
