/**
 * A gossip engine as the TUI sees it: its status in numbers, and its SWIM
 * view when asked for (`status()` copies every member: at thousands of
 * members a pass over the whole membership, so large simulations ask for the
 * view only of the nodes on screen).
 */
import type { GossipEngine } from '../../../core/gossip/engine.ts'
import type { NodeSnapshot, SnapshotDetail } from '../nodeSnapshot.ts'

export function gossipSnapshot(engine: GossipEngine, node: { readonly id: string; readonly region: string }, detail: SnapshotDetail, regionOf: ReadonlyMap<string, string>): NodeSnapshot {
  if (detail === 'none') return { kind: 'gossip', gossip: { id: node.id, region: node.region, status: null, members: null } }
  const status = engine.status()
  let alive = 0
  let suspect = 0
  let dead = 0
  for (const member of status.members) {
    if (member.state === 'alive') alive++
    else if (member.state === 'suspect') suspect++
    else dead++
  }
  const members = detail === 'members' ? status.members.map((member) => ({ id: member.id, region: regionOf.get(member.id) ?? null, state: member.state, incarnation: member.incarnation, meta: member.meta ?? null, link: null })) : null
  return { kind: 'gossip', gossip: { id: node.id, region: node.region, status: { incarnation: status.incarnation, alive, suspect, dead, suspicions: status.suspicions.length, metrics: status.metrics }, members } }
}
