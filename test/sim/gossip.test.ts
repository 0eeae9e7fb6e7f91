import { describe, expect, it } from 'vitest'
import { runScenario } from '../../sim/runner.ts'
import { gossipScenario, runGossip } from '../../sim/scenarios/gossip.ts'

describe('gossip scenario', () => {
  it('spreads every update to every live node, also after partitions and crashes, over 100 seeds', { timeout: 300_000 }, () => {
    const report = runScenario(gossipScenario, { seeds: Array.from({ length: 100 }, (_, index) => index + 1), nodes: 16, loss: 0.01, partition: 'flaky', crashes: true, wire: false, traceSink: null })
    const failing = report.runs.filter((run) => run.violations > 0).map((run) => `seed ${run.seed}: ${report.violations.find((violation) => violation.seed === run.seed)?.message}`)
    expect(failing, 'replay with: npx dwcp sim gossip --nodes 16 --seed N').toEqual([])
    const metrics = report.metrics as { roundsToFullSpread: { count: number; mean: number }; 'faults.published': number; 'faults.crashes': number }
    expect(metrics.roundsToFullSpread.count).toBe(100)
    expect(metrics['faults.published']).toBeGreaterThan(1000)
    expect(metrics['faults.crashes']).toBeGreaterThan(100)
  })

  it('keeps the load per member per probe period flat as the cluster grows', { timeout: 120_000 }, () => {
    const base = { seed: 1, loss: 0.01, partition: 'none' as const, crashes: false, wire: false, trace: null }
    const small = runGossip({ ...base, nodes: 16 }).samples!['messagesPerMemberPerPeriod']![0]!
    const large = runGossip({ ...base, nodes: 200 }).samples!['messagesPerMemberPerPeriod']![0]!
    expect(large / small).toBeLessThanOrEqual(1.2)
  })
})
