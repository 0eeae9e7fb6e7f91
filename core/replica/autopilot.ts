/**
 * Autopilot (after Consul's): what the Raft leader does next about its
 * voters, as a pure function of the configuration, what the leader knows of
 * each member's liveness and progress, and the time. At most one action per
 * call; the caller proposes it as a configuration change and asks again once
 * that change applied and Raft's own membership caught up with it.
 *
 * 1. A voter not heard from for deadVoterRemoveMs is removed, the one gone
 *    longest first, only while the voters left keep a quorum of live ones.
 * 2. A caught-up learner is promoted when its region has fewer voters than
 *    its target, or, when no region asks, while the voters are fewer than
 *    the targets' sum (a dead voter's place, taken by any region): never
 *    beyond votersMax.
 * 3. (pbftReplacement) A replica of the PBFT target that gossip has declared
 *    dead for deadVoterRemoveMs is replaced in the target by a live member
 *    with a key outside it. Only the target changes: the running group makes
 *    it real only with approvals of 2f+1 of its own replicas.
 */
import type { NodeId } from '../ports.ts'
import { configurationLimits, type ClusterConfiguration } from './clusterConfiguration.ts'
import { quorumOf } from './configurationChanges.ts'

export interface PeerProgress {
  /** When the leader last heard from it (its clock). */
  readonly lastHeardMs: number
  /** Entries it is behind the leader's log. */
  readonly lagEntries: number
}

export interface AutopilotInput {
  readonly configuration: ClusterConfiguration
  readonly leader: NodeId
  readonly nowMs: number
  /** Per voter and learner other than the leader; a member missing here was never heard from. */
  readonly peers: ReadonlyMap<NodeId, PeerProgress>
  readonly deadVoterRemoveMs: number
  /** Heard from within this: alive (for quorums and promotions). */
  readonly aliveWindowMs: number
  /** A learner at most this far behind is caught up. */
  readonly promoteLagEntriesMax: number
}

export type AutopilotAction = { readonly kind: 'removeDeadVoter'; readonly member: NodeId; readonly reason: string } | { readonly kind: 'promote'; readonly member: NodeId; readonly reason: string }

export function autopilotDecision(input: AutopilotInput): AutopilotAction | null {
  const { configuration: c, leader, nowMs, peers } = input
  const silentMs = (id: NodeId): number => (id === leader ? 0 : nowMs - (peers.get(id)?.lastHeardMs ?? Number.NEGATIVE_INFINITY))
  const isAlive = (id: NodeId): boolean => silentMs(id) < input.aliveWindowMs
  const regionOf = new Map(c.members.map((member) => [member.id, member.region]))

  const dead = c.raftVoters.filter((voter) => voter !== leader && silentMs(voter) >= input.deadVoterRemoveMs).sort((a, b) => silentMs(b) - silentMs(a) || (a < b ? -1 : 1))
  for (const voter of dead) {
    const left = c.raftVoters.filter((id) => id !== voter)
    const alive = left.filter(isAlive).length
    if (alive >= quorumOf(left.length))
      return {
        kind: 'removeDeadVoter',
        member: voter,
        reason: `not heard from for ${silentMs(voter) === Number.POSITIVE_INFINITY ? 'ever' : `${silentMs(voter)} ms`} (deadVoterRemoveMs=${input.deadVoterRemoveMs}); ${alive} of the ${left.length} voters left are alive`,
      }
  }

  if (c.raftVoters.length >= configurationLimits.votersMax) return null
  const caughtUp = c.raftLearners.filter((id) => isAlive(id) && (peers.get(id)?.lagEntries ?? Number.POSITIVE_INFINITY) <= input.promoteLagEntriesMax)
  if (caughtUp.length === 0) return null
  const votersIn = (region: string): number => c.raftVoters.filter((voter) => regionOf.get(voter) === region).length
  const byLag = (a: NodeId, b: NodeId): number => peers.get(a)!.lagEntries - peers.get(b)!.lagEntries || (a < b ? -1 : 1)
  const deficits = Object.entries(c.voterTargets)
    .map(([region, target]) => ({ region, deficit: target - votersIn(region) }))
    .filter(({ deficit }) => deficit > 0)
    .sort((a, b) => b.deficit - a.deficit || (a.region < b.region ? -1 : 1))
  for (const { region, deficit } of deficits) {
    const candidate = caughtUp.filter((id) => regionOf.get(id) === region).sort(byLag)[0]
    if (candidate !== undefined) return { kind: 'promote', member: candidate, reason: `region ${region} has ${deficit} voter(s) fewer than its target` }
  }
  const wanted = Math.min(
    configurationLimits.votersMax,
    Object.values(c.voterTargets).reduce((sum, target) => sum + target, 0),
  )
  if (c.raftVoters.length >= wanted) return null
  // No region that asks has a learner: the region with fewest voters gives one.
  const candidate = [...caughtUp].sort((a, b) => votersIn(regionOf.get(a)!) - votersIn(regionOf.get(b)!) || byLag(a, b))[0]!
  return { kind: 'promote', member: candidate, reason: `${c.raftVoters.length} voters, below the ${wanted} the regions' targets add up to` }
}

export interface PbftReplacementInput {
  readonly configuration: ClusterConfiguration
  /** How long gossip has held a member dead (0: not dead). */
  readonly deadForMs: (id: NodeId) => number
  /** Gossip holds it alive (or suspect). */
  readonly isAlive: (id: NodeId) => boolean
  readonly deadVoterRemoveMs: number
}

/** The next target of the PBFT group with one dead replica replaced, or null (none dead as long, or no live member with a key to take its place). */
export function pbftReplacement(input: PbftReplacementInput): { readonly dead: NodeId; readonly replicas: NodeId[]; readonly reason: string } | null {
  const { configuration: c } = input
  const dead = c.pbftReplicas.filter((id) => input.deadForMs(id) >= input.deadVoterRemoveMs).sort((a, b) => input.deadForMs(b) - input.deadForMs(a) || (a < b ? -1 : 1))[0]
  if (dead === undefined) return null
  const candidate = c.members
    .filter((member) => member.publicKey.length > 0 && !c.pbftReplicas.includes(member.id) && input.isAlive(member.id))
    .map((member) => member.id)
    .sort()[0]
  if (candidate === undefined) return null
  return { dead, replicas: c.pbftReplicas.map((id) => (id === dead ? candidate : id)), reason: `dead for ${input.deadForMs(dead)} ms (deadVoterRemoveMs=${input.deadVoterRemoveMs}); ${candidate} takes its place in the PBFT target` }
}
