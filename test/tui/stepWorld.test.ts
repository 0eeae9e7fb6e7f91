/**
 * The single-engine simulations (`dwcp tui --sim raft`, pbft, crdt, gossip,
 * swim): driven frame by frame through their scenario's steps, they end with
 * the verdict and fingerprint `dwcp sim` gives the same seed (swim hands over
 * one simulator per experiment); each node shows its engine's status in the
 * views that apply, and the others say plainly that there is nothing for them.
 */
import { cleanup } from 'ink-testing-library'
import { afterEach, describe, expect, it } from 'vitest'
import { runScenario } from '../../sim/runner.ts'
import { scenarios } from '../../sim/scenarios/index.ts'
import { ClusterModel } from '../../tui/data/clusterModel.ts'
import { simWorldKinds } from '../../tui/data/sim/simKinds.ts'
import { SimSource } from '../../tui/data/sim/simSource.ts'
import { ManualTimers } from '../../tui/data/timers.ts'
import { press, renderApp, settle } from './support/ink.ts'

afterEach(() => cleanup())

function simulated(scenario: string, options: { seed: number; nodes?: number; speed?: number }) {
  const timers = new ManualTimers()
  const sim = new SimSource({ kind: simWorldKinds.get(scenario)!, seed: options.seed, nodes: options.nodes, timers, speed: options.speed ?? 1 })
  const model = new ClusterModel({ sources: [sim], faults: sim, timers, publishIntervalMs: 0 })
  return { sim, model, timers }
}

describe('tui on single-engine simulations', () => {
  it('offers every scenario whose nodes it can read, and not smoke', () => {
    expect([...simWorldKinds.keys()].sort()).toEqual(['adaptive', 'churn', 'crdt', 'gossip', 'mixed', 'pbft', 'raft', 'swim'])
  })

  for (const [name, nodes, seed] of [
    ['raft', 3, 3],
    ['pbft', 4, 2],
    ['crdt', 4, 1],
    ['gossip', 8, 1],
    ['swim', 6, 1],
  ] as const) {
    it(`${name}: run frame by frame to its end, the verdict and fingerprint of dwcp sim --seed ${seed}`, () => {
      const { sim, timers } = simulated(name, { seed, nodes, speed: 1000 })
      for (let frames = 0; frames < 10_000 && sim.getSnapshot().sim!.fingerprint === null; frames++) timers.advance(50)
      const status = sim.getSnapshot().sim!
      const scenario = scenarios.get(name)!
      const report = runScenario(scenario, { seeds: [seed], nodes, loss: scenario.defaultLoss ?? 0.01, partition: scenario.defaultPartition ?? 'flaky', crashes: true, wire: false, traceSink: null })
      expect(status.fingerprint, `seed ${seed}`).toBe(report.runs[0]!.fingerprint)
      expect(status.verdict).toBe(report.runs[0]!.verdict)
      expect(status.endUs).not.toBeNull()
      expect(status.nowUs).toBeGreaterThanOrEqual(status.endUs!)
      sim.close()
    })
  }

  it('raft --seed 3: the leader and term in Overview and Consensus, steps forward and back; Members and State say there is nothing for them', async () => {
    const { sim, model, timers } = simulated('raft', { seed: 3 })
    const { lastFrame, stdin } = renderApp(model, { sim })
    timers.advance(4_000)
    await settle()
    expect(lastFrame()).toMatch(/▶ 4\.0s\/12\.0s ×1 · raft seed 3, 5 nodes/)
    const leader = /5 nodes, \d up · leader (n\d) term (\d+)/.exec(lastFrame()!)
    expect(leader, lastFrame()).not.toBeNull()
    expect(lastFrame()).toMatch(new RegExp(`^${leader![1]}\\s+eu\\s+ok\\s+leader\\s+${leader![2]}\\s`, 'm'))
    await press(stdin, ' ', '5')
    expect(lastFrame()).toContain('· Consensus')
    expect(lastFrame()).toMatch(new RegExp(`^${leader![1]}\\s+leader\\s+${leader![2]}\\s`, 'm'))
    const events = model.getSnapshot().sim!.nowUs
    await press(stdin, '.')
    expect(model.getSnapshot().sim!.nowUs).toBeGreaterThan(events)
    await press(stdin, '[')
    timers.advance(50)
    await settle()
    expect(lastFrame()).toMatch(/❚❚ paused 0\.0s\/12\.0s/)
    await press(stdin, '.')
    expect(model.getSnapshot().sim!.nowUs).toBeGreaterThan(0)
    await press(stdin, ':', 'g', 'o', 't', 'o', ' ', '3', '\r')
    timers.advance(50)
    await settle()
    expect(lastFrame()).toMatch(/paused 3\.0s\/12\.0s/)
    expect(lastFrame()).toMatch(/^n\d\s+leader\s+\d+\s/m)
    await press(stdin, '2')
    expect(lastFrame()).toContain('no SWIM membership here: these nodes run Raft alone (see Overview, Consensus)')
    await press(stdin, '3')
    expect(lastFrame()).toContain('no CRDT store here: these nodes run Raft alone (see Overview, Consensus)')
    await press(stdin, '4')
    expect(lastFrame()).toContain('no CRDT store here: these nodes run Raft alone')
    sim.close()
  })

  it('pbft: view, primary and phase per replica in Consensus, the Byzantine one named in Overview', async () => {
    const { sim, model, timers } = simulated('pbft', { seed: 1 })
    const { lastFrame, stdin } = renderApp(model, { sim })
    timers.advance(2_000)
    await settle()
    expect(lastFrame()).toMatch(/4 nodes, \d up · no Raft group · PBFT view \d+ primary n\d/)
    expect(lastFrame()).toMatch(/^n\d\s+eu\s+\S+\s+byzantine/m)
    await press(stdin, '5')
    expect(lastFrame()).toContain('no Raft group here')
    expect(lastFrame()).toMatch(/^PBFT\s+VIEW\s+PRIMARY\s+PHASE/m)
    expect(lastFrame()!.match(/^n\d↓?\s+\d+\s+n\d\s+(normal|viewChange)\s+\d+\s+\d+/gm)).toHaveLength(4)
    sim.close()
  })

  it('crdt: keys with their digests on each replica in State, divergence in Convergence; Consensus says there is none', async () => {
    const { sim, model, timers } = simulated('crdt', { seed: 1, nodes: 4 })
    const { lastFrame, stdin } = renderApp(model, { sim, screen: 'state' })
    timers.advance(3_000)
    await settle()
    expect(lastFrame()).toMatch(/\d+ keys on 4 replicas, \d+ divergent/)
    expect(lastFrame()).toMatch(/^\S+\s+(counter|register|set|map|list|doc|pncounter|gcounter|orset|lww)\S*\s+(same|divergent)/m)
    await press(stdin, '4')
    expect(lastFrame()).toMatch(/^n1\s+\d+\s+(freshest|\d+)/m)
    await press(stdin, '5')
    expect(lastFrame()).toContain('no Raft or PBFT group here: these nodes run CRDTs alone (see State, Convergence)')
    sim.close()
  })

  it('gossip: the SWIM view of the focused node in Members', async () => {
    const { sim, model, timers } = simulated('gossip', { seed: 1, nodes: 8 })
    const { lastFrame, stdin } = renderApp(model, { sim, screen: 'members' })
    timers.advance(2_000)
    await settle()
    expect(lastFrame()).toContain('as seen by n1 · 8 members')
    expect(lastFrame()).toMatch(/^n8\s+alive/m)
    await press(stdin, '3')
    expect(lastFrame()).toContain('no CRDT store here: these nodes run SWIM alone (see Overview, Members)')
    sim.close()
  })
})
