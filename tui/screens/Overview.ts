/**
 * Overview: one row per node — health, Raft role, term, leader, commit and
 * applied index, PBFT view and primary, its home mode, its links by mode with
 * their median round trip and worst loss, and the members it sees
 * alive/suspect/dead — under a line about the whole cluster.
 */
import { Box, Text } from 'ink'
import { createElement as h, type ReactElement } from 'react'
import type { ClusterSnapshot } from '../data/clusterModel.ts'
import { clusterLeader, overviewRows, type OverviewRow } from '../data/views/overview.ts'
import { dash, formatMs, formatPercent, idColumnCharsMax } from '../components/format.ts'
import { Table, type Column } from '../components/Table.ts'
import type { Tone } from '../components/theme.ts'
import { filterRows, type ScreenModel } from './screenModel.ts'

export function overviewModel(snapshot: ClusterSnapshot, filter: string): ScreenModel<OverviewRow> & { readonly summary: string } {
  const all = overviewRows(snapshot.nodes)
  const rows = filterRows(all, filter, (row) => [row.id, row.region, row.role, row.health, row.mode])
  return { rows, selected: (row) => ({ node: row.id }), summary: clusterSummary(snapshot, all) }
}

const healthTone: Readonly<Record<OverviewRow['health'], Tone>> = { ok: 'good', degraded: 'warn', down: 'bad', unknown: 'dim' }

const columns: readonly Column<OverviewRow>[] = [
  { header: 'NODE', width: 6, widthMax: idColumnCharsMax, priority: 0, cell: (row) => row.id },
  { header: 'REGION', width: 6, priority: 4, cell: (row) => dash(row.region) },
  { header: 'HEALTH', width: 8, priority: 1, cell: (row) => row.health, tone: (row) => healthTone[row.health] },
  { header: 'ROLE', width: 12, priority: 1, cell: (row) => dash(row.role), tone: (row) => (row.role === 'leader' ? 'accent' : null) },
  { header: 'TERM', width: 4, priority: 2, align: 'right', cell: (row) => dash(row.term) },
  { header: 'LEADER', width: 6, widthMax: idColumnCharsMax, priority: 2, cell: (row) => dash(row.leader) },
  { header: 'COMMIT', width: 6, priority: 2, align: 'right', cell: (row) => dash(row.commit) },
  { header: 'APPLIED', width: 7, priority: 5, align: 'right', cell: (row) => dash(row.applied) },
  { header: 'PBFT', width: 7, widthMax: idColumnCharsMax + 4, priority: 5, cell: (row) => (row.pbftView === null ? '-' : `v${row.pbftView} ${row.pbftPrimary}`) },
  { header: 'MODE', width: 10, priority: 3, cell: (row) => dash(row.mode) },
  { header: 'LINKS dc/hy/in', width: 14, priority: 6, cell: (row) => (row.links.datacenter + row.links.hybrid + row.links.internet === 0 ? '-' : `${row.links.datacenter}/${row.links.hybrid}/${row.links.internet}`) },
  { header: 'RTT p50', width: 7, priority: 6, align: 'right', cell: (row) => formatMs(row.rttMsP50) },
  { header: 'LOSS', width: 5, priority: 7, align: 'right', cell: (row) => formatPercent(row.lossRateMax) },
  { header: 'MEMBERS a/s/d', width: 13, priority: 3, cell: (row) => (row.alive === null ? '-' : `${row.alive}/${row.suspect}/${row.dead}`), tone: (row) => ((row.suspect ?? 0) + (row.dead ?? 0) > 0 ? 'warn' : null) },
]

export function clusterSummary(snapshot: ClusterSnapshot, rows: readonly OverviewRow[] = overviewRows(snapshot.nodes)): string {
  const up = rows.filter((row) => row.up).length
  const { leader, term } = clusterLeader(rows)
  const pbft = rows.find((row) => row.up && row.pbftView !== null)
  const parts = [`${rows.length} nodes, ${up} up`, leader === null ? (term === null ? 'no Raft group' : 'no leader') : `leader ${leader} term ${term}`]
  if (pbft !== undefined) parts.push(`PBFT view ${pbft.pbftView} primary ${pbft.pbftPrimary}`)
  if (snapshot.focus !== null) parts.push(`looking from ${snapshot.focus}`)
  return parts.join(' · ')
}

export function Overview(props: { readonly model: ReturnType<typeof overviewModel>; readonly cursor: number; readonly width: number; readonly height: number }): ReactElement {
  return h(
    Box,
    { flexDirection: 'column', width: props.width, height: props.height },
    h(Text, { wrap: 'truncate' }, props.model.summary),
    h(Table<OverviewRow>, { columns, rows: props.model.rows, cursor: props.cursor, height: props.height - 1, width: props.width, rowKey: (row) => row.id, emptyText: 'no nodes (yet)' }),
  )
}
