/**
 * What the nodes' snapshots hold, so that a view with nothing to show says
 * why in plain words: a single-engine simulation (`--sim raft`) has no SWIM
 * membership and no CRDT store, a membership simulation no consensus.
 */
import type { NodeSnapshot } from '../nodeSnapshot.ts'
import type { NodeEntry } from '../sourceState.ts'

export type ViewNeed = 'members' | 'store' | 'consensus'

const engineNames: Readonly<Record<Exclude<NodeSnapshot['kind'], 'replica'>, string>> = { raft: 'Raft', pbft: 'PBFT', crdt: 'CRDTs', gossip: 'SWIM' }

/** The views that do show what these engines hold. */
const shownIn: Readonly<Record<Exclude<NodeSnapshot['kind'], 'replica'>, string>> = { raft: 'Overview, Consensus', pbft: 'Overview, Consensus', crdt: 'State, Convergence', gossip: 'Overview, Members' }

const holds: Readonly<Record<NodeSnapshot['kind'], readonly ViewNeed[]>> = { replica: ['members', 'store', 'consensus'], gossip: ['members'], raft: ['consensus'], pbft: ['consensus'], crdt: ['store'] }

const needWords: Readonly<Record<ViewNeed, string>> = { members: 'no SWIM membership', store: 'no CRDT store', consensus: 'no Raft or PBFT group' }

/**
 * Why a view that needs `need` is empty here, or null when some node holds it (or no node has reported
 * yet: then the view's own empty text says so).
 */
export function notHeldText(nodes: readonly NodeEntry[], need: ViewNeed): string | null {
  const kinds = new Set<NodeSnapshot['kind']>()
  for (const node of nodes) if (node.snapshot !== null) kinds.add(node.snapshot.kind)
  if (kinds.size === 0 || [...kinds].some((kind) => holds[kind].includes(need))) return null
  const bare = [...kinds].filter((kind): kind is Exclude<NodeSnapshot['kind'], 'replica'> => kind !== 'replica')
  const engines = bare.map((kind) => engineNames[kind]).join(' and ')
  const views = [...new Set(bare.map((kind) => shownIn[kind]))].join('; ')
  return `${needWords[need]} here: these nodes run ${engines} alone (see ${views})`
}
