/** Every key binding as a pure function of the UI state and what is on screen. */
import { describe, expect, it } from 'vitest'
import { noteEvent } from '../../tui/data/clusterEvent.ts'
import { screenNamed } from '../../tui/app/screens.ts'
import { initialUiState, latencyHotkeyRttMs, reduceKey, seekStepUs, splitKeys, type KeyContext, type KeyInput, type UiState } from '../../tui/app/uiState.ts'

const context: KeyContext = { rowCount: 10, pageRows: 4, selected: { node: 'n3' }, sim: true, faults: true, readonly: false }

/** Types `keys` (characters, or named keys) into `state`; returns the final state and every effect. */
function type(state: UiState, keys: readonly (string | KeyInput)[], on: Partial<KeyContext> = {}) {
  const effects = []
  for (const key of keys) {
    const result = typeof key === 'string' ? reduceKey(state, key, {}, { ...context, ...on }) : reduceKey(state, '', key, { ...context, ...on })
    state = result.state
    effects.push(...result.effects)
  }
  return { state, effects }
}

const enter = { return: true }
const escape = { escape: true }

describe('tui key bindings (reducer)', () => {
  it('names views by word, prefix or alias; ambiguous prefixes name none', () => {
    expect(screenNamed('members')).toBe('members')
    expect(screenNamed('mem')).toBe('members')
    expect(screenNamed('raft')).toBe('consensus')
    expect(screenNamed('con')).toBeNull()
    expect(screenNamed('conv')).toBe('convergence')
    expect(screenNamed('')).toBeNull()
  })

  it('command mode: typing, backspace, Enter runs, Esc cancels', () => {
    const { state } = type(initialUiState(), [':', 'e', 'v', 'x', { backspace: true }, enter])
    expect(state.screen).toBe('events')
    expect(state.mode).toBe('normal')
    const cancelled = type(initialUiState(), [':', 's', 't', escape]).state
    expect(cancelled.screen).toBe('overview')
    expect(cancelled.mode).toBe('normal')
  })

  it('simulation commands and keys drive the simulation; without one they are refused', () => {
    expect(type(initialUiState(), [':', ...'goto 12.5', enter]).effects).toEqual([{ kind: 'sim', action: { kind: 'seek', us: 12_500_000 } }])
    expect(type(initialUiState(), [':', ...'speed 100', enter]).effects).toEqual([{ kind: 'sim', action: { kind: 'setSpeed', speed: 100 } }])
    expect(type(initialUiState(), [' ', '.', '+', '-', '[', ']']).effects.map((effect) => (effect.kind === 'sim' ? effect.action : null))).toEqual([
      { kind: 'toggle' },
      { kind: 'step' },
      { kind: 'speed', direction: 1 },
      { kind: 'speed', direction: -1 },
      { kind: 'seekBy', deltaUs: -seekStepUs },
      { kind: 'seekBy', deltaUs: seekStepUs },
    ])
    const live = type(initialUiState(), [':', ...'goto 3', enter], { sim: false })
    expect(live.effects).toEqual([])
    expect(live.state.message).toEqual({ text: ':goto needs a simulation (--sim)', bad: true })
    expect(type(initialUiState(), [' ', '.'], { sim: false }).effects).toEqual([])
    expect(type(initialUiState(), [':', ...'goto -1', enter]).state.message?.bad).toBe(true)
  })

  it('fault commands name their node; fault keys take the selected one; readonly and no switch refuse', () => {
    expect(type(initialUiState(), [':', ...'latency n2 300', enter]).effects).toEqual([{ kind: 'fault', fault: { kind: 'latency', node: 'n2', rttMs: 300 } }])
    expect(type(initialUiState(), [':', ...'kill n4', enter]).effects).toEqual([{ kind: 'fault', fault: { kind: 'kill', node: 'n4' } }])
    expect(type(initialUiState(), ['L']).effects).toEqual([{ kind: 'fault', fault: { kind: 'latency', node: 'n3', rttMs: latencyHotkeyRttMs } }])
    expect(type(initialUiState(), ['P'], { selected: null }).state.message?.text).toBe('select a node first')
    expect(type(initialUiState(), ['K'], { readonly: true }).effects).toEqual([])
    expect(type(initialUiState(), [':', ...'heal', enter], { faults: false }).state.message?.text).toContain('no fault switch')
  })

  it('moves the cursor within the rows: arrows, j/k, pages, g/G', () => {
    const moved = type(initialUiState(), ['j', 'j', { downArrow: true }, 'k']).state
    expect(moved.cursors.overview).toBe(2)
    expect(type(moved, [{ pageDown: true }, { pageDown: true }]).state.cursors.overview).toBe(9)
    expect(type(moved, ['G']).state.cursors.overview).toBe(9)
    expect(type(moved, ['g']).state.cursors.overview).toBe(0)
    expect(type(initialUiState(), ['k']).state.cursors.overview).toBe(0)
    expect(type(initialUiState(), ['j'], { rowCount: 0 }).state.cursors.overview).toBe(0)
  })

  it('the event log follows the newest until scrolled, which holds it still; G and p follow again', () => {
    const events = type(initialUiState('events'), []).state
    expect(events.cursors.events).toBe(-1)
    const scrolled = type(events, ['k']).state
    expect(scrolled.cursors.events).toBe(8)
    expect(scrolled.eventsPaused).toBe(true)
    const following = type(scrolled, ['G']).state
    expect(following.cursors.events).toBe(-1)
    expect(following.eventsPaused).toBe(false)
    const resumed = type(scrolled, ['p']).state
    expect([resumed.cursors.events, resumed.eventsPaused]).toEqual([-1, false])
    expect(type(events, ['p']).state.eventsPaused).toBe(true)
  })

  it('filter mode filters as it types; Enter keeps the filter, Esc clears it', () => {
    const kept = type(initialUiState('members'), ['j', '/', 'e', 'u', enter]).state
    expect(kept.filters.members).toBe('eu')
    expect(kept.cursors.members).toBe(0)
    expect(kept.mode).toBe('normal')
    expect(type(kept, ['/', escape]).state.filters.members).toBe('')
    expect(type(kept, [escape]).state.filters.members).toBe('')
  })

  it('Enter opens the selected row; Esc closes it; a node row also moves the focus', () => {
    const opened = type(initialUiState(), [enter])
    expect(opened.state.detail).toEqual({ kind: 'node', id: 'n3' })
    expect(opened.effects).toEqual([{ kind: 'focus', node: 'n3' }])
    expect(type(opened.state, [escape]).state.detail).toBeNull()
    expect(type(initialUiState('members'), [enter]).state.detail).toEqual({ kind: 'member', id: 'n3' })
    expect(type(initialUiState('state'), [enter], { selected: { key: 'cnt/a' } }).state.detail).toEqual({ kind: 'key', key: 'cnt/a' })
    const event = noteEvent('n1', 5, 'sim', 'node', 'n1 crashed')
    expect(type(initialUiState('events'), [enter], { selected: { event, node: 'n1' } }).state.detail).toEqual({ kind: 'event', event })
  })

  it('s cycles the member sort; f looks from the selected node; ? and q', () => {
    expect(type(initialUiState('members'), ['s', 's']).state.memberSort).toBe('region')
    expect(type(initialUiState('overview'), ['s']).state.memberSort).toBe('id')
    expect(type(initialUiState(), ['f']).effects).toEqual([{ kind: 'focus', node: 'n3' }])
    expect(type(initialUiState(), ['?']).state.mode).toBe('help')
    expect(type(initialUiState(), ['?', 'q']).effects).toEqual([])
    expect(type(initialUiState(), ['q']).effects).toEqual([{ kind: 'quit' }])
    expect(type(initialUiState(), [':', 'q', enter]).effects).toEqual([{ kind: 'quit' }])
  })

  it('splits keys that arrive in one chunk', () => {
    expect(splitKeys(':mem\r', {})).toEqual([
      [':', {}],
      ['m', {}],
      ['e', {}],
      ['m', {}],
      ['', { return: true }],
    ])
    expect(splitKeys('j', { downArrow: false })).toEqual([['j', { downArrow: false }]])
    expect(splitKeys('ab', { ctrl: true })).toEqual([['ab', { ctrl: true }]])
  })
})
