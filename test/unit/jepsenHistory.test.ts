import { describe, expect, it } from 'vitest'
import { readHistoryLines, registerOpsOf, writeHistoryLine, type HistoryEntry } from '../../sim/checkers/jepsenHistory.ts'
import { checkLinearizable } from '../../sim/checkers/linearizability.ts'

const entry = (process: number, type: HistoryEntry['type'], f: HistoryEntry['f'], value: string | null, time: number): HistoryEntry => ({ process, type, f, key: 'cfg/a', value, time })

describe('Jepsen histories', () => {
  it('round-trips through JSON lines', () => {
    const entries = [entry(0, 'invoke', 'write', 'x', 10), entry(0, 'ok', 'write', 'x', 20)]
    expect(readHistoryLines(entries.map(writeHistoryLine).join(''))).toEqual(entries)
  })

  it('names the malformed line', () => {
    expect(() => readHistoryLines('{"process":0,"type":"invoke","f":"write","key":"k","value":"v","time":1}\n{"process":0,"type":"done"}')).toThrow(/line 2: type/)
    expect(() => readHistoryLines('nope')).toThrow(/line 1: not JSON/)
  })

  it('feeds the linearizability checker: a stale read after an acknowledged write fails', () => {
    const stale = [
      entry(0, 'invoke', 'write', 'x', 1_000),
      entry(0, 'ok', 'write', 'x', 2_000),
      entry(1, 'invoke', 'write', 'y', 3_000),
      entry(1, 'ok', 'write', 'y', 4_000),
      entry(2, 'invoke', 'read', null, 5_000),
      entry(2, 'ok', 'read', 'x', 6_000),
    ]
    expect(checkLinearizable(registerOpsOf(stale)).ok).toBe(false)
  })

  it('treats info as maybe-happened and fail as never', () => {
    const maybe = [entry(0, 'invoke', 'write', 'x', 1_000), entry(0, 'info', 'write', 'x', 2_000), entry(1, 'invoke', 'read', null, 9_000_000), entry(1, 'ok', 'read', 'x', 9_100_000)]
    expect(checkLinearizable(registerOpsOf(maybe)).ok).toBe(true)
    const failed = [entry(0, 'invoke', 'write', 'x', 1_000), entry(0, 'fail', 'write', 'x', 2_000), entry(1, 'invoke', 'read', null, 9_000_000), entry(1, 'ok', 'read', 'x', 9_100_000)]
    expect(checkLinearizable(registerOpsOf(failed)).ok).toBe(false)
  })

  it('refuses a completion without an invoke', () => {
    expect(() => registerOpsOf([entry(0, 'ok', 'write', 'x', 1)])).toThrow(/without an invoke/)
  })
})
