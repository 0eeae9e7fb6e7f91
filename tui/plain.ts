/**
 * Without a terminal (output piped, CI): one plain-text snapshot — the status,
 * every node, the focused node's members and the newest events — with no
 * colors and no cursor, rendered by the same views as the live screens.
 */
import { Box, renderToString, Text } from 'ink'
import { createElement as h, type ReactElement } from 'react'
import type { ClusterSnapshot } from './data/clusterModel.ts'
import { StatusBar } from './components/StatusBar.ts'
import { ThemeContext } from './components/theme.ts'
import { Events, eventsModel } from './screens/Events.ts'
import { Members, membersModel } from './screens/Members.ts'
import { Overview, overviewModel } from './screens/Overview.ts'

export const plainLimits = {
  /** Newest events printed. */
  eventsShown: 15,
  /** Members printed (a large membership prints its first ones). */
  membersShown: 200,
} as const

function PlainSnapshot(props: { readonly snapshot: ClusterSnapshot; readonly width: number; readonly nowMs: number }): ReactElement {
  const { snapshot, width } = props
  const overview = overviewModel(snapshot, '')
  const members = membersModel(snapshot, '', 'id')
  const events = eventsModel(snapshot.events.slice(-plainLimits.eventsShown), '')
  const memberRows = Math.min(members.rows.length, plainLimits.membersShown)
  return h(
    Box,
    { flexDirection: 'column', width },
    h(StatusBar, { snapshot, nowMs: props.nowMs, width, readonly: false }),
    h(Text, null, ''),
    h(Overview, { model: overview, cursor: -2, width, height: overview.rows.length + 2 }),
    h(Text, null, ''),
    h(Members, { snapshot, model: members, sort: 'id', cursor: -2, width, height: memberRows + 2 }),
    h(Text, null, ''),
    h(Events, { model: events, simulated: snapshot.sim !== null, paused: false, dropped: snapshot.eventsDropped, cursor: -1, width, height: events.rows.length + 2 }),
  )
}

export function plainSnapshot(snapshot: ClusterSnapshot, width: number, nowMs: number): string {
  return renderToString(h(ThemeContext.Provider, { value: { color: false } }, h(PlainSnapshot, { snapshot, width, nowMs })), { columns: width })
}
