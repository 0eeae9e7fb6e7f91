/** What each view gives the app besides rendering: its rows (filtered, sorted) and what a row selects. */
import type { KeyContext } from '../app/uiState.ts'

export interface ScreenModel<R> {
  readonly rows: readonly R[]
  readonly selected: (row: R) => NonNullable<KeyContext['selected']>
}

/** Rows any of whose `fields` contain `filter`, case-insensitively. */
export function filterRows<R>(rows: readonly R[], filter: string, fields: (row: R) => readonly (string | null)[]): readonly R[] {
  const needle = filter.toLowerCase()
  if (needle === '') return rows
  return rows.filter((row) => fields(row).some((field) => field !== null && field.toLowerCase().includes(needle)))
}
