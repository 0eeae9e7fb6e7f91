/**
 * The Members screen's data: the SWIM view of one node (the focused one),
 * with that node's measurements of its link to each member, sortable and
 * filterable. "Last seen" is when the TUI last saw another node report the
 * member alive (cluster time: wall clock live, virtual in a simulation).
 */
import { membersOf } from '../nodeSnapshot.ts'
import type { NodeEntry } from '../sourceState.ts'

export interface MemberRow {
  readonly id: string
  readonly region: string | null
  readonly state: string
  readonly incarnation: number
  readonly mode: string | null
  readonly rttMsP50: number | null
  readonly rttMsP99: number | null
  readonly lossRate: number | null
  readonly samples: number
  /** Cluster time the member was last reported alive, or null. */
  readonly lastAliveMs: number | null
}

export const memberSortKeys = ['id', 'state', 'region', 'incarnation', 'rtt', 'loss', 'seen'] as const
export type MemberSortKey = (typeof memberSortKeys)[number]

const stateOrder: Readonly<Record<string, number>> = { dead: 0, suspect: 1, left: 2, alive: 3 }

function compareNullable(a: number | null, b: number | null): number {
  if (a === b) return 0
  if (a === null) return 1
  if (b === null) return -1
  return a - b
}

/** One collator for every comparison: `localeCompare` with options builds one per call (a thousand-row sort spent most of its time there). */
const idCollator = new Intl.Collator('en', { numeric: true })

/** Ids in natural order (n2 before n10). */
export function compareIds(a: string, b: string): number {
  return idCollator.compare(a, b)
}

export function memberRows(entry: NodeEntry | null, lastAlive: ReadonlyMap<string, number>): MemberRow[] | null {
  const members = membersOf(entry?.snapshot ?? null)
  if (members === null) return null
  return members.map((member) => ({
    id: member.id,
    region: member.region,
    state: member.state,
    incarnation: member.incarnation,
    mode: member.link?.mode ?? null,
    rttMsP50: member.link?.rttMsP50 ?? null,
    rttMsP99: member.link?.rttMsP99 ?? null,
    lossRate: member.link?.lossRate ?? null,
    samples: member.link?.samples ?? 0,
    lastAliveMs: lastAlive.get(member.id) ?? null,
  }))
}

/** An id as a prefix and a number (`n42`), for comparing ids without the collator; null when it is not one. */
function idParts(id: string): { readonly prefix: string; readonly number: number } | null {
  const match = /^(\D*)(\d{1,15})$/.exec(id)
  return match === null ? null : { prefix: match[1]!, number: Number(match[2]) }
}

/**
 * `compareIds` for many comparisons among `ids`: each id is parsed once, and ids of one prefix compare by their
 * number (a thousand-row sort by the collator alone took milliseconds on every frame).
 */
function idComparer(ids: readonly string[]): (a: string, b: string) => number {
  const parts = new Map(ids.map((id) => [id, idParts(id)]))
  return (a, b) => {
    const left = parts.get(a)
    const right = parts.get(b)
    if (left != null && right != null && left.prefix === right.prefix) return left.number - right.number
    return compareIds(a, b)
  }
}

/** Rows whose id, region, state or mode contain `filter` (case-insensitive), sorted by `key`. */
export function sortAndFilterMembers(rows: readonly MemberRow[], key: MemberSortKey, filter: string): MemberRow[] {
  const needle = filter.toLowerCase()
  const kept = needle === '' ? [...rows] : rows.filter((row) => [row.id, row.region ?? '', row.state, row.mode ?? ''].some((field) => field.toLowerCase().includes(needle)))
  const byId = idComparer(kept.map((row) => row.id))
  const compare: Record<MemberSortKey, (a: MemberRow, b: MemberRow) => number> = {
    id: (a, b) => byId(a.id, b.id),
    state: (a, b) => (stateOrder[a.state] ?? 9) - (stateOrder[b.state] ?? 9),
    region: (a, b) => idCollator.compare(a.region ?? '', b.region ?? ''),
    incarnation: (a, b) => b.incarnation - a.incarnation,
    rtt: (a, b) => compareNullable(a.rttMsP50, b.rttMsP50),
    loss: (a, b) => compareNullable(b.lossRate, a.lossRate),
    seen: (a, b) => compareNullable(a.lastAliveMs, b.lastAliveMs),
  }
  return kept.sort((a, b) => compare[key](a, b) || byId(a.id, b.id))
}
