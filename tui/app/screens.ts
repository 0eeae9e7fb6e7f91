/** The views and the names `:` accepts for each (k9s style: a word or its start). */
export const screenNames = ['overview', 'members', 'state', 'convergence', 'consensus', 'events', 'contexts'] as const
export type ScreenName = (typeof screenNames)[number]

export const screenTitles: Readonly<Record<ScreenName, string>> = {
  overview: 'Overview',
  members: 'Members',
  state: 'State',
  convergence: 'Convergence',
  consensus: 'Consensus',
  events: 'Events',
  contexts: 'Contexts',
}

const aliases: Readonly<Record<string, ScreenName>> = {
  nodes: 'overview',
  keys: 'state',
  kv: 'state',
  raft: 'consensus',
  pbft: 'consensus',
  log: 'events',
  ctx: 'contexts',
  context: 'contexts',
  clusters: 'contexts',
}

/** The view `word` names: an alias, or the start of exactly one view's name. */
export function screenNamed(word: string): ScreenName | null {
  const lower = word.toLowerCase()
  if (lower === '') return null
  if (aliases[lower] !== undefined) return aliases[lower]
  const matches = screenNames.filter((name) => name.startsWith(lower))
  if (matches.length === 1) return matches[0]!
  // "con" is both convergence and consensus: ambiguous unless exact.
  return matches.find((name) => name === lower) ?? null
}
