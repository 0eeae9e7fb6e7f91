/** Rendering the app in ink-testing-library (a 100-column fake terminal) and waiting for its frames. */
import { render } from 'ink-testing-library'
import { createElement as h } from 'react'
import { App, type AppModel, type SimControls } from '../../../tui/app/App.ts'
import type { ScreenName } from '../../../tui/app/screens.ts'
import type { ContextSwitch } from '../../../tui/data/contexts.ts'
import { ThemeContext } from '../../../tui/components/theme.ts'

/** Rows of the fake terminal (its width is ink-testing-library's 100 columns). */
export const testRows = 30

/** What the tests use of ink-testing-library's instance. */
export interface RenderedApp {
  readonly lastFrame: () => string | undefined
  readonly stdin: { write: (data: string) => void }
  readonly unmount: () => void
}

export function renderApp(
  model: AppModel,
  options: { sim?: SimControls | null; contexts?: ContextSwitch | null; readonly?: boolean; screen?: ScreenName; rows?: number; columns?: number; color?: boolean; onQuit?: () => void } = {},
): RenderedApp {
  const view = render(
    h(
      ThemeContext.Provider,
      { value: { color: options.color ?? false } },
      h(App, {
        model,
        sim: options.sim ?? null,
        contexts: options.contexts ?? null,
        readonly: options.readonly ?? false,
        initialScreen: options.screen,
        rows: options.rows ?? testRows,
        columns: options.columns ?? 100,
        onQuit: options.onQuit,
      }),
    ),
  )
  withRows(view.stdout, options.rows ?? testRows)
  return view
}

/**
 * ink-testing-library's stdout has columns but no rows; Ink then asks the real terminal's size on every frame
 * (it runs `tput`), which costs a process per frame. A fake terminal of fixed size answers itself.
 */
export function withRows(stdout: object, rows: number): void {
  Object.defineProperty(stdout, 'rows', { value: rows, configurable: true })
}

/** Lets React and Ink handle what is pending (input, state updates, renders). */
export async function settle(): Promise<void> {
  for (let round = 0; round < 5; round++) await new Promise((resolve) => setImmediate(resolve))
}

/** How long Ink holds a lone ESC before it decides it is the Escape key and not the start of a sequence (ink's App). */
const escapeFlushMs = 20

/** Types `keys` one by one, letting the app handle each. */
export async function press(stdin: { write: (data: string) => void }, ...keys: string[]): Promise<void> {
  for (const key of keys) {
    stdin.write(key)
    if (key === '\u001b') await new Promise((resolve) => setTimeout(resolve, escapeFlushMs * 2))
    await settle()
  }
}

export const keys = { up: '\u001b[A', down: '\u001b[B', enter: '\r', escape: '\u001b', backspace: '\u007f', pageDown: '\u001b[6~' } as const
