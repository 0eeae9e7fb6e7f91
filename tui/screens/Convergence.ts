/**
 * Convergence: how far each replica's store is from the freshest one (keys
 * that differ), with its anti-entropy traffic; under it, the cluster's
 * divergent keys over time, the anti-entropy bytes per sample, and how long
 * each spell of divergence took to converge.
 */
import { Box } from 'ink'
import { createElement as h, type ReactElement } from 'react'
import type { ClusterSnapshot } from '../data/clusterModel.ts'
import { convergenceRows, type ConvergenceRow } from '../data/views/convergence.ts'
import { notHeldText } from '../data/views/coverage.ts'
import { formatBytes, formatMs, idColumnCharsMax } from '../components/format.ts'
import { Sparkline } from '../components/Sparkline.ts'
import { Table, type Column } from '../components/Table.ts'
import { filterRows, type ScreenModel } from './screenModel.ts'

export function convergenceModel(snapshot: ClusterSnapshot, filter: string): ScreenModel<ConvergenceRow> & { readonly notHeld: string | null } {
  const rows = convergenceRows(snapshot.nodes)
  return { rows: filterRows(rows, filter, (row) => [row.id]), selected: (row) => ({ node: row.id }), notHeld: rows.length === 0 ? notHeldText(snapshot.nodes, 'store') : null }
}

const columns: readonly Column<ConvergenceRow>[] = [
  { header: 'NODE', width: 6, widthMax: idColumnCharsMax, priority: 0, cell: (row) => `${row.id}${row.up ? '' : '↓'}`, tone: (row) => (row.up ? null : 'dim') },
  { header: 'KEYS', width: 5, priority: 1, align: 'right', cell: (row) => String(row.keys) },
  { header: 'DIVERGENT', width: 9, priority: 0, align: 'right', cell: (row) => (row.freshest ? 'freshest' : String(row.divergentKeys)), tone: (row) => (row.freshest ? 'good' : row.divergentKeys > 0 ? 'warn' : 'good') },
  { header: 'STORE', width: 8, priority: 2, cell: (row) => row.storeDigest.slice(0, 8) },
  { header: 'DELTAS', width: 7, priority: 3, align: 'right', cell: (row) => formatBytes(row.deltaBytes) },
  { header: 'DIGESTS', width: 7, priority: 3, align: 'right', cell: (row) => formatBytes(row.digestBytes) },
  { header: 'STATES', width: 7, priority: 4, align: 'right', cell: (row) => formatBytes(row.stateBytes) },
  { header: 'JOINED', width: 7, priority: 4, align: 'right', cell: (row) => String(row.entriesJoined) },
]

function median(values: readonly number[]): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor((sorted.length - 1) / 2)]!
}

export function Convergence(props: { readonly snapshot: ClusterSnapshot; readonly model: ReturnType<typeof convergenceModel>; readonly cursor: number; readonly width: number; readonly height: number }): ReactElement {
  const { history } = props.snapshot
  const divergent = history.samples.map((sample) => sample.divergentKeys)
  const traffic = history.samples.map((sample) => sample.antiEntropyBytes)
  const lastDivergent = divergent[divergent.length - 1] ?? 0
  const since = history.divergentSinceMs === null ? 'converged' : `diverging for ${formatMs(props.snapshot.atMs - history.divergentSinceMs)}`
  const converge = history.convergeMs
  const convergeSummary = converge.length === 0 ? 'none yet' : `last ${formatMs(converge[converge.length - 1]!)}, median ${formatMs(median(converge))}, max ${formatMs(Math.max(...converge))}`
  const graphs = 3
  return h(
    Box,
    { flexDirection: 'column', width: props.width, height: props.height },
    h(Table<ConvergenceRow>, { columns, rows: props.model.rows, cursor: props.cursor, height: Math.max(2, props.height - graphs), width: props.width, rowKey: (row) => row.id, emptyText: props.model.notHeld ?? 'no store reported yet' }),
    h(Sparkline, { label: 'divergent keys  ', values: divergent, width: props.width, summary: `${lastDivergent} (${since})`, tone: lastDivergent > 0 ? 'warn' : 'good' }),
    h(Sparkline, { label: 'anti-entropy    ', values: traffic, width: props.width, summary: `${formatBytes(traffic[traffic.length - 1] ?? 0)}/s` }),
    h(Sparkline, { label: 'time to converge', values: converge, width: props.width, summary: convergeSummary }),
  )
}
