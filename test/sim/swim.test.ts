import { describe, expect, it } from 'vitest'
import { GossipEngine, type GossipEngineOptions } from '../../core/gossip/engine.ts'
import type { GossipMessage } from '../../core/gossip/messages.ts'
import type { Refusal } from '../../core/ready.ts'
import { runScenario } from '../../sim/runner.ts'
import type { ScenarioOptions } from '../../sim/scenario.ts'
import { runSwim, swimScenario } from '../../sim/scenarios/swim.ts'

const base: ScenarioOptions = { seed: 1, nodes: 8, loss: 0.01, partition: 'flaky', crashes: true, wire: false, trace: null }

describe('swim scenario', () => {
  it('detects crashes, agrees after partitions and crashes, over 100 seeds', { timeout: 300_000 }, () => {
    const report = runScenario(swimScenario, { seeds: Array.from({ length: 100 }, (_, index) => index + 1), nodes: 8, loss: 0.01, partition: 'flaky', crashes: true, wire: false, traceSink: null })
    const failing = report.runs.filter((run) => run.violations > 0).map((run) => `seed ${run.seed}: ${report.violations.find((violation) => violation.seed === run.seed)?.message}`)
    expect(failing, 'replay with: npx dwcp sim swim --nodes 8 --seed N').toEqual([])
    const metrics = report.metrics as { detectionSeconds: { count: number }; falsePositives: { lifeguard: number; plain: number }; 'faults.crashes': number }
    expect(metrics.detectionSeconds.count).toBe(100)
    expect(metrics['faults.crashes']).toBeGreaterThan(100)
    expect(metrics.falsePositives.plain).toBeGreaterThan(10 * Math.max(1, metrics.falsePositives.lifeguard))
  })

  // memberlist's promise under loss: a live member wrongly declared dead hears it and comes back, push-pull repairs
  // any view, a restarted member rejoins. At 50 nodes and 2–10% loss every seed must agree again within 90 s of
  // healing. Seeds 4, 8, 20, 59, 90 and 1001 at 5% failed before that held (issue 13) and stay in as regressions.
  const sweep: [loss: number, seeds: number[]][] = [
    [0.02, [1, 2, 3, 4, 5, 6]],
    [0.05, [4, 8, 20, 59, 90, 1001, 1, 2]],
    [0.07, [1, 2, 3, 4, 5, 6]],
    [0.1, [1, 2, 3, 4, 5, 6]],
  ]
  for (const [loss, seeds] of sweep) {
    it(`holds at 50 nodes and ${Math.round(loss * 100)}% loss over ${seeds.length} seeds`, { timeout: 300_000 }, () => {
      const report = runScenario(swimScenario, { seeds, nodes: 50, loss, partition: 'flaky', crashes: true, wire: false, traceSink: null })
      const failing = report.runs.filter((run) => run.violations > 0).map((run) => `seed ${run.seed}: ${report.violations.find((violation) => violation.seed === run.seed)?.message}`)
      expect(failing, `replay with: npx dwcp sim swim --nodes 50 --loss ${loss} --seed N`).toEqual([])
      expect((report.metrics as { detectionSeconds: { count: number } }).detectionSeconds.count).toBe(2 * seeds.length)
    })
  }

  it('gives the same result for the same seed', () => {
    expect(JSON.stringify(runSwim({ ...base, seed: 5 }))).toBe(JSON.stringify(runSwim({ ...base, seed: 5 })))
  })
})

/** A member that never hears news about itself, so it never refutes a suspicion. */
class StubbornEngine extends GossipEngine {
  override step(from: string, message: GossipMessage): Refusal | null {
    if ('news' in message) return super.step(from, { ...message, news: message.news.filter((news) => news.kind === 'update' || news.member !== this.id) } as GossipMessage)
    return super.step(from, message)
  }
}

describe('the swim checkers', () => {
  it('report members that cannot refute being declared dead and never agreeing again', () => {
    const invariants = [1, 2, 3].flatMap((seed) => runSwim({ ...base, seed, partition: 'halves' }, (options) => new StubbornEngine(options)).violations.map((violation) => violation.invariant))
    expect(invariants).toContain('agreement')
  })

  it('report a false positive when the engine ignores Lifeguard (the starvation experiment promises none with it)', () => {
    const plainAlways = (options: GossipEngineOptions) => new GossipEngine({ ...options, config: { ...options.config!, lifeguard: false } })
    const invariants = [1, 2, 3].flatMap((seed) => runSwim({ ...base, seed }, plainAlways).violations.map((violation) => violation.invariant))
    expect(invariants).toContain('lifeguardFalsePositive')
  })
})
