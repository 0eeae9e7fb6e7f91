import { describe, expect, it } from 'vitest'
import { exitCodes, simExitCode } from '../../cli/exitCodes.ts'
import { assertFailed } from '../../core/lib/assert.ts'
import { runScenario } from '../../sim/runner.ts'
import type { RunResult, Scenario } from '../../sim/scenario.ts'
import { worstViolationKind, type Violation, type ViolationKind } from '../../sim/violation.ts'

/** A scenario whose runs end as `outcomes` says, by seed: a kind of violation, a throw, or nothing. */
function scriptedScenario(outcomes: Record<number, ViolationKind | 'throw' | 'ok'>): Scenario {
  return {
    name: 'scripted',
    summary: 'runs end as the test says',
    defaultNodes: 1,
    run: ({ seed }): RunResult => {
      const outcome = outcomes[seed] ?? 'ok'
      if (outcome === 'throw') assertFailed(`planted assertion at seed ${seed}`)
      const violations: Violation[] = outcome === 'ok' ? [] : [{ seed, invariant: 'scripted', kind: outcome, atMs: 1, message: outcome }]
      return { seed, violations, violationsDropped: 0, metrics: { runs: 1 }, fingerprint: String(seed) }
    },
  }
}

const sweep = (outcomes: Record<number, ViolationKind | 'throw' | 'ok'>) => runScenario(scriptedScenario(outcomes), { seeds: [1, 2, 3, 4], nodes: 1, loss: 0, partition: 'none', crashes: false, wire: false, traceSink: null })

describe('verdicts and exit codes', () => {
  it('passes only a sweep with no violation at all', () => {
    const report = sweep({})
    expect(report.verdict).toBe('ok')
    expect(simExitCode(report.verdict)).toBe(exitCodes.ok)
  })

  it('gives every kind its own exit code', () => {
    expect(simExitCode('safety')).toBe(1)
    expect(simExitCode('liveness')).toBe(3)
    expect(simExitCode('undecided')).toBe(4)
    expect(simExitCode('crash')).toBe(5)
    // notFound shares 1 with violation on purpose (grep's "nothing found"): no command reports both.
    const { notFound, ...distinct } = exitCodes
    expect(notFound).toBe(exitCodes.violation)
    expect(new Set(Object.values(distinct)).size).toBe(Object.keys(distinct).length)
  })

  it('fails a sweep whose only finding is an undecided check', () => {
    const report = sweep({ 3: 'undecided' })
    expect(report.verdict).toBe('undecided')
    expect(report.runs.map((run) => run.verdict)).toEqual(['ok', 'ok', 'undecided', 'ok'])
  })

  it('turns a run that throws into a crash violation naming its seed, and runs the other seeds', () => {
    const report = sweep({ 2: 'throw', 4: 'liveness' })
    expect(report.verdict).toBe('crash')
    expect(report.runs.map((run) => run.verdict)).toEqual(['ok', 'crash', 'ok', 'liveness'])
    expect(report.violations[0]).toMatchObject({ seed: 2, kind: 'crash', invariant: 'noCrash' })
    expect(report.violations[0]!.message).toContain('AssertionError: planted assertion at seed 2')
  })

  it('orders kinds safety, crash, undecided, liveness', () => {
    expect(sweep({ 1: 'liveness', 2: 'undecided', 3: 'throw', 4: 'safety' }).verdict).toBe('safety')
    expect(worstViolationKind([{ kind: 'liveness' }, { kind: 'undecided' }])).toBe('undecided')
    expect(worstViolationKind([])).toBeNull()
  })
})
