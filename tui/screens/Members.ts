/**
 * Members: the SWIM view of the focused node (`f` on a node, or :focus) —
 * state, incarnation, region, and that node's measurements of its link to
 * each member (mode, round trip p50/p99, loss, probes) — and when any node
 * last reported the member alive. Sortable (`s`) and filterable (`/`).
 */
import { Box, Text } from 'ink'
import { createElement as h, type ReactElement } from 'react'
import type { ClusterSnapshot } from '../data/clusterModel.ts'
import { notHeldText } from '../data/views/coverage.ts'
import { memberRows, sortAndFilterMembers, type MemberRow, type MemberSortKey } from '../data/views/members.ts'
import { dash, formatAgo, formatMs, formatPercent, idColumnCharsMax } from '../components/format.ts'
import { Table, type Column } from '../components/Table.ts'
import type { Tone } from '../components/theme.ts'
import type { ScreenModel } from './screenModel.ts'

export function membersModel(snapshot: ClusterSnapshot, filter: string, sort: MemberSortKey): ScreenModel<MemberRow> & { readonly seenFrom: string | null; readonly known: boolean; readonly notHeld: string | null } {
  const focused = snapshot.nodes.find((node) => node.id === snapshot.focus) ?? null
  const rows = memberRows(focused, snapshot.lastAlive)
  return {
    rows: rows === null ? [] : sortAndFilterMembers(rows, sort, filter),
    selected: (row) => ({ node: row.id }),
    seenFrom: focused?.id ?? null,
    known: rows !== null,
    notHeld: rows === null ? notHeldText(snapshot.nodes, 'members') : null,
  }
}

const stateTone: Readonly<Record<string, Tone>> = { alive: 'good', suspect: 'warn', dead: 'bad', left: 'dim' }

function columns(nowMs: number): Column<MemberRow>[] {
  return [
    { header: 'MEMBER', width: 6, widthMax: idColumnCharsMax, priority: 0, cell: (row) => row.id },
    { header: 'STATE', width: 7, priority: 0, cell: (row) => row.state, tone: (row) => stateTone[row.state] ?? null },
    { header: 'INC', width: 4, priority: 1, align: 'right', cell: (row) => String(row.incarnation) },
    { header: 'REGION', width: 6, priority: 2, cell: (row) => dash(row.region) },
    { header: 'MODE', width: 10, priority: 3, cell: (row) => dash(row.mode) },
    { header: 'RTT p50', width: 7, priority: 2, align: 'right', cell: (row) => formatMs(row.rttMsP50) },
    { header: 'p99', width: 7, priority: 4, align: 'right', cell: (row) => formatMs(row.rttMsP99) },
    { header: 'LOSS', width: 5, priority: 3, align: 'right', cell: (row) => formatPercent(row.lossRate) },
    { header: 'PROBES', width: 6, priority: 5, align: 'right', cell: (row) => (row.samples === 0 ? '-' : String(row.samples)) },
    { header: 'SEEN', width: 5, priority: 4, align: 'right', cell: (row) => formatAgo(row.lastAliveMs, nowMs) },
  ]
}

export function Members(props: { readonly snapshot: ClusterSnapshot; readonly model: ReturnType<typeof membersModel>; readonly sort: MemberSortKey; readonly cursor: number; readonly width: number; readonly height: number }): ReactElement {
  const { model } = props
  const suspect = model.rows.filter((row) => row.state === 'suspect').length
  const dead = model.rows.filter((row) => row.state === 'dead').length
  const heading =
    model.notHeld !== null
      ? model.notHeld
      : model.seenFrom === null
        ? 'no node to look from'
        : !model.known
          ? `as seen by ${model.seenFrom}: its view is not at hand (down, or not yet heard from)`
          : `as seen by ${model.seenFrom} · ${model.rows.length} members, ${suspect} suspect, ${dead} dead · sort ${props.sort} (s)`
  return h(
    Box,
    { flexDirection: 'column', width: props.width, height: props.height },
    h(Text, { wrap: 'truncate' }, heading),
    h(Table<MemberRow>, { columns: columns(props.snapshot.atMs), rows: model.rows, cursor: props.cursor, height: props.height - 1, width: props.width, rowKey: (row) => row.id, emptyText: 'no members' }),
  )
}
