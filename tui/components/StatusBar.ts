/**
 * The line under the header: how each source stands. Live: how many nodes are
 * connected, and every one that is not (connecting, or lost with the reason
 * and when the next attempt is). A simulation: play state, virtual time, the
 * speed asked for and achieved, the verdict, and a timeline with the
 * violations (✗) and the faults injected by hand (!) where they happen.
 */
import { Box, Text } from 'ink'
import { createElement as h, type ReactElement } from 'react'
import type { ClusterSnapshot } from '../data/clusterModel.ts'
import type { SimStatus, SourceState } from '../data/sourceState.ts'
import { formatSeconds, formatSpeed } from './format.ts'
import { useTone } from './theme.ts'

export interface StatusBarProps {
  readonly snapshot: ClusterSnapshot
  /** Wall clock now, for "retry in …". */
  readonly nowMs: number
  readonly width: number
  readonly readonly: boolean
}

export function connectionSummary(sources: readonly SourceState[], nowMs: number): { readonly text: string; readonly healthy: boolean } {
  const live = sources.filter((source) => source.connection.kind === 'live').length
  const problems = sources.flatMap((source) => {
    const connection = source.connection
    const name = source.nodes[0]?.id ?? source.label
    if (connection.kind === 'connecting') return [`${name} connecting${connection.attempt > 0 ? ` (attempt ${connection.attempt + 1})` : ''}`]
    if (connection.kind === 'disconnected') return [`${name} disconnected: ${connection.reason}; retry in ${Math.max(0, (connection.retryAtMs - nowMs) / 1000).toFixed(1)}s`]
    if (connection.kind === 'closed') return [`${name} closed`]
    return []
  })
  return { text: [`live ${live}/${sources.length}`, ...problems].join(' · '), healthy: problems.length === 0 }
}

/** A bar of `width` cells over the run: done, to go, ✗ at violations, ! at injected faults. */
export function timeline(sim: SimStatus, width: number): string {
  if (sim.endUs === null || width < 3) return ''
  const cells: string[] = Array.from({ length: width }, (_, index) => (((index + 0.5) / width) * sim.endUs! <= sim.nowUs ? '━' : '─'))
  const at = (us: number) => Math.min(width - 1, Math.max(0, Math.floor((us / sim.endUs!) * width)))
  for (const fault of sim.faults) cells[at(fault.atUs)] = '!'
  for (const violation of sim.violations) if (violation.atMs >= 0) cells[at(violation.atMs * 1000)] = '✗'
  return cells.join('')
}

function simLine(sim: SimStatus): string {
  const state = sim.stopped !== null ? '■ stopped' : sim.seekingToUs !== null ? `» seeking ${formatSeconds(sim.seekingToUs / 1000)}` : sim.playing ? '▶' : '❚❚ paused'
  const time = sim.endUs === null ? formatSeconds(sim.nowUs / 1000) : `${formatSeconds(sim.nowUs / 1000)}/${formatSeconds(sim.endUs / 1000)}`
  const achieved = sim.playing && sim.achievedSpeed > 0 && sim.achievedSpeed < sim.speed * 0.9 ? ` (${formatSpeed(sim.achievedSpeed)} achieved)` : ''
  const verdict = sim.verdict === null ? '' : sim.verdict === 'ok' ? ' · verdict ok' : ` · ${sim.violations.length} violation${sim.violations.length === 1 ? '' : 's'} (${sim.verdict})`
  return `${state} ${time} ${formatSpeed(sim.speed)}${achieved} · ${sim.scenario} seed ${sim.seed}, ${sim.nodes} nodes${verdict}`
}

export function StatusBar(props: StatusBarProps): ReactElement {
  const tone = useTone()
  const { snapshot } = props
  const readonlyMark = props.readonly ? ' · readonly' : ''
  if (snapshot.sim !== null) {
    const sim = snapshot.sim
    const text = `${simLine(sim)}${readonlyMark}`
    const barWidth = Math.min(60, props.width - 2)
    const bad = sim.violations.length > 0 || sim.stopped !== null
    return h(
      Box,
      { flexDirection: 'column' },
      h(Text, { wrap: 'truncate', color: tone(bad ? 'bad' : sim.verdict === 'ok' ? 'good' : null) }, text),
      sim.endUs !== null && barWidth >= 10 ? h(Text, { wrap: 'truncate', color: tone(bad ? 'bad' : 'dim') }, ` ${timeline(sim, barWidth)}`) : null,
    )
  }
  const summary = connectionSummary(snapshot.sources, props.nowMs)
  return h(Text, { wrap: 'truncate', color: tone(summary.healthy ? 'good' : 'warn') }, `${summary.text}${readonlyMark}`)
}
