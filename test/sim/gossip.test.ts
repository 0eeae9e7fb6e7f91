import { describe, expect, it } from 'vitest'
import { GossipEngine } from '../../core/gossip/engine.ts'
import type { GossipMessage } from '../../core/gossip/messages.ts'
import type { Refusal } from '../../core/ready.ts'
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

/** A member that never hears what others hold about itself (news or push-pull), so it never refutes a suspicion or a death. */
class StubbornEngine extends GossipEngine {
  override step(from: string, message: GossipMessage): Refusal | null {
    if ('news' in message) return super.step(from, { ...message, news: message.news.filter((news) => news.kind === 'update' || news.member !== this.id) } as GossipMessage)
    if (message.type === 'pushPull') return super.step(from, { ...message, members: message.members.filter((member) => member.id !== this.id) })
    return super.step(from, message)
  }
}

describe('the gossip membership checker', () => {
  it("reports live members that stay dead in others' views after healing", { timeout: 120_000 }, () => {
    const options = { nodes: 16, loss: 0.01, partition: 'halves' as const, crashes: true, wire: false, trace: null }
    const invariants = [1, 2, 3].flatMap((seed) => runGossip({ ...options, seed }, (engineOptions) => new StubbornEngine(engineOptions)).violations.map((violation) => violation.invariant))
    expect(invariants).toContain('agreement')
  })
})
