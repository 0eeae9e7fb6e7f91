/**
 * The membership changes, as pure functions from one configuration to the
 * next (version + 1), each refused with a code when it must not happen. They
 * change one server at a time: one member in or out, one learner promoted.
 * Whether a member is alive is the caller's knowledge, passed in.
 */
import type { NodeId } from '../ports.ts'
import { raftLimits } from '../raft/config.ts'
import type { Refusal } from '../ready.ts'
import { configurationLimits, configurationProblem, memberOf, normalizeConfiguration, type ClusterConfiguration, type ConfigMember, type PbftRunning } from './clusterConfiguration.ts'

/** The next configuration, or `unchanged` (the change is in effect already), or why not. */
export type ChangeOutcome = { readonly ok: true; readonly next: ClusterConfiguration | 'unchanged' } | { readonly ok: false; readonly error: Refusal }

const refuse = (code: string, message: string): ChangeOutcome => ({ ok: false, error: { code, message } })

function checked(next: ClusterConfiguration): ChangeOutcome {
  const normalized = normalizeConfiguration(next)
  const problem = configurationProblem(normalized)
  return problem === null ? { ok: true, next: normalized } : refuse('invalidConfiguration', problem)
}

function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index])
}

/** Quorum of a voter set of this size. */
export function quorumOf(voters: number): number {
  return Math.floor(voters / 2) + 1
}

/**
 * Adds a member; it becomes a Raft learner while the Raft group has room
 * (raftLimits.membersMax voters and learners). The same member again changes
 * nothing; the same id with another key, address or region is a conflict.
 */
export function joinMember(c: ClusterConfiguration, member: ConfigMember): ChangeOutcome {
  const held = memberOf(c, member.id)
  if (held !== undefined) {
    if (sameKey(held.publicKey, member.publicKey) && held.address === member.address && held.region === member.region) return { ok: true, next: 'unchanged' }
    return refuse('memberConflict', `${member.id} is a member already, with another key, address or region`)
  }
  if (c.members.length >= configurationLimits.membersMax) return refuse('tooManyMembers', `membersMax=${configurationLimits.membersMax}`)
  const raftRoom = c.raftVoters.length + c.raftLearners.length < raftLimits.membersMax
  return checked({ ...c, version: c.version + 1, members: [...c.members, member], raftLearners: raftRoom ? [...c.raftLearners, member.id] : c.raftLearners })
}

/**
 * Removes a member. A voter is removed only when the voters left keep a
 * quorum of live ones (`isAlive` is the caller's view). A member of the PBFT
 * target is refused: set a target without it first (setPbftGroup), which the
 * group makes real by its own reconfiguration (pbftGroupChange.ts).
 */
export function removeMember(c: ClusterConfiguration, id: NodeId, isAlive: (id: NodeId) => boolean): ChangeOutcome {
  if (memberOf(c, id) === undefined) return refuse('notMember', `${id} is not a member`)
  if (c.pbftReplicas.includes(id)) return refuse('pbftReplica', `${id} is in the PBFT group; set a PBFT group without it first (pbftGroupSet), which the group makes real by its own reconfiguration`)
  if (c.pbftRunning?.replicas.includes(id) === true) return refuse('pbftReplica', `${id} is in the running PBFT group of epoch ${c.pbftRunning.epoch}; it may be removed once the group reconfigured without it`)
  if (c.raftVoters.includes(id)) {
    const left = c.raftVoters.filter((voter) => voter !== id)
    if (left.length === 0) return refuse('lastVoter', 'the last Raft voter cannot be removed')
    const alive = left.filter(isAlive).length
    if (alive < quorumOf(left.length)) return refuse('belowQuorum', `the ${left.length} voters left would have ${alive} alive, below their quorum of ${quorumOf(left.length)}`)
  }
  return checked({
    ...c,
    version: c.version + 1,
    members: c.members.filter((member) => member.id !== id),
    raftVoters: c.raftVoters.filter((voter) => voter !== id),
    raftLearners: c.raftLearners.filter((learner) => learner !== id),
  })
}

/** Makes a learner a voter (at most votersMax voters). */
export function promoteLearner(c: ClusterConfiguration, id: NodeId): ChangeOutcome {
  if (!c.raftLearners.includes(id)) return refuse('notLearner', `${id} is not a Raft learner`)
  if (c.raftVoters.length >= configurationLimits.votersMax) return refuse('tooManyVoters', `votersMax=${configurationLimits.votersMax}`)
  return checked({ ...c, version: c.version + 1, raftVoters: [...c.raftVoters, id], raftLearners: c.raftLearners.filter((learner) => learner !== id) })
}

/**
 * Sets the PBFT group the cluster wants (the target): 3f+1 distinct members,
 * each with a public key. The running group reaches it through PBFT's own
 * reconfiguration, approved by 2f+1 of the running group (pbftGroupChange.ts).
 */
export function setPbftGroup(c: ClusterConfiguration, replicas: readonly NodeId[]): ChangeOutcome {
  if (replicas.length > configurationLimits.membersMax) return refuse('invalidPbftGroup', `${replicas.length} replicas, membersMax=${configurationLimits.membersMax}`)
  const wanted = [...new Set(replicas)].sort()
  if (wanted.length !== replicas.length) return refuse('invalidPbftGroup', 'the PBFT group names a member twice')
  if (wanted.length === 0 || wanted.length % 3 !== 1) return refuse('invalidPbftGroup', `a PBFT group has 3f+1 replicas (1, 4, 7, ...), not ${wanted.length}`)
  for (const id of wanted) {
    const member = memberOf(c, id)
    if (member === undefined) return refuse('invalidPbftGroup', `${id} is not a member`)
    if (member.publicKey.length === 0) return refuse('invalidPbftGroup', `${id} has no public key`)
  }
  const held = [...c.pbftReplicas].sort()
  if (held.length === wanted.length && held.every((id, index) => id === wanted[index])) return { ok: true, next: 'unchanged' }
  // The first target change records the group that runs: the first configuration's, in epoch 0.
  const pbftRunning = c.pbftRunning ?? (c.pbftReplicas.length > 0 ? { epoch: 0, startSeq: 0, replicas: c.pbftReplicas } : undefined)
  return checked({ ...c, version: c.version + 1, pbftReplicas: wanted, ...(pbftRunning === undefined ? {} : { pbftRunning }) })
}

/** Records the group that runs now, as one of its replicas reports it after a reconfiguration; unchanged unless its epoch is later. */
export function recordPbftRunning(c: ClusterConfiguration, running: PbftRunning): ChangeOutcome {
  if (running.epoch <= (c.pbftRunning?.epoch ?? 0)) return { ok: true, next: 'unchanged' }
  return checked({ ...c, version: c.version + 1, pbftRunning: running })
}
