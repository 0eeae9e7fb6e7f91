/**
 * State: the namespaces with their policy (consistency, value type, home) and
 * key counts, then every key any replica lists with its type and its digest
 * on each replica; a key whose digests differ among the replicas that are up
 * is marked divergent. Enter shows a key's value on each node.
 */
import { Box, Text } from 'ink'
import { createElement as h, type ReactElement } from 'react'
import type { ClusterSnapshot } from '../data/clusterModel.ts'
import { notHeldText } from '../data/views/coverage.ts'
import { keyTable, type KeyRow, type KeyTable, type NamespaceRow } from '../data/views/keys.ts'
import { dash, idColumnCharsMax } from '../components/format.ts'
import { Table, type Column } from '../components/Table.ts'
import { filterRows, type ScreenModel } from './screenModel.ts'

/** Characters of a digest shown: enough to tell digests apart at a glance. */
const digestChars = 6

export function stateModel(snapshot: ClusterSnapshot, filter: string): ScreenModel<KeyRow> & { readonly table: KeyTable; readonly notHeld: string | null } {
  const table = keyTable(snapshot.nodes)
  const rows = filterRows(table.rows, filter, (row) => [row.key, row.type, row.divergent ? 'divergent' : null])
  return { rows, selected: (row) => ({ key: row.key }), table, notHeld: table.nodes.length === 0 ? notHeldText(snapshot.nodes, 'store') : null }
}

const namespaceColumns: readonly Column<NamespaceRow>[] = [
  { header: 'NAMESPACE', width: 10, priority: 0, cell: (row) => row.namespace },
  { header: 'CONSISTENCY', width: 11, priority: 1, cell: (row) => dash(row.policy?.consistency) },
  { header: 'TYPE', width: 8, priority: 1, cell: (row) => dash(row.policy?.valueType) },
  { header: 'HOME', width: 6, priority: 3, cell: (row) => dash(row.policy?.home) },
  { header: 'KEYS', width: 5, priority: 2, align: 'right', cell: (row) => String(row.keys) },
  { header: 'DIVERGENT', width: 9, priority: 2, align: 'right', cell: (row) => String(row.divergentKeys), tone: (row) => (row.divergentKeys > 0 ? 'warn' : null) },
]

function keyColumns(table: KeyTable): Column<KeyRow>[] {
  return [
    { header: 'KEY', width: 14, priority: 0, cell: (row) => row.key },
    { header: 'TYPE', width: 8, priority: 1, cell: (row) => row.type },
    { header: 'SYNC', width: 9, priority: 1, cell: (row) => (row.divergent ? 'divergent' : 'same'), tone: (row) => (row.divergent ? 'warn' : 'good') },
    ...table.nodes.map((node, index): Column<KeyRow> => ({
      header: node.up ? node.id : `${node.id}↓`,
      // As wide as the node's id (up to idColumnCharsMax), so `region-weur` and `region-wnam` read apart.
      width: Math.min(Math.max(digestChars, node.id.length + (node.up ? 0 : 1)), idColumnCharsMax),
      priority: 2 + index,
      cell: (row) => row.digests[index]?.slice(0, digestChars) ?? '·',
      tone: (row) => (!node.up ? 'dim' : row.divergent ? 'warn' : null),
    })),
  ]
}

export function State(props: { readonly model: ReturnType<typeof stateModel>; readonly cursor: number; readonly width: number; readonly height: number }): ReactElement {
  const { table } = props.model
  const namespaceHeight = Math.min(table.namespaces.length + 1, Math.max(2, Math.floor(props.height / 3)))
  const heading = props.model.notHeld ?? `${table.rows.length} keys on ${table.nodes.length} replicas, ${table.divergentKeys} divergent${table.truncated ? ' (some replicas list only their first keys)' : ''}`
  return h(
    Box,
    { flexDirection: 'column', width: props.width, height: props.height },
    h(Table<NamespaceRow>, { columns: namespaceColumns, rows: table.namespaces, cursor: -1, height: namespaceHeight, width: props.width, rowKey: (row) => row.namespace, emptyText: 'no namespaces' }),
    h(Text, { wrap: 'truncate' }, heading),
    h(Table<KeyRow>, {
      columns: keyColumns(table),
      rows: props.model.rows,
      cursor: props.cursor,
      height: Math.max(1, props.height - namespaceHeight - 1),
      width: props.width,
      rowKey: (row) => row.key,
      emptyText: table.nodes.length === 0 ? (props.model.notHeld ?? 'no store reported yet') : 'no keys',
    }),
  )
}
