/**
 * Colors by meaning, or none at all: NO_COLOR (no-color.org) and --no-color
 * turn every color off; emphasis that is not color (inverse for the
 * selected row, bold headers) stays, so the screen still reads.
 */
import { createContext, useContext } from 'react'

export interface Theme {
  readonly color: boolean
}

export const ThemeContext = createContext<Theme>({ color: true })

export type Tone = 'good' | 'warn' | 'bad' | 'dim' | 'accent' | 'info'

const tones: Readonly<Record<Tone, string>> = { good: 'green', warn: 'yellow', bad: 'red', dim: 'gray', accent: 'cyan', info: 'blue' }

/** The Ink color of `tone`, or undefined when colors are off. */
export function useTone(): (tone: Tone | null | undefined) => string | undefined {
  const { color } = useContext(ThemeContext)
  return (tone) => (color && tone != null ? tones[tone] : undefined)
}

/** Whether colors are off by the environment: NO_COLOR set to anything but the empty string. */
export function noColorFromEnv(env: Readonly<Record<string, string | undefined>>): boolean {
  return env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== ''
}
