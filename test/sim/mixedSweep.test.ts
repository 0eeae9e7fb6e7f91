import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const bin = join(import.meta.dirname, '../../bin/dwcp.js')

/**
 * Issue 15's sweep, exactly as a user runs it: 200 seeds of the mixed scenario, whole replicas
 * crashing (unsynced writes lost or torn) and the whole cluster restarting once per run, every
 * checker on. A failing seed is in the printed report; `dwcp sim mixed --seed N` replays it.
 */
describe('dwcp sim mixed --seeds 200', () => {
  it('holds every checker with whole-replica crashes and one whole-cluster restart per run', { timeout: 900_000 }, () => {
    const run = spawnSync(process.execPath, [bin, 'sim', 'mixed', '--seeds', '200', '--json'], { encoding: 'utf8', timeout: 880_000, maxBuffer: 64 * 1024 * 1024 })
    const report = JSON.parse(run.stdout)
    expect(report.violations, JSON.stringify(report.violations.slice(0, 5))).toEqual([])
    expect(run.status).toBe(0)
    expect(report.seeds).toHaveLength(200)
    expect(report.metrics.clusterRestarts).toBe(200)
    expect(report.metrics.crashes).toBeGreaterThan(200 * 2)
  })
})
