/**
 * The UI's own state (which view, which row, what is typed) and what a key
 * does to it: a pure function of the state, the key and what is on screen,
 * returning the new state and the effects for the app to carry out (quit,
 * inject a fault, drive the simulation, look from another node). Kept apart
 * from rendering so every binding is tested without a terminal.
 */
import type { ClusterEvent } from '../data/clusterEvent.ts'
import type { FaultRequest } from '../data/clusterSource.ts'
import { memberSortKeys, type MemberSortKey } from '../data/views/members.ts'
import { screenNamed, screenNames, type ScreenName } from './screens.ts'

export type Detail = { readonly kind: 'node'; readonly id: string } | { readonly kind: 'member'; readonly id: string } | { readonly kind: 'key'; readonly key: string } | { readonly kind: 'event'; readonly event: ClusterEvent }

export interface UiState {
  readonly screen: ScreenName
  readonly mode: 'normal' | 'command' | 'filter' | 'help'
  /** What is being typed after `:` or `/`. */
  readonly input: string
  readonly filters: Readonly<Record<ScreenName, string>>
  /** The selected row of each view; -1: none (Events: follow the newest). */
  readonly cursors: Readonly<Record<ScreenName, number>>
  readonly detail: Detail | null
  readonly memberSort: MemberSortKey
  readonly eventsPaused: boolean
  readonly message: { readonly text: string; readonly bad: boolean } | null
}

export type SimAction =
  | { readonly kind: 'toggle' }
  | { readonly kind: 'play' }
  | { readonly kind: 'pause' }
  | { readonly kind: 'step' }
  | { readonly kind: 'speed'; readonly direction: 1 | -1 }
  | { readonly kind: 'setSpeed'; readonly speed: number }
  | { readonly kind: 'seekBy'; readonly deltaUs: number }
  | { readonly kind: 'seek'; readonly us: number }
  | { readonly kind: 'reset' }

export type Effect =
  | { readonly kind: 'quit' }
  | { readonly kind: 'context'; readonly name: string }
  | { readonly kind: 'fault'; readonly fault: FaultRequest }
  | { readonly kind: 'sim'; readonly action: SimAction }
  | { readonly kind: 'focus'; readonly node: string }

/** What is on screen when the key comes: the app computes it for every frame. */
export interface KeyContext {
  /** Rows of the current view's table (after its filter). */
  readonly rowCount: number
  /** Rows a page moves. */
  readonly pageRows: number
  /** The selected row's node (a node row, a member), key or event. */
  readonly selected: { readonly node?: string; readonly key?: string; readonly event?: ClusterEvent; readonly context?: string } | null
  readonly sim: boolean
  /** Whether faults can be injected here (a simulation or a --dev fault switch). */
  readonly faults: boolean
  readonly readonly: boolean
}

/** The key as Ink reports it (the fields used here). */
export interface KeyInput {
  readonly upArrow?: boolean
  readonly downArrow?: boolean
  readonly pageUp?: boolean
  readonly pageDown?: boolean
  readonly home?: boolean
  readonly end?: boolean
  readonly return?: boolean
  readonly escape?: boolean
  readonly backspace?: boolean
  readonly delete?: boolean
  readonly ctrl?: boolean
  readonly meta?: boolean
  readonly tab?: boolean
}

/** Round trip added by the latency hotkey. */
export const latencyHotkeyRttMs = 200
/** Virtual time `[` and `]` move. */
export const seekStepUs = 5_000_000

const perScreen = <T>(value: T): Record<ScreenName, T> => Object.fromEntries(screenNames.map((name) => [name, value])) as Record<ScreenName, T>

export function initialUiState(screen: ScreenName = 'overview'): UiState {
  return { screen, mode: 'normal', input: '', filters: perScreen(''), cursors: { ...perScreen(0), events: -1 }, detail: null, memberSort: 'id', eventsPaused: false, message: null }
}

/**
 * Keys that arrive in one chunk (typed fast, sent by tmux, pasted) one by one, so that `:cons⏎` is a
 * command and `jjk` moves three times, as if typed slowly.
 */
export function splitKeys(input: string, key: KeyInput): [string, KeyInput][] {
  if (input.length <= 1 || key.ctrl || key.meta) return [[input, key]]
  return [...input].map((char): [string, KeyInput] => {
    if (char === '\r' || char === '\n') return ['', { return: true }]
    if (char === '\u007f' || char === '\b') return ['', { backspace: true }]
    if (char === '\t') return ['', { tab: true }]
    if (char === '\u001b') return ['', { escape: true }]
    return [char, {}]
  })
}

type Result = { readonly state: UiState; readonly effects: readonly Effect[] }

const none = (state: UiState): Result => ({ state, effects: [] })
const say = (state: UiState, text: string, bad = false): Result => none({ ...state, message: { text, bad } })

export function reduceKey(state: UiState, input: string, key: KeyInput, context: KeyContext): Result {
  switch (state.mode) {
    case 'help':
      return none({ ...state, mode: 'normal' })
    case 'command':
    case 'filter':
      return typing(state, input, key, context)
    case 'normal':
      return normal({ ...state, message: null }, input, key, context)
  }
}

function typing(state: UiState, input: string, key: KeyInput, context: KeyContext): Result {
  const filtering = state.mode === 'filter'
  if (key.escape) {
    const cleared = filtering ? withFilter(state, '') : state
    return none({ ...cleared, mode: 'normal', input: '' })
  }
  if (key.return) {
    if (filtering) return none({ ...state, mode: 'normal', input: '' })
    return runCommand({ ...state, mode: 'normal', input: '' }, state.input.trim(), context)
  }
  let text = state.input
  if (key.backspace || key.delete) text = text.slice(0, -1)
  else if (!key.ctrl && !key.meta && input.length > 0 && !/[\u0000-\u001f]/.test(input)) text += input
  else return none(state)
  const next = { ...state, input: text }
  return none(filtering ? withFilter(next, text) : next)
}

function withFilter(state: UiState, filter: string): UiState {
  return { ...state, filters: { ...state.filters, [state.screen]: filter }, cursors: { ...state.cursors, [state.screen]: state.screen === 'events' ? -1 : 0 } }
}

function moveCursor(state: UiState, context: KeyContext, to: (cursor: number) => number): UiState {
  const count = context.rowCount
  if (count === 0) return state
  const current = state.cursors[state.screen]
  // Events follow the newest (-1) until the cursor moves; moving past the end follows again.
  const from = current === -1 ? count - 1 : current
  let next = Math.max(0, Math.min(count - 1, to(from)))
  if (state.screen !== 'events') return { ...state, cursors: { ...state.cursors, [state.screen]: next } }
  // Scrolling the log holds it still (new events would shift the rows under the cursor); past the end it follows again.
  if (to(from) >= count) next = -1
  return { ...state, cursors: { ...state.cursors, events: next }, eventsPaused: next !== -1 }
}

function showScreen(state: UiState, screen: ScreenName): UiState {
  return { ...state, screen, detail: null }
}

function normal(state: UiState, input: string, key: KeyInput, context: KeyContext): Result {
  if (key.escape) {
    if (state.detail !== null) return none({ ...state, detail: null })
    if (state.filters[state.screen] !== '') return none(withFilter(state, ''))
    return none(state)
  }
  if (key.upArrow || input === 'k') return none(moveCursor(state, context, (cursor) => cursor - 1))
  if (key.downArrow || input === 'j') return none(moveCursor(state, context, (cursor) => cursor + 1))
  if (key.pageUp || (key.ctrl && input === 'b')) return none(moveCursor(state, context, (cursor) => cursor - context.pageRows))
  if (key.pageDown || (key.ctrl && input === 'f')) return none(moveCursor(state, context, (cursor) => cursor + context.pageRows))
  if (key.home || input === 'g') return none(moveCursor(state, context, () => 0))
  if (key.end || input === 'G') return none(moveCursor(state, context, () => (state.screen === 'events' ? Infinity : context.rowCount - 1)))
  if (key.return) return enter(state, context)
  if (key.tab) return none(showScreen(state, screenNames[(screenNames.indexOf(state.screen) + 1) % screenNames.length]!))
  if (key.ctrl || key.meta) return none(state)
  switch (input) {
    case 'q':
      return { state, effects: [{ kind: 'quit' }] }
    case '?':
      return none({ ...state, mode: 'help' })
    case ':':
      return none({ ...state, mode: 'command', input: '' })
    case '/':
      return none({ ...state, mode: 'filter', input: state.filters[state.screen] })
    case 'f':
      return context.selected?.node === undefined ? say(state, 'select a node first') : { state: say(state, `looking from ${context.selected.node}`).state, effects: [{ kind: 'focus', node: context.selected.node }] }
    case 's':
      if (state.screen !== 'members') return none(state)
      return none({ ...state, memberSort: memberSortKeys[(memberSortKeys.indexOf(state.memberSort) + 1) % memberSortKeys.length]! })
    case 'p':
      if (state.screen !== 'events') return none(state)
      return state.eventsPaused ? say({ ...state, eventsPaused: false, cursors: { ...state.cursors, events: -1 } }, 'events: following') : say({ ...state, eventsPaused: true }, 'events: paused')
    case 'P':
    case 'L':
    case 'K':
    case 'R':
    case 'H':
      return faultKey(state, input, context)
  }
  const digit = Number.parseInt(input, 10)
  if (input.length === 1 && digit >= 1 && digit <= screenNames.length) return none(showScreen(state, screenNames[digit - 1]!))
  if (context.sim) {
    const action = simKey(input)
    if (action !== null) return { state, effects: [{ kind: 'sim', action }] }
  }
  return none(state)
}

function simKey(input: string): SimAction | null {
  switch (input) {
    case ' ':
      return { kind: 'toggle' }
    case '.':
      return { kind: 'step' }
    case '+':
    case '=':
      return { kind: 'speed', direction: 1 }
    case '-':
      return { kind: 'speed', direction: -1 }
    case '[':
      return { kind: 'seekBy', deltaUs: -seekStepUs }
    case ']':
      return { kind: 'seekBy', deltaUs: seekStepUs }
    default:
      return null
  }
}

function enter(state: UiState, context: KeyContext): Result {
  const selected = context.selected
  if (selected === null || state.detail !== null) return none(state)
  if (selected.context !== undefined) return { state: showScreen(state, 'overview'), effects: [{ kind: 'context', name: selected.context }] }
  if (selected.event !== undefined) return none({ ...state, detail: { kind: 'event', event: selected.event } })
  if (selected.key !== undefined) return none({ ...state, detail: { kind: 'key', key: selected.key } })
  if (selected.node === undefined) return none(state)
  if (state.screen === 'members') return none({ ...state, detail: { kind: 'member', id: selected.node } })
  return { state: { ...state, detail: { kind: 'node', id: selected.node } }, effects: [{ kind: 'focus', node: selected.node }] }
}

function faultAllowed(state: UiState, context: KeyContext): Result | null {
  if (context.readonly) return say(state, 'readonly: faults are off', true)
  if (!context.faults) return say(state, 'no fault switch: faults need a simulation or a cluster started with --dev', true)
  return null
}

function faultKey(state: UiState, input: string, context: KeyContext): Result {
  const refused = faultAllowed(state, context)
  if (refused !== null) return refused
  if (input === 'H') return { state, effects: [{ kind: 'fault', fault: { kind: 'heal' } }] }
  const node = context.selected?.node
  if (node === undefined) return say(state, 'select a node first', true)
  const fault: FaultRequest = input === 'P' ? { kind: 'partition', node } : input === 'L' ? { kind: 'latency', node, rttMs: latencyHotkeyRttMs } : input === 'K' ? { kind: 'kill', node } : { kind: 'restart', node }
  return { state, effects: [{ kind: 'fault', fault }] }
}

/** The `:` commands: a view's name, or one of the words below. */
export function runCommand(state: UiState, text: string, context: KeyContext): Result {
  const [word = '', ...args] = text.split(/\s+/)
  if (word === '') return none(state)
  const screen = screenNamed(word)
  if (screen !== null && args.length === 0) return none(showScreen(state, screen))
  const simOnly = (action: SimAction): Result => (context.sim ? { state, effects: [{ kind: 'sim', action }] } : say(state, `:${word} needs a simulation (--sim)`, true))
  const number = (at: number): number | null => {
    const value = Number(args[at])
    return args[at] !== undefined && Number.isFinite(value) ? value : null
  }
  const fault = (request: FaultRequest): Result => faultAllowed(state, context) ?? { state, effects: [{ kind: 'fault', fault: request }] }
  switch (word) {
    case 'q':
    case 'quit':
      return { state, effects: [{ kind: 'quit' }] }
    case 'help':
      return none({ ...state, mode: 'help' })
    case 'ctx':
    case 'context':
    case 'contexts':
      // `:ctx` alone shows the view (above); with a name it switches.
      return { state: showScreen(state, 'overview'), effects: [{ kind: 'context', name: args[0]! }] }
    case 'focus':
      return args[0] === undefined ? say(state, 'usage: :focus NODE', true) : { state, effects: [{ kind: 'focus', node: args[0] }] }
    case 'sort': {
      const key = memberSortKeys.find((candidate) => candidate === args[0])
      return key === undefined ? say(state, `usage: :sort ${memberSortKeys.join('|')}`, true) : none({ ...state, memberSort: key })
    }
    case 'goto': {
      const seconds = number(0)
      return seconds === null || seconds < 0 ? say(state, 'usage: :goto SECONDS (virtual time)', true) : simOnly({ kind: 'seek', us: Math.round(seconds * 1_000_000) })
    }
    case 'speed': {
      const speed = number(0)
      return speed === null ? say(state, 'usage: :speed X (0.1 to 1000)', true) : simOnly({ kind: 'setSpeed', speed })
    }
    case 'play':
    case 'pause':
    case 'step':
    case 'reset':
      return simOnly({ kind: word })
    case 'heal':
      return fault({ kind: 'heal' })
    case 'partition':
    case 'kill':
    case 'restart':
      return args[0] === undefined ? say(state, `usage: :${word} NODE`, true) : fault({ kind: word, node: args[0] })
    case 'latency': {
      const rttMs = number(1)
      return args[0] === undefined || rttMs === null ? say(state, 'usage: :latency NODE MS (round trip)', true) : fault({ kind: 'latency', node: args[0], rttMs })
    }
  }
  return say(state, `unknown command :${text} (? lists them)`, true)
}
