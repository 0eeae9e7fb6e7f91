import { describe, expect, it } from 'vitest'
import { CrdtEngine } from '../../core/crdt/engine.ts'
import type { CrdtMessage } from '../../core/crdt/messages.ts'
import type { Refusal } from '../../core/ready.ts'
import { docProblems, expectedFrom } from '../../sim/checkers/crdtOracle.ts'
import type { ScenarioOptions } from '../../sim/scenario.ts'
import { crdtSpec, runCrdt } from '../../sim/scenarios/crdt.ts'

const base: ScenarioOptions = { seed: 1, nodes: 4, loss: 0.05, partition: 'flaky', crashes: true, wire: false, trace: null }

describe('crdt scenario', () => {
  it('gives the same result for the same seed', () => {
    expect(JSON.stringify(runCrdt({ ...base, seed: 9 }))).toBe(JSON.stringify(runCrdt({ ...base, seed: 9 })))
  })

  it('ships at most half of what full-state sync would on 16 nodes (the issue target, seed 1)', { timeout: 120_000 }, () => {
    const result = runCrdt({ ...base, nodes: 16, loss: 0.01 })
    expect(result.violations).toEqual([])
    expect(result.metrics['deltaBytes']! / result.metrics['fullStateBytes']!).toBeLessThanOrEqual(0.5)
  })
})

/** A replica whose digest fallback is broken: it ignores state messages. */
class DeafEngine extends CrdtEngine {
  override step(from: string, message: CrdtMessage): Refusal | null {
    return message.type === 'state' ? null : super.step(from, message)
  }
}

describe('the crdt checker', () => {
  it('reports replicas that never converge when the digest fallback is broken', () => {
    const invariants = [1, 2, 3, 4, 5].flatMap((seed) => runCrdt({ ...base, seed }, { ...crdtSpec, create: (context) => new DeafEngine(context) }).violations.map((violation) => violation.invariant))
    expect(invariants).toContain('convergence')
  })

  it('derives add-wins, overwrite and removal from the operations and what each replica had seen', () => {
    const seen = (...dots: string[]) => new Set(dots)
    const expected = expectedFrom([
      { requestId: 1, op: { type: 'set', key: 's', action: 'add', element: 'x' }, replica: 'a', observed: seen(), dot: 'a:1' },
      { requestId: 2, op: { type: 'set', key: 's', action: 'add', element: 'y' }, replica: 'a', observed: seen('a:1'), dot: 'a:2' },
      // b removed x having seen a:1; concurrently a added x again (a:3, which replaced a:1): add wins.
      { requestId: 3, op: { type: 'set', key: 's', action: 'remove', element: 'x' }, replica: 'b', observed: seen('a:1', 'a:2') },
      { requestId: 4, op: { type: 'set', key: 's', action: 'add', element: 'x' }, replica: 'a', observed: seen('a:1', 'a:2'), dot: 'a:3' },
      // A remove of z covers nothing of y, though it had seen y's add.
      { requestId: 5, op: { type: 'set', key: 's', action: 'remove', element: 'z' }, replica: 'b', observed: seen('a:1', 'a:2') },
      // b removed w after a re-add it had seen replaced the add it had not: the re-add's history counts, so w is gone.
      { requestId: 6, op: { type: 'set', key: 't', action: 'add', element: 'w' }, replica: 'a', observed: seen(), dot: 'a:1' },
      { requestId: 7, op: { type: 'set', key: 't', action: 'add', element: 'w' }, replica: 'c', observed: seen('a:1'), dot: 'c:1' },
      { requestId: 8, op: { type: 'set', key: 't', action: 'remove', element: 'w' }, replica: 'b', observed: seen('c:1') },
      // The same dot name in another key is another dot; concurrent MV writes both stay, a write that saw one replaces it.
      { requestId: 9, op: { type: 'mvregister', key: 'm', value: 'one' }, replica: 'a', observed: seen(), dot: 'a:1' },
      { requestId: 10, op: { type: 'mvregister', key: 'm', value: 'two' }, replica: 'b', observed: seen(), dot: 'b:1' },
      { requestId: 11, op: { type: 'mvregister', key: 'n', value: 'old' }, replica: 'a', observed: seen(), dot: 'a:1' },
      { requestId: 12, op: { type: 'mvregister', key: 'n', value: 'new' }, replica: 'b', observed: seen('a:1'), dot: 'b:1' },
      // A map remove at a prefix takes the puts below it that it had seen, not a concurrent one.
      { requestId: 13, op: { type: 'map', key: 'p', action: 'put', path: ['f', 'g'], value: 'seen' }, replica: 'a', observed: seen(), dot: 'a:1' },
      { requestId: 14, op: { type: 'map', key: 'p', action: 'put', path: ['f', 'h'], value: 'concurrent' }, replica: 'c', observed: seen(), dot: 'c:1' },
      { requestId: 15, op: { type: 'map', key: 'p', action: 'remove', path: ['f'] }, replica: 'b', observed: seen('a:1') },
      { requestId: 16, op: { type: 'counter', key: 'c', amount: 4 }, replica: 'a' },
      { requestId: 17, op: { type: 'counter', key: 'c', amount: -1 }, replica: 'b' },
      // Equal stamps: the greater replica id wins, whatever the order of the history.
      { requestId: 18, op: { type: 'register', key: 'r', value: 'from b' }, replica: 'b', timestamp: { wallMs: 5, logical: 0 } },
      { requestId: 19, op: { type: 'register', key: 'r', value: 'from a' }, replica: 'a', timestamp: { wallMs: 5, logical: 0 } },
      { requestId: 20, op: { type: 'register', key: 'r', value: 'earlier' }, replica: 'c', timestamp: { wallMs: 4, logical: 9 } },
    ])
    expect(expected.values.get('s')).toEqual(['x', 'y'])
    expect(expected.values.get('t')).toEqual([])
    expect(expected.values.get('m')).toEqual(['one', 'two'])
    expect(expected.values.get('n')).toEqual(['new'])
    expect(expected.values.get('p')).toEqual({ f: { h: ['concurrent'] } })
    expect(expected.values.get('c')).toBe(3)
    expect(expected.values.get('r')).toBe('from b')
    expect(expected.lwwStampTies).toBe(1)
    expect(expected.anomalies).toEqual([])
  })

  it('names a dot or a stamp given twice', () => {
    const expected = expectedFrom([
      { requestId: 1, op: { type: 'set', key: 's', action: 'add', element: 'x' }, replica: 'a', observed: new Set(), dot: 'a:1' },
      { requestId: 2, op: { type: 'set', key: 's', action: 'add', element: 'y' }, replica: 'a', observed: new Set(), dot: 'a:1' },
      { requestId: 3, op: { type: 'register', key: 'r', value: 'one' }, replica: 'a', timestamp: { wallMs: 5, logical: 0 } },
      { requestId: 4, op: { type: 'register', key: 'r', value: 'two' }, replica: 'a', timestamp: { wallMs: 5, logical: 0 } },
    ])
    expect(expected.anomalies).toHaveLength(2)
  })

  it('requires an LWW write to order after every write that had reached its replica', () => {
    const expected = expectedFrom([
      { requestId: 1, op: { type: 'register', key: 'r', value: 'first' }, replica: 'b', timestamp: { wallMs: 5, logical: 3 } },
      // a saw b's write and wrote after it with a greater stamp: fine.
      { requestId: 2, op: { type: 'register', key: 'r', value: 'second' }, replica: 'a', timestamp: { wallMs: 5, logical: 4 }, observedWriter: { timestamp: { wallMs: 5, logical: 3 }, replica: 'b' } },
      // c saw a's write but stamped its own lower (a clock that did not advance): v would win over the write that followed it.
      { requestId: 3, op: { type: 'register', key: 'r', value: 'third' }, replica: 'c', timestamp: { wallMs: 5, logical: 1 }, observedWriter: { timestamp: { wallMs: 5, logical: 4 }, replica: 'a' } },
      // An equal stamp after seeing it: the replica-id tie-break puts a's write before b's, so it does not order after it.
      { requestId: 4, op: { type: 'register', key: 'q', value: 'x' }, replica: 'a', timestamp: { wallMs: 7, logical: 0 }, observedWriter: { timestamp: { wallMs: 7, logical: 0 }, replica: 'b' } },
    ])
    expect(expected.causalityProblems).toHaveLength(2)
    expect(expected.causalityProblems[0]).toContain('write 3 at c')
    expect(expected.causalityProblems[1]).toContain('write 4 at a')
    expect(expected.anomalies).toEqual([])
  })

  it('checks a document against the acknowledged edits, token by token', () => {
    const expected = expectedFrom([
      { requestId: 1, op: { type: 'doc', key: 'd', action: 'insert', index: 0, text: '[1]' }, replica: 'a' },
      { requestId: 2, op: { type: 'doc', key: 'd', action: 'insert', index: 3, text: '[2]' }, replica: 'b' },
      { requestId: 3, op: { type: 'doc', key: 'd', action: 'insert', index: 0, text: '[3]' }, replica: 'a' },
      { requestId: 4, op: { type: 'doc', key: 'd', action: 'delete', index: 0, count: 3 }, replica: 'a', deletedTokens: ['[3]'] },
    ])
    const tokens = expected.docTokens.get('d')!
    const deleted = expected.docDeleted.get('d')!
    expect(docProblems('[2][1]', tokens, deleted)).toEqual([])
    expect(docProblems('[1]', tokens, deleted)).toEqual(['acknowledged insert [2] is missing'])
    expect(docProblems('[1][3][2]', tokens, deleted)).toEqual(['token [3] was deleted by an acknowledged delete'])
    expect(docProblems('[1][2][1]', tokens, deleted)).toEqual(['token [1] appears twice'])
    expect(docProblems('[1]x[2]', tokens, deleted)).toEqual(['text outside any inserted token: "x"'])
  })
})
