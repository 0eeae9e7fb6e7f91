/**
 * Contexts (k9s's `:ctx`): every cluster this UI is attached to — its name,
 * cluster id, endpoint, whether its nodes are connected, how many nodes
 * and how many are up; the current one marked. Enter (or `:ctx NAME`)
 * switches to the selected one. A simulation is its one context.
 */
import { Box, Text } from 'ink'
import { createElement as h, type ReactElement } from 'react'
import type { ClusterSnapshot } from '../data/clusterModel.ts'
import { contextRow, type ContextRow, type ContextsSnapshot } from '../data/contexts.ts'
import { dash } from '../components/format.ts'
import { Table, type Column } from '../components/Table.ts'
import type { Tone } from '../components/theme.ts'
import { filterRows, type ScreenModel } from './screenModel.ts'

export function contextsModel(contexts: ContextsSnapshot | null, snapshot: ClusterSnapshot, filter: string): ScreenModel<ContextRow> & { readonly switchable: boolean } {
  // Without contexts (a simulation, a test): the one cluster on screen.
  const rows = contexts?.rows ?? [contextRow({ name: snapshot.sim !== null ? 'sim' : 'cluster', clusterId: null, urls: snapshot.nodes.flatMap((node) => (node.url === null ? [] : [node.url])) }, snapshot, true)]
  return { rows: filterRows(rows, filter, (row) => [row.name, row.clusterId, row.endpoint, row.state]), selected: (row) => ({ context: row.name }), switchable: contexts !== null }
}

const stateTone: Readonly<Record<ContextRow['state'], Tone>> = { connected: 'good', 'partly connected': 'warn', connecting: 'dim', disconnected: 'bad' }

const columns: readonly Column<ContextRow>[] = [
  { header: ' ', width: 1, priority: 0, cell: (row) => (row.current ? '*' : ' '), tone: (row) => (row.current ? 'accent' : null) },
  { header: 'CONTEXT', width: 10, priority: 0, cell: (row) => row.name, tone: (row) => (row.current ? 'accent' : null) },
  { header: 'CLUSTER', width: 16, priority: 1, cell: (row) => dash(row.clusterId) },
  { header: 'STATE', width: 16, priority: 0, cell: (row) => row.state, tone: (row) => stateTone[row.state] },
  { header: 'LIVE', width: 5, priority: 2, align: 'right', cell: (row) => `${row.live}/${row.endpoints}` },
  { header: 'NODES', width: 5, priority: 1, align: 'right', cell: (row) => String(row.nodes) },
  { header: 'UP', width: 4, priority: 2, align: 'right', cell: (row) => String(row.up) },
  { header: 'ENDPOINT', width: 22, priority: 3, cell: (row) => (row.endpoints > 1 ? `${row.endpoint} +${row.endpoints - 1}` : row.endpoint), flex: true },
]

export function Contexts(props: { readonly model: ReturnType<typeof contextsModel>; readonly cursor: number; readonly width: number; readonly height: number }): ReactElement {
  const heading = props.model.switchable ? `${props.model.rows.length} contexts · Enter or :ctx NAME switches` : 'one cluster here: start with several URLs, --context NAME=URL,… or a running dwcp up for more'
  return h(
    Box,
    { flexDirection: 'column', width: props.width, height: props.height },
    h(Text, { wrap: 'truncate' }, heading),
    h(Table<ContextRow>, { columns, rows: props.model.rows, cursor: props.cursor, height: props.height - 1, width: props.width, rowKey: (row) => row.name, emptyText: 'no contexts match' }),
  )
}
