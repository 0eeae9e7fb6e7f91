/**
 * Consensus: Raft on each replica (role, term, leader, last, commit and
 * applied index, in flight, lag) and PBFT on each replica of its group
 * (view, primary, phase, sequence and executed, its batches by phase, the
 * stable checkpoint with its signers and those gathering votes, pending
 * requests, the lowest reputation it holds, evidence).
 */
import { Box } from 'ink'
import { createElement as h, type ReactElement } from 'react'
import type { ClusterSnapshot } from '../data/clusterModel.ts'
import { pbftRows, raftRows, type PbftRow, type RaftRow } from '../data/views/consensus.ts'
import { notHeldText } from '../data/views/coverage.ts'
import { dash, idColumnCharsMax } from '../components/format.ts'
import { Table, type Column } from '../components/Table.ts'
import { filterRows, type ScreenModel } from './screenModel.ts'

export function consensusModel(snapshot: ClusterSnapshot, filter: string): ScreenModel<RaftRow> & { readonly pbft: readonly PbftRow[]; readonly notHeld: string | null } {
  const raft = raftRows(snapshot.nodes)
  return {
    notHeld: raft.length === 0 ? notHeldText(snapshot.nodes, 'consensus') : null,
    rows: filterRows(raft, filter, (row) => [row.id, row.role]),
    selected: (row) => ({ node: row.id }),
    pbft: filterRows(pbftRows(snapshot.nodes, snapshot.events), filter, (row) => [row.id, row.phase]),
  }
}

const raftColumns: readonly Column<RaftRow>[] = [
  { header: 'RAFT', width: 6, widthMax: idColumnCharsMax, priority: 0, cell: (row) => `${row.id}${row.up ? '' : '↓'}`, tone: (row) => (row.up ? null : 'dim') },
  { header: 'ROLE', width: 12, priority: 0, cell: (row) => row.role, tone: (row) => (row.role === 'leader' ? 'accent' : row.role.endsWith('andidate') ? 'warn' : null) },
  { header: 'TERM', width: 4, priority: 1, align: 'right', cell: (row) => String(row.term) },
  { header: 'LEADER', width: 6, widthMax: idColumnCharsMax, priority: 1, cell: (row) => dash(row.leader) },
  { header: 'LAST', width: 6, priority: 2, align: 'right', cell: (row) => String(row.lastIndex) },
  { header: 'COMMIT', width: 6, priority: 1, align: 'right', cell: (row) => String(row.commit) },
  { header: 'APPLIED', width: 7, priority: 2, align: 'right', cell: (row) => String(row.applied) },
  { header: 'INFLIGHT', width: 8, priority: 3, align: 'right', cell: (row) => dash(row.inFlight) },
  { header: 'LAG', width: 5, priority: 2, align: 'right', cell: (row) => String(row.lag), tone: (row) => (row.lag > 0 ? 'warn' : null) },
  { header: 'FOLLOWERS (match)', width: 18, priority: 4, cell: (row) => row.followers.map((follower) => `${follower.id}:${follower.match}`).join(' ') || '-' },
]

const pbftColumns: readonly Column<PbftRow>[] = [
  { header: 'PBFT', width: 6, widthMax: idColumnCharsMax, priority: 0, cell: (row) => `${row.id}${row.up ? '' : '↓'}`, tone: (row) => (row.up ? null : 'dim') },
  { header: 'VIEW', width: 4, priority: 0, align: 'right', cell: (row) => String(row.view) },
  { header: 'PRIMARY', width: 7, widthMax: idColumnCharsMax, priority: 1, cell: (row) => row.primary },
  { header: 'PHASE', width: 10, priority: 1, cell: (row) => row.phase, tone: (row) => (row.phase === 'normal' ? null : 'warn') },
  { header: 'SEQ', width: 5, priority: 2, align: 'right', cell: (row) => String(row.sequence) },
  { header: 'EXECUTED', width: 8, priority: 1, align: 'right', cell: (row) => String(row.executed) },
  { header: 'BATCHES dec/prep/pp/wait', width: 24, priority: 3, cell: (row) => `${row.batches.decided}/${row.batches.prepared}/${row.batches.prePrepared}/${row.batches.waiting}` },
  { header: 'CHECKPOINT', width: 12, priority: 2, cell: (row) => `${row.checkpoint} (${row.checkpointSigners})${row.checkpointsPending > 0 ? ` +${row.checkpointsPending}` : ''}` },
  { header: 'PENDING', width: 7, priority: 4, align: 'right', cell: (row) => String(row.pendingRequests) },
  {
    header: 'MIN REPUTATION',
    width: 14,
    priority: 4,
    cell: (row) => (row.reputationMin === null ? '-' : `${row.reputationMin.id}:${row.reputationMin.value.toFixed(2)}`),
    tone: (row) => (row.reputationMin !== null && row.reputationMin.value < 1 ? 'warn' : null),
  },
  { header: 'EVIDENCE', width: 8, priority: 3, align: 'right', cell: (row) => String(row.evidence), tone: (row) => (row.evidence > 0 ? 'bad' : null) },
]

export function Consensus(props: { readonly model: ReturnType<typeof consensusModel>; readonly cursor: number; readonly width: number; readonly height: number }): ReactElement {
  const pbftHeight = props.model.pbft.length === 0 ? 2 : Math.min(props.model.pbft.length + 1, Math.floor(props.height / 2))
  return h(
    Box,
    { flexDirection: 'column', width: props.width, height: props.height },
    h(Table<RaftRow>, { columns: raftColumns, rows: props.model.rows, cursor: props.cursor, height: props.height - pbftHeight, width: props.width, rowKey: (row) => row.id, emptyText: props.model.notHeld ?? 'no Raft group here' }),
    h(Table<PbftRow>, { columns: pbftColumns, rows: props.model.pbft, cursor: -1, height: pbftHeight, width: props.width, rowKey: (row) => row.id, emptyText: 'no PBFT group here' }),
  )
}
