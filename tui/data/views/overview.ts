/**
 * The Overview screen's data: one row per node (role, term, leader, commit
 * and applied index, PBFT view, home mode, its links by mode with their
 * measurements, health), and a node's links in detail.
 */
import type { ProberLinkSnapshot } from '../../../core/adaptive/prober.ts'
import { membersOf, pbftOf, raftOf, replicaOf } from '../nodeSnapshot.ts'
import type { NodeEntry } from '../sourceState.ts'

export interface OverviewRow {
  readonly id: string
  readonly region: string | null
  readonly up: boolean
  /** Raft role; 'none' outside the Raft group; 'gossip' for a membership-only node, 'crdt' for a bare CRDT engine, 'pbft' (or 'byzantine MODE') for a bare PBFT replica; null before any snapshot. */
  readonly role: string | null
  readonly term: number | null
  readonly leader: string | null
  readonly commit: number | null
  readonly applied: number | null
  readonly pbftView: number | null
  readonly pbftPrimary: string | null
  readonly mode: string | null
  /** The node's links by reported mode. */
  readonly links: { readonly datacenter: number; readonly hybrid: number; readonly internet: number }
  /** The median of its links' round-trip p50s, and their worst loss rate. */
  readonly rttMsP50: number | null
  readonly lossRateMax: number | null
  /** Members as this node sees them (null when its view is not at hand). */
  readonly alive: number | null
  readonly suspect: number | null
  readonly dead: number | null
  /** ok, degraded (it sees members suspect or dead, or it is outside the leader's term), down. */
  readonly health: 'ok' | 'degraded' | 'down' | 'unknown'
}

function median(values: readonly number[]): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor((sorted.length - 1) / 2)]!
}

/**
 * Rows already computed, by entry: a source hands over the same entry while its node is unchanged (a large
 * simulation reads a few nodes a frame), so a thousand-node Overview recomputes only the rows that changed.
 */
const rowCache = new WeakMap<NodeEntry, OverviewRow>()

export function overviewRow(entry: NodeEntry): OverviewRow {
  let row = rowCache.get(entry)
  if (row === undefined) rowCache.set(entry, (row = computeOverviewRow(entry)))
  return row
}

function computeOverviewRow(entry: NodeEntry): OverviewRow {
  const replica = replicaOf(entry.snapshot)
  const members = membersOf(entry.snapshot)
  const links = { datacenter: 0, hybrid: 0, internet: 0 }
  const rtts: number[] = []
  let lossRateMax: number | null = null
  for (const link of replica?.links.links ?? []) {
    links[link.mode]++
    if (link.estimate?.rttMsP50 != null) rtts.push(link.estimate.rttMsP50)
    if (link.estimate?.lossRate != null) lossRateMax = Math.max(lossRateMax ?? 0, link.estimate.lossRate)
  }
  const gossipStatus = entry.snapshot?.kind === 'gossip' ? entry.snapshot.gossip.status : null
  let alive: number | null = gossipStatus?.alive ?? null
  let suspect: number | null = gossipStatus?.suspect ?? null
  let dead: number | null = gossipStatus?.dead ?? null
  if (members !== null) {
    alive = suspect = dead = 0
    for (const member of members) {
      if (member.state === 'alive') alive++
      else if (member.state === 'suspect') suspect++
      else dead++
    }
  }
  const raft = raftOf(entry.snapshot)
  const pbft = pbftOf(entry.snapshot)
  const role =
    entry.snapshot === null
      ? null
      : entry.snapshot.kind === 'gossip'
        ? 'gossip'
        : entry.snapshot.kind === 'crdt'
          ? 'crdt'
          : entry.snapshot.kind === 'pbft'
            ? entry.snapshot.byzantine === null
              ? 'pbft'
              : `byzantine ${entry.snapshot.byzantine}`
            : (raft?.role ?? 'none')
  const health: OverviewRow['health'] = !entry.up ? 'down' : entry.snapshot === null ? 'unknown' : (suspect ?? 0) + (dead ?? 0) > 0 ? 'degraded' : 'ok'
  return {
    id: entry.id,
    region: entry.region,
    up: entry.up,
    role,
    term: raft?.term ?? null,
    leader: raft?.leader ?? null,
    commit: raft?.commit ?? null,
    applied: raft?.applied ?? null,
    pbftView: pbft?.view ?? null,
    pbftPrimary: pbft?.primary ?? null,
    mode: replica?.node.homeMode ?? null,
    links,
    rttMsP50: median(rtts),
    lossRateMax,
    alive,
    suspect,
    dead,
    health,
  }
}

export function overviewRows(entries: readonly NodeEntry[]): OverviewRow[] {
  return entries.map(overviewRow)
}

/** The leader most up replicas name (null when none is named), and the highest term seen. */
export function clusterLeader(rows: readonly OverviewRow[]): { readonly leader: string | null; readonly term: number | null } {
  const votes = new Map<string, number>()
  let term: number | null = null
  for (const row of rows) {
    if (!row.up) continue
    if (row.term !== null) term = Math.max(term ?? 0, row.term)
    if (row.leader !== null) votes.set(row.leader, (votes.get(row.leader) ?? 0) + 1)
  }
  let leader: string | null = null
  for (const [id, count] of votes) if (leader === null || count > votes.get(leader)!) leader = id
  return { leader, term }
}

export interface LinkRow {
  readonly peer: string
  readonly mode: string
  readonly detectedMode: string
  readonly override: string | null
  readonly lossLevel: string
  readonly rttMsP50: number | null
  readonly rttMsP99: number | null
  readonly rttMsLast: number | null
  readonly lossRate: number | null
  readonly forecastRttMs: number | null
  readonly samples: number
  readonly outstandingProbes: number
}

/** A node's links with the measurements behind each one's mode. */
export function linkRows(entry: NodeEntry): LinkRow[] {
  const replica = replicaOf(entry.snapshot)
  return (replica?.links.links ?? []).map((link: ProberLinkSnapshot) => ({
    peer: link.peer,
    mode: link.mode,
    detectedMode: link.modeState.detectedMode,
    override: link.modeState.override,
    lossLevel: link.modeState.lossLevel,
    rttMsP50: link.estimate?.rttMsP50 ?? null,
    rttMsP99: link.estimate?.rttMsP99 ?? null,
    rttMsLast: link.estimate?.rttMsLast ?? null,
    lossRate: link.estimate?.lossRate ?? null,
    forecastRttMs: link.estimate?.forecastRttMs ?? null,
    samples: link.estimate?.samples ?? 0,
    outstandingProbes: link.outstandingProbes,
  }))
}
