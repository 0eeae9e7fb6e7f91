/**
 * What Enter shows: a node (its links with the measurements behind each
 * mode, and as Raft leader its followers), a member as every node sees it,
 * a key's value and digest on each node with its recent changes, an event whole.
 */
import { Box, Text } from 'ink'
import { createElement as h, type ReactElement } from 'react'
import type { ClusterEvent } from '../data/clusterEvent.ts'
import type { ClusterSnapshot } from '../data/clusterModel.ts'
import type { KeyReading } from '../data/clusterSource.ts'
import { membersOf, replicaOf, storeOf } from '../data/nodeSnapshot.ts'
import { keyTable } from '../data/views/keys.ts'
import { linkRows, overviewRow, type LinkRow } from '../data/views/overview.ts'
import { dash, fit, formatMs, formatPercent, idColumnCharsMax } from '../components/format.ts'
import { Table, type Column } from '../components/Table.ts'
import { useTone } from '../components/theme.ts'

interface Area {
  readonly width: number
  readonly height: number
}

const linkColumns: readonly Column<LinkRow>[] = [
  { header: 'PEER', width: 6, widthMax: idColumnCharsMax, priority: 0, cell: (row) => row.peer },
  { header: 'MODE', width: 10, priority: 0, cell: (row) => row.mode },
  { header: 'DETECTED', width: 10, priority: 3, cell: (row) => row.detectedMode },
  { header: 'OVERRIDE', width: 8, priority: 4, cell: (row) => dash(row.override) },
  { header: 'LOSS LVL', width: 8, priority: 3, cell: (row) => row.lossLevel },
  { header: 'RTT p50', width: 7, priority: 1, align: 'right', cell: (row) => formatMs(row.rttMsP50) },
  { header: 'p99', width: 7, priority: 2, align: 'right', cell: (row) => formatMs(row.rttMsP99) },
  { header: 'LAST', width: 7, priority: 4, align: 'right', cell: (row) => formatMs(row.rttMsLast) },
  { header: 'FORECAST', width: 8, priority: 5, align: 'right', cell: (row) => formatMs(row.forecastRttMs) },
  { header: 'LOSS', width: 5, priority: 2, align: 'right', cell: (row) => formatPercent(row.lossRate) },
  { header: 'PROBES', width: 6, priority: 5, align: 'right', cell: (row) => String(row.samples) },
]

export function NodeDetail(props: Area & { readonly snapshot: ClusterSnapshot; readonly id: string }): ReactElement {
  const entry = props.snapshot.nodes.find((node) => node.id === props.id)
  if (entry === undefined) return h(Text, null, `no node ${props.id}`)
  const row = overviewRow(entry)
  const replica = replicaOf(entry.snapshot)
  const store = storeOf(entry.snapshot)
  const lines = [
    `${entry.id} · region ${dash(entry.region)} · ${entry.up ? 'up' : 'DOWN (last snapshot shown)'}${entry.url === null ? '' : ` · ${entry.url}`}`,
    `raft ${dash(row.role)} term ${dash(row.term)} leader ${dash(row.leader)} commit ${dash(row.commit)} applied ${dash(row.applied)} · pbft ${row.pbftView === null ? '-' : `view ${row.pbftView} primary ${row.pbftPrimary}`} · home mode ${dash(row.mode)}`,
    store === null
      ? `no CRDT store: ${entry.snapshot === null ? 'nothing reported yet' : `a bare ${entry.snapshot.kind} engine`}`
      : `store ${store.storeDigest.slice(0, 12)} · ${store.keys.length} keys${replica?.kernel === undefined ? '' : ` · kernel: ${replica.kernel.inFlight} calls in flight, ${replica.kernel.callsRefused} refused, events ${replica.events?.epoch}:${replica.events?.lastSeq}`}`,
  ]
  const links = linkRows(entry)
  return h(
    Box,
    { flexDirection: 'column', width: props.width, height: props.height },
    ...lines.map((line, index) => h(Text, { key: index, wrap: 'truncate' }, line)),
    h(Table<LinkRow>, { columns: linkColumns, rows: links, cursor: -1, height: Math.max(1, props.height - lines.length), width: props.width, rowKey: (link) => link.peer, emptyText: 'no link measurements' }),
  )
}

export function MemberDetail(props: Area & { readonly snapshot: ClusterSnapshot; readonly id: string }): ReactElement {
  const rows = props.snapshot.nodes.flatMap((node) => {
    const member = membersOf(node.snapshot)?.find((candidate) => candidate.id === props.id)
    return member === undefined ? [] : [{ observer: node.id, up: node.up, member }]
  })
  type Row = (typeof rows)[number]
  const columns: Column<Row>[] = [
    { header: 'SEEN BY', width: 7, widthMax: idColumnCharsMax, priority: 0, cell: (row) => `${row.observer}${row.up ? '' : '↓'}` },
    { header: 'STATE', width: 7, priority: 0, cell: (row) => row.member.state, tone: (row) => (row.member.state === 'alive' ? 'good' : row.member.state === 'suspect' ? 'warn' : 'bad') },
    { header: 'INC', width: 4, priority: 1, align: 'right', cell: (row) => String(row.member.incarnation) },
    { header: 'MODE', width: 10, priority: 2, cell: (row) => dash(row.member.link?.mode) },
    { header: 'RTT p50', width: 7, priority: 2, align: 'right', cell: (row) => formatMs(row.member.link?.rttMsP50) },
    { header: 'LOSS', width: 5, priority: 3, align: 'right', cell: (row) => formatPercent(row.member.link?.lossRate) },
  ]
  return h(
    Box,
    { flexDirection: 'column', width: props.width, height: props.height },
    h(Text, { wrap: 'truncate' }, `member ${props.id} as each node sees it (only nodes whose view is at hand)`),
    h(Table<Row>, { columns, rows, cursor: -1, height: props.height - 1, width: props.width, rowKey: (row) => row.observer, emptyText: 'no node reports this member' }),
  )
}

function readingText(reading: KeyReading | 'reading' | undefined): string {
  if (reading === undefined || reading === 'reading') return '…'
  if (!reading.ok) return `error: ${reading.error}`
  return reading.value === undefined ? '(absent)' : JSON.stringify(reading.value)
}

export function KeyDetail(props: Area & { readonly snapshot: ClusterSnapshot; readonly keyName: string; readonly readings: ReadonlyMap<string, KeyReading | 'reading'> }): ReactElement {
  const tone = useTone()
  const table = keyTable(props.snapshot.nodes)
  const row = table.rows.find((candidate) => candidate.key === props.keyName)
  const lines: ReactElement[] = [
    h(Text, { key: 'title', wrap: 'truncate', bold: true }, `${props.keyName} · ${row?.type ?? 'unknown type'} · ${row === undefined ? 'listed by no replica' : row.divergent ? 'divergent' : 'the same on every replica that is up'}`),
  ]
  table.nodes.forEach((node, index) => {
    const digest = row?.digests[index] ?? null
    lines.push(h(Text, { key: node.id, wrap: 'truncate', color: tone(node.up ? null : 'dim') }, `${fit(node.id, 6)} ${fit(digest === null ? '·' : digest.slice(0, 8), 8)} ${readingText(props.readings.get(node.id))}`))
  })
  const changes = props.snapshot.events.filter((event) => event.source === 'crdt' && event.text.startsWith(`${props.keyName} `)).slice(-Math.max(0, props.height - lines.length - 2))
  lines.push(h(Text, { key: 'changes', bold: true }, `recent changes (${changes.length})`))
  for (const [index, event] of changes.entries()) lines.push(h(Text, { key: `change${index}`, wrap: 'truncate' }, `  ${event.node} ${event.kind} ${event.text}`))
  return h(Box, { flexDirection: 'column', width: props.width, height: props.height }, ...lines.slice(0, props.height))
}

export function EventDetail(props: Area & { readonly event: ClusterEvent }): ReactElement {
  const { event } = props
  const body = JSON.stringify(event.raw, (_, value) => (value instanceof Uint8Array ? `<${value.length} bytes>` : value), 2) ?? 'null'
  const lines = [`${event.node} #${event.seq ?? '-'} at ${event.atMs} ms · ${event.source}/${event.kind}`, event.text, ...body.split('\n')]
  return h(Box, { flexDirection: 'column', width: props.width, height: props.height }, ...lines.slice(0, props.height).map((line, index) => h(Text, { key: index, wrap: 'truncate' }, line)))
}
