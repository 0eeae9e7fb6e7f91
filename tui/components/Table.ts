/**
 * A table that renders only the rows that fit (Ink has no scrolling: a
 * thousand members cost the rows on screen, not a thousand), keeps the
 * selected row in view, and drops its least important columns when the
 * terminal is narrow.
 */
import { Box, Text } from 'ink'
import { createElement as h, type ReactElement } from 'react'
import { fit } from './format.ts'
import { useTone, type Tone } from './theme.ts'

export interface Column<R> {
  readonly header: string
  /** Columns this one takes at least; the last shown column takes what is left. */
  readonly width: number
  /** Lower shows first: columns drop from the highest priority number as the width shrinks. */
  readonly priority: number
  readonly align?: 'left' | 'right'
  readonly cell: (row: R) => string
  readonly tone?: (row: R) => Tone | null
  /** Takes the width left over (the first shown flex column); without one the rows end where the columns do. */
  readonly flex?: boolean
  /** Grows past `width` to its longest shown cell, up to this many characters (ids: `n1` fits 6, `region-weur` does not). */
  readonly widthMax?: number
}

/** The columns with a `widthMax` widened to their longest cell among `rows` (the rows on screen). */
export function grownColumns<R>(columns: readonly Column<R>[], rows: readonly R[]): Column<R>[] {
  return columns.map((column) => {
    if (column.widthMax === undefined) return column
    let longest = column.width
    for (const row of rows) longest = Math.max(longest, column.cell(row).length)
    return longest === column.width ? column : { ...column, width: Math.min(longest, column.widthMax) }
  })
}

export interface TableProps<R> {
  readonly columns: readonly Column<R>[]
  readonly rows: readonly R[]
  /** Index of the selected row, or -1 for none. */
  readonly cursor: number
  /** Lines the table may take, header included. */
  readonly height: number
  readonly width: number
  readonly emptyText?: string
  readonly rowKey: (row: R, index: number) => string
}

/** The columns that fit `width` (one space between columns), in their order. */
export function fitColumns<R>(columns: readonly Column<R>[], width: number): Column<R>[] {
  const byPriority = [...columns].sort((a, b) => a.priority - b.priority)
  const kept = new Set<Column<R>>()
  let used = 0
  for (const column of byPriority) {
    const cost = column.width + (kept.size === 0 ? 0 : 1)
    if (used + cost > width && kept.size > 0) continue
    kept.add(column)
    used += cost
  }
  return columns.filter((column) => kept.has(column))
}

/** The first row to show so that `cursor` stays in view, centred when it can be. */
export function windowStart(rowCount: number, cursor: number, visible: number): number {
  if (rowCount <= visible || cursor < 0) return cursor < 0 && rowCount > visible ? rowCount - visible : 0
  return Math.max(0, Math.min(cursor - Math.floor(visible / 2), rowCount - visible))
}

export function Table<R>(props: TableProps<R>): ReactElement {
  const tone = useTone()
  const visible = Math.max(0, props.height - 1)
  const start = windowStart(props.rows.length, props.cursor, visible)
  const shown = props.rows.slice(start, start + visible)
  const columns = fitColumns(grownColumns(props.columns, shown), props.width)
  const widths = columns.map((column) => column.width)
  const used = widths.reduce((sum, width) => sum + width, 0) + Math.max(0, columns.length - 1)
  const flexAt = columns.findIndex((column) => column.flex === true)
  if (flexAt !== -1) widths[flexAt]! += Math.max(0, props.width - used)
  const header = columns.map((column, index) => fit(column.header, widths[index]!, column.align)).join(' ')
  const lines: ReactElement[] = [h(Text, { key: 'header', bold: true, wrap: 'truncate' }, header)]
  if (props.rows.length === 0 && props.emptyText !== undefined && visible > 0) lines.push(h(Text, { key: 'empty', color: tone('dim'), wrap: 'truncate' }, props.emptyText))
  shown.forEach((row, offset) => {
    const index = start + offset
    // Neighbouring cells of one color go in one piece of text: fewer nodes for Ink to lay out and tokenize.
    const segments: ReactElement[] = []
    let text = ''
    let color: string | undefined
    columns.forEach((column, at) => {
      const cellColor = tone(column.tone?.(row))
      const cell = `${at === 0 ? '' : ' '}${fit(column.cell(row), widths[at]!, column.align)}`
      if (at > 0 && cellColor !== color) {
        segments.push(h(Text, { key: segments.length, color }, text))
        text = ''
      }
      color = cellColor
      text += cell
    })
    segments.push(h(Text, { key: segments.length, color }, text))
    lines.push(h(Text, { key: props.rowKey(row, index), inverse: index === props.cursor, wrap: 'truncate' }, ...segments))
  })
  return h(Box, { flexDirection: 'column', height: props.height, width: props.width }, ...lines)
}
