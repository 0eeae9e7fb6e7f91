/**
 * pbft --reconfigure: the replica group changes in the middle of the fault
 * window, through a reconfiguration the group orders itself (core/pbft/
 * reconfiguration.ts). The nodes the new group takes in run from the start,
 * built with the first group but outside it (as a joining replica is built):
 * they vote in nothing until the change, then get the state by state transfer.
 *
 *   replace   the n replicas are replaced by n others (no replica stays)
 *   overlap   the last ⌊n/2⌋ stay, ⌈n/2⌉ others join, the rest leave
 *   grow      3 replicas join (4 → 7: f from 1 to 2)
 *
 * A correct replica of the first group proposes it, approved by 2f+1 correct
 * replicas of that group, at `proposeAtUs` (again, at another correct replica,
 * while no correct replica executed it). Byzantine replicas stay among the first
 * group; those the plan keeps stay Byzantine in the new one (never more than
 * its f). The checkers (pbftChecker.ts) hold across the change: agreement,
 * every sequence number under one group epoch, one group per epoch; the
 * scenario checks that every correct replica of the new group entered its
 * epoch as a member with the planned members (`reconfigured`).
 */
import { faultsTolerated, quorumOf } from '../../core/pbft/config.ts'
import type { PbftEngine } from '../../core/pbft/engine.ts'
import type { NodeId, Signer } from '../../core/ports.ts'
import { approveReconfiguration, type PbftReconfiguration } from '../../core/pbft/reconfiguration.ts'

export const pbftReconfigurations = ['replace', 'overlap', 'grow'] as const
export type PbftReconfigurePlan = (typeof pbftReconfigurations)[number]

export const reconfigureTiming = {
  /** A third into the fault window: requests flow before and after, under faults on both sides. */
  proposeAtUs: 2_000_000,
  /** A proposal that did not execute anywhere by then is proposed again, at another correct replica. */
  retryUs: 1_000_000,
} as const

/** Replicas a growing group takes in. */
const growBy = 3

export interface ReconfigureLayout {
  readonly plan: PbftReconfigurePlan
  /** Nodes beyond the first group's n that the plan needs. */
  readonly spares: number
  /** The new group's ids, given every node's id (the first group's n first). */
  members(ids: readonly NodeId[]): NodeId[]
}

/** `groupMax`: the largest group the scenario runs (a grown group must fit it). */
export function reconfigureLayout(plan: string | undefined, n: number, groupMax: number): ReconfigureLayout | null {
  if (plan === undefined) return null
  if (!(pbftReconfigurations as readonly string[]).includes(plan)) throw new RangeError(`unknown reconfiguration ${plan}; plans: ${pbftReconfigurations.join(', ')}`)
  const layout = (spares: number, members: (ids: readonly NodeId[]) => NodeId[]): ReconfigureLayout => ({ plan: plan as PbftReconfigurePlan, spares, members })
  if (plan === 'grow' && n + growBy > groupMax) throw new RangeError(`--reconfigure grow on ${n} replicas makes a group of ${n + growBy}, more than ${groupMax}`)
  const stay = Math.floor(n / 2)
  switch (plan as PbftReconfigurePlan) {
    case 'replace':
      return layout(n, (ids) => ids.slice(n, 2 * n))
    case 'overlap':
      return layout(n - stay, (ids) => [...ids.slice(n - stay, n), ...ids.slice(n, 2 * n - stay)])
    case 'grow':
      return layout(growBy, (ids) => ids.slice(0, n + growBy))
  }
}

/** The reconfiguration to `members`, approved by the first 2f+1 of `approvers` (correct replicas of the first group). */
export function plannedReconfiguration(members: readonly NodeId[], ids: readonly NodeId[], signers: readonly Signer[], approvers: readonly NodeId[], n: number): PbftReconfiguration {
  const replicas = members.map((id) => ({ id, publicKey: signers[ids.indexOf(id)]!.publicKey }))
  const chosen = approvers.slice(0, quorumOf(n))
  return { fromEpoch: 0, replicas, approvals: chosen.map((id) => approveReconfiguration(signers[ids.indexOf(id)]!, id, 0, replicas)) }
}

/** Why the new group's Byzantine replicas would be more than it tolerates, or null. */
export function byzantineInNewGroupError(members: readonly NodeId[], byzantine: ReadonlySet<NodeId>): string | null {
  const count = members.filter((id) => byzantine.has(id)).length
  const f = faultsTolerated(members.length)
  return count > f ? `the new group of ${members.length} keeps ${count} Byzantine replicas, more than f = ${f}` : null
}

/** True when every correct replica of the new group is in epoch 1, voting, with the planned members. */
export function reconfigured(members: readonly NodeId[], correct: (id: NodeId) => boolean, engines: ReadonlyMap<NodeId, PbftEngine>): boolean {
  return members.every((id) => {
    if (!correct(id)) return true
    const status = engines.get(id)?.status()
    return status !== undefined && status.epoch === 1 && status.member && status.members.join(',') === members.join(',')
  })
}
