/** A row of block characters, one per value, scaled to the largest: trends at a glance. */
import { Text } from 'ink'
import { createElement as h, type ReactElement } from 'react'
import { useTone, type Tone } from './theme.ts'

const blocks = '▁▂▃▄▅▆▇█'

export function sparkline(values: readonly number[], width: number): string {
  const shown = values.slice(Math.max(0, values.length - width))
  const max = Math.max(0, ...shown)
  return shown.map((value) => (max <= 0 ? blocks[0]! : blocks[Math.min(blocks.length - 1, Math.floor((value / max) * (blocks.length - 1)))]!)).join('')
}

export function Sparkline(props: { readonly label: string; readonly values: readonly number[]; readonly width: number; readonly summary: string; readonly tone?: Tone }): ReactElement {
  const tone = useTone()
  const graphWidth = Math.max(0, props.width - props.label.length - props.summary.length - 2)
  return h(Text, { wrap: 'truncate' }, `${props.label} `, h(Text, { color: tone(props.tone ?? 'accent') }, sparkline(props.values, graphWidth).padEnd(graphWidth)), ` ${props.summary}`)
}
