/**
 * The membership scenario over a bounded number of seeds (CI): spares join,
 * a voter dies for good and is replaced, learners leave and are removed,
 * crashes; every checker on. `npx dwcp sim membership --seeds 200` is the
 * full sweep; a failing seed prints the command that replays it.
 */
import { describe, expect, it } from 'vitest'
import { runScenario } from '../../sim/runner.ts'
import { membershipScenario } from '../../sim/scenarios/membership.ts'

const seedsSwept = 12

describe('membership scenario', () => {
  it(`holds every checker over ${seedsSwept} seeds, 7 and 6 nodes, with crashes`, { timeout: 300_000 }, () => {
    const seeds = Array.from({ length: seedsSwept }, (_, index) => 1 + index)
    const failed: string[] = []
    for (const nodes of [7, 6]) {
      const swept = nodes === 7 ? seeds : seeds.slice(0, 4)
      const report = runScenario(membershipScenario, { seeds: swept, nodes, loss: 0, partition: 'flaky', crashes: true, wire: false, traceSink: null })
      for (const run of report.runs) if (run.violations > 0) failed.push(`npx dwcp sim membership --seed ${run.seed} --nodes ${nodes}`)
      const metrics = report.metrics as Record<string, unknown>
      expect(report.violations, failed.join('\n')).toEqual([])
      // The changes happened (metrics add up over runs): two joins, a leave and a removal per run.
      expect(metrics['joins']).toBe(2 * swept.length)
      expect(metrics['leaves']).toBe(swept.length)
      expect(metrics['removals']).toBe(swept.length)
    }
    expect(failed).toEqual([])
  })
})
