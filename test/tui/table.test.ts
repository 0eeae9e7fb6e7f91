/** The Table component's id columns: they grow to the longest id on screen, up to a limit, and keep short ids narrow. */
import { cleanup, render } from 'ink-testing-library'
import { createElement as h } from 'react'
import { afterEach, describe, expect, it } from 'vitest'
import { idColumnCharsMax } from '../../tui/components/format.ts'
import { grownColumns, Table, type Column } from '../../tui/components/Table.ts'

afterEach(() => cleanup())

interface Row {
  readonly id: string
  readonly role: string
}

const columns: readonly Column<Row>[] = [
  { header: 'NODE', width: 6, widthMax: idColumnCharsMax, priority: 0, cell: (row) => row.id },
  { header: 'ROLE', width: 8, priority: 1, cell: (row) => row.role },
]

describe('Table id columns', () => {
  it('grow to the longest id shown, never past widthMax, and stay at their width for short ids', () => {
    expect(grownColumns(columns, [{ id: 'n1', role: 'leader' }]).map((column) => column.width)).toEqual([6, 8])
    expect(
      grownColumns(columns, [
        { id: 'n1', role: 'leader' },
        { id: 'region-weur', role: 'follower' },
      ]).map((column) => column.width),
    ).toEqual([11, 8])
    expect(grownColumns(columns, [{ id: 'x'.repeat(40), role: 'leader' }])[0]!.width).toBe(idColumnCharsMax)
  })

  it('renders region ids whole, so regions sharing a prefix read apart', () => {
    const rows = ['region-weur', 'region-wnam'].map((id) => ({ id, role: 'follower' }))
    const { lastFrame } = render(h(Table<Row>, { columns, rows, cursor: -1, height: 3, width: 40, rowKey: (row) => row.id }))
    expect(
      lastFrame()!
        .split('\n')
        .map((line) => line.trimEnd()),
    ).toEqual(['NODE        ROLE', 'region-weur follower', 'region-wnam follower'])
  })
})
