/** The key bindings, as `?` shows them. */
import { Box, Text } from 'ink'
import { createElement as h, type ReactElement } from 'react'
import { screenNames } from '../app/screens.ts'

export const helpSections: readonly { readonly title: string; readonly keys: readonly (readonly [string, string])[] }[] = [
  {
    title: 'Views',
    keys: [
      [':NAME', `switch view: ${screenNames.join(', ')} (1-${screenNames.length} too)`],
      [':ctx NAME', 'switch to another cluster (contexts: the view lists them, Enter switches)'],
      ['/', 'filter the rows (Enter keeps it, Esc clears it)'],
      ['↑ ↓ j k', 'move; PgUp PgDn, g G: page, top, bottom'],
      ['Enter', 'detail of the selected row'],
      ['Esc', 'back'],
      ['f', 'look from the selected node (members, detail)'],
      ['s', 'members: next sort order'],
      ['p', 'events: pause or follow'],
      ['?', 'this help'],
      ['q', 'quit'],
    ],
  },
  {
    title: 'Faults (a simulation, or a --dev cluster; not with --readonly)',
    keys: [
      ['P', 'partition the selected node from the rest'],
      ['H', 'heal every partition and latency'],
      ['L', 'add 200 ms round trips to the selected node'],
      ['K / R', 'kill / restart the selected node (live: pause / resume)'],
    ],
  },
  {
    title: 'Simulation',
    keys: [
      ['space', 'play or pause'],
      ['.', 'step to the next event'],
      ['+ -', 'faster, slower (×0.1 … ×1000)'],
      ['[ ]', '5 s back (replayed from the seed), 5 s forward'],
      [':goto S', 'jump to virtual second S; :reset forgets injected faults'],
    ],
  },
]

export function Help(props: { readonly width: number; readonly height: number }): ReactElement {
  const lines: ReactElement[] = []
  for (const section of helpSections) {
    lines.push(h(Text, { key: section.title, bold: true, wrap: 'truncate' }, section.title))
    for (const [keys, what] of section.keys) lines.push(h(Text, { key: `${section.title}/${keys}`, wrap: 'truncate' }, `  ${keys.padEnd(10)} ${what}`))
  }
  return h(Box, { flexDirection: 'column', width: props.width, height: props.height }, ...lines.slice(0, props.height))
}
