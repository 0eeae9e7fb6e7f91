/**
 * Bugs planted in the CRDT core, switched on one at a time through module
 * mocks, must be caught by the crdt scenario within 20 seeds. Both pass an
 * oracle that trusts the effects the engine reports: the LWW one because
 * equal stamps are rare on millisecond clocks, the set one because its
 * acknowledgement reports only the element it was asked to remove.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { LwwRegister } from '../../core/crdt/lwwRegister.ts'
import type { ScenarioOptions } from '../../sim/scenario.ts'
import { runCrdt } from '../../sim/scenarios/crdt.ts'

const planted = vi.hoisted(() => ({ lwwWithoutTieBreak: false, removeTakesEveryElement: false }))

vi.mock('../../core/crdt/lwwRegister.ts', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../core/crdt/lwwRegister.ts')>()
  // The bug: equal timestamps compare equal, so each replica keeps whichever write it holds.
  const compareLww = (a: LwwRegister, b: LwwRegister): number => (planted.lwwWithoutTieBreak && a.written && b.written ? a.timestamp.wallMs - b.timestamp.wallMs || a.timestamp.logical - b.timestamp.logical : original.compareLww(a, b))
  return { ...original, compareLww, joinLww: (a: LwwRegister, b: LwwRegister) => (compareLww(a, b) >= 0 ? a : b) }
})

vi.mock('../../core/crdt/ops.ts', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../core/crdt/ops.ts')>()
  const { joinDeltas } = await import('../../core/crdt/value.ts')
  // The bug: a set remove also removes every other element its replica holds; its effect still names only its own.
  const applyOp: typeof original.applyOp = (op, current, replica, clock) => {
    const made = original.applyOp(op, current, replica, clock)
    if (!planted.removeTakesEveryElement || !made.ok || op.type !== 'set' || op.action !== 'remove' || current?.type !== 'set' || current.state.root.kind !== 'set') return made
    let { delta, value } = made.value
    for (const element of current.state.root.elements.keys()) {
      if (element === op.element) continue
      const more = original.applyOp({ ...op, element }, value, replica, clock)
      if (!more.ok) return more
      delta = joinDeltas(op.key, replica, [delta, more.value.delta])
      value = more.value.value
    }
    return { ok: true, value: { ...made.value, delta, value } }
  }
  return { ...original, applyOp }
})

const base: ScenarioOptions = { seed: 1, nodes: 4, loss: 0.05, partition: 'flaky', crashes: true, wire: false, trace: null }

/** Runs seeds 1, 2, … up to `seedsMax`; returns the first with a violation and that violation's invariant, or null. */
function firstCatch(seedsMax: number): { seed: number; invariant: string } | null {
  for (let seed = 1; seed <= seedsMax; seed++) {
    const { violations } = runCrdt({ ...base, seed })
    if (violations.length > 0) return { seed, invariant: violations[0]!.invariant }
  }
  return null
}

describe('bugs planted in the CRDT core', () => {
  afterEach(() => {
    planted.lwwWithoutTieBreak = false
    planted.removeTakesEveryElement = false
  })

  it('pass unnoticed when switched off (the mocks themselves change nothing)', { timeout: 60_000 }, () => {
    expect(firstCatch(2)).toBeNull()
  })

  it('LWW without the replica-id tie-break is caught within 20 seeds', { timeout: 120_000 }, () => {
    planted.lwwWithoutTieBreak = true
    expect(firstCatch(20), 'replay a seed with: npx dwcp sim crdt --nodes 4 --seed N').not.toBeNull()
  })

  it('a set remove that takes every element is caught within 20 seeds', { timeout: 120_000 }, () => {
    planted.removeTakesEveryElement = true
    expect(firstCatch(20)).toMatchObject({ invariant: 'semantics' })
  })
})
