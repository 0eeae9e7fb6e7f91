/**
 * Hosts that sleep while their engine has no work (SimOptions.sleepWhenIdle:
 * a node wakes only at the tick its engine reports, and runs the ticks due
 * before every input) against hosts that tick every tick: the same scenario,
 * the same checkers, on both. A deadline reported too late shows as a
 * checker's violation or as progress lost (writes that never commit,
 * elections that never end). Seeds from DWCP_SLEEP_SEEDS (comma-separated),
 * printed on failure.
 */
import { describe, expect, it } from 'vitest'
import { runMembership } from '../../sim/scenarios/membership.ts'
import type { ScenarioOptions } from '../../sim/scenario.ts'
import { mixedScenario } from '../../sim/scenarios/mixed.ts'
import { runRaft } from '../../sim/scenarios/raft.ts'
import { replicaPlanSteps } from '../../sim/scenarios/replicaRun.ts'

const seeds = (process.env['DWCP_SLEEP_SEEDS'] ?? '11,12').split(',').map(Number)

function runMixed(seed: number, sleepWhenIdle: boolean) {
  const options: ScenarioOptions = { seed, nodes: 6, loss: 0, partition: 'flaky', crashes: true, wire: true, trace: null, sleepWhenIdle }
  const steps = replicaPlanSteps(mixedScenario.plan, options)
  const sim = steps.next().value
  const result = steps.next().value
  if (sim === undefined || !('nodes' in sim) || result === undefined || 'nodes' in result) throw new Error('the run did not yield its simulator, then its result')
  return { result, wakes: sim.metrics.wakes, ticks: sim.metrics.ticks }
}

describe('sleeping hosts hold what every-tick hosts hold', () => {
  it.each(seeds)('mixed scenario (every consistency level, partitions, crashes, a cluster restart), seed %i', (seed) => {
    const everyTick = runMixed(seed, false)
    const sleeping = runMixed(seed, true)
    for (const [label, run] of [
      ['every tick', everyTick],
      ['sleeping', sleeping],
    ] as const) {
      expect(run.result.violations, `${label}, seed ${seed}`).toEqual([])
      const metrics = run.result.metrics
      // Progress on every path: strong reads and writes, auto writes, byzantine writes, eventual (CRDT) writes.
      expect(metrics['client.strongOps'], `${label}, seed ${seed}`).toBeGreaterThan(100)
      expect(metrics['client.autoWritesAcked'], `${label}, seed ${seed}`).toBeGreaterThan(100)
      expect(metrics['client.byzantineWritesAcked'], `${label}, seed ${seed}`).toBeGreaterThan(20)
      expect(metrics['pathCounts.crdt'], `${label}, seed ${seed}`).toBeGreaterThan(100)
      expect(metrics['lostWrites'], `${label}, seed ${seed}`).toBe(0)
    }
    // About as much gets done either way (the runs differ only in when idle ticks run).
    expect(sleeping.result.metrics['client.strongOps']!).toBeGreaterThan(everyTick.result.metrics['client.strongOps']! * 0.8)
    // Every tick still runs, but far fewer wakes do it.
    expect(sleeping.wakes, `seed ${seed}`).toBeLessThan(everyTick.wakes * 0.8)
  })

  it.each(seeds)('raft scenario (linearizable histories under loss, partitions, crashes, membership changes), seed %i', (seed) => {
    for (const sleepWhenIdle of [false, true]) {
      const result = runRaft({ seed, nodes: 5, loss: 0.02, partition: 'flaky', crashes: true, wire: false, trace: null, sleepWhenIdle })
      expect(result.violations, `sleepWhenIdle=${sleepWhenIdle}, seed ${seed}`).toEqual([])
      const answered = result.metrics['client.ops']! - result.metrics['client.unknownOutcomes']!
      expect(answered, `sleepWhenIdle=${sleepWhenIdle}, seed ${seed}`).toBeGreaterThan(50)
      expect(result.metrics['client.acknowledgedDuringFaults'], `sleepWhenIdle=${sleepWhenIdle}, seed ${seed}`).toBeGreaterThan(10)
    }
  })

  it.each(seeds)('membership scenario (joins, removals, autopilot replacement, crashes) with sleeping hosts, seed %i', (seed) => {
    const result = runMembership({ seed, nodes: 7, loss: 0, partition: 'flaky', crashes: true, wire: false, trace: null, sleepWhenIdle: true })
    expect(result.violations, `seed ${seed}`).toEqual([])
  })
})
