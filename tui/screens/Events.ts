/**
 * Events: every node's events merged by time, newest at the bottom, followed
 * live until the cursor moves up or `p` pauses it; `/` filters by node,
 * engine, kind or text. Enter shows an event whole.
 */
import { Box, Text } from 'ink'
import { createElement as h, type ReactElement } from 'react'
import type { ClusterEvent } from '../data/clusterEvent.ts'
import { filterEvents } from '../data/views/events.ts'
import { formatSeconds, idColumnCharsMax } from '../components/format.ts'
import { Table, type Column } from '../components/Table.ts'
import type { Tone } from '../components/theme.ts'
import type { ScreenModel } from './screenModel.ts'

export function eventsModel(events: readonly ClusterEvent[], filter: string): ScreenModel<ClusterEvent> {
  return { rows: filterEvents(events, filter), selected: (event) => ({ event, ...(event.node === '-' ? {} : { node: event.node }) }) }
}

const sourceTone: Readonly<Record<string, Tone>> = { violation: 'bad', tui: 'info', sim: 'info', raft: 'accent', pbft: 'accent' }

/** Event times: seconds of virtual time in a simulation, the wall clock's time of day live. */
function timeCell(atMs: number, simulated: boolean): string {
  if (simulated) return formatSeconds(atMs)
  return new Date(atMs).toISOString().slice(11, 23)
}

export function Events(props: {
  readonly model: ScreenModel<ClusterEvent>
  readonly simulated: boolean
  readonly paused: boolean
  readonly dropped: number
  readonly cursor: number
  readonly width: number
  readonly height: number
}): ReactElement {
  const columns: Column<ClusterEvent>[] = [
    { header: 'TIME', width: props.simulated ? 8 : 12, priority: 1, align: 'right', cell: (event) => timeCell(event.atMs, props.simulated) },
    { header: 'NODE', width: 5, widthMax: idColumnCharsMax, priority: 0, cell: (event) => event.node },
    { header: 'SOURCE', width: 9, priority: 2, cell: (event) => event.source, tone: (event) => sourceTone[event.source] ?? null },
    { header: 'KIND', width: 11, priority: 1, cell: (event) => event.kind },
    { header: 'WHAT', width: 20, priority: 0, cell: (event) => event.text, flex: true },
  ]
  const state = `${props.model.rows.length} events${props.dropped > 0 ? ` (${props.dropped} older ones let go)` : ''} · ${props.paused ? 'paused (p to follow)' : props.cursor === -1 ? 'following' : 'scrolled (G to follow)'}`
  return h(
    Box,
    { flexDirection: 'column', width: props.width, height: props.height },
    h(Text, { wrap: 'truncate' }, state),
    h(Table<ClusterEvent>, { columns, rows: props.model.rows, cursor: props.cursor, height: props.height - 1, width: props.width, rowKey: (event, index) => `${event.node}/${event.seq ?? 'n'}/${index}`, emptyText: 'no events yet' }),
  )
}
