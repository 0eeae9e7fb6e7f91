import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { writeHistoryLine, type HistoryEntry } from '../../sim/checkers/jepsenHistory.ts'

const bin = join(import.meta.dirname, '../../bin/dwcp.js')

function check(entries: readonly HistoryEntry[] | string) {
  const file = join(mkdtempSync(join(tmpdir(), 'dwcp-check-')), 'history.jsonl')
  writeFileSync(file, typeof entries === 'string' ? entries : entries.map(writeHistoryLine).join(''))
  const run = spawnSync(process.execPath, [bin, 'check', file, '--json'], { encoding: 'utf8', timeout: 60_000 })
  return { code: run.status, stdout: run.stdout, stderr: run.stderr }
}

const op = (process: number, type: HistoryEntry['type'], f: HistoryEntry['f'], value: string | null, time: number): HistoryEntry => ({ process, type, f, key: 'cfg/a', value, time })

describe('dwcp check', () => {
  it('passes a linearizable history and fails a stale read, with distinct exit codes', () => {
    const good = check([op(0, 'invoke', 'write', 'x', 1e3), op(0, 'ok', 'write', 'x', 2e3), op(1, 'invoke', 'read', null, 3e3), op(1, 'ok', 'read', 'x', 4e3)])
    expect(good.code).toBe(0)
    expect(JSON.parse(good.stdout)).toMatchObject({ verdict: 'linearizable', operations: 2 })
    const stale = check([op(0, 'invoke', 'write', 'x', 1e3), op(0, 'ok', 'write', 'x', 2e3), op(1, 'invoke', 'read', null, 3e3), op(1, 'ok', 'read', null, 4e3)])
    expect(stale.code).toBe(1)
    expect(JSON.parse(stale.stdout)).toMatchObject({ verdict: 'violation', key: 'cfg/a' })
  })

  it('names the malformed line of a bad file', () => {
    const bad = check('{"process":0,"type":"invoke","f":"write","key":"k","value":"v","time":1}\n{"process":0}\n')
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/history line 2/)
  })
})
