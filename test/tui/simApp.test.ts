/**
 * The app on a live simulation source (virtual time advanced by hand): the
 * replay keys drive it, fault hotkeys go through the simulator, and a
 * thousand-member cluster renders only the rows that fit.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { cleanup } from 'ink-testing-library'
import { ClusterModel } from '../../tui/data/clusterModel.ts'
import { simWorldKinds } from '../../tui/data/sim/simKinds.ts'
import { SimSource, simPacing } from '../../tui/data/sim/simSource.ts'
import { ManualTimers } from '../../tui/data/timers.ts'
import { press, renderApp, settle, testRows } from './support/ink.ts'

afterEach(() => cleanup())

function simulated(scenario: string, nodes: number) {
  const timers = new ManualTimers()
  const sim = new SimSource({ kind: simWorldKinds.get(scenario)!, seed: 1, nodes, timers })
  const model = new ClusterModel({ sources: [sim], faults: sim, timers, publishIntervalMs: 0 })
  return { sim, model, timers }
}

describe('tui on a simulation', () => {
  it('shows the cluster as it runs; space, +, ., [ and K drive the run', async () => {
    const { sim, model, timers } = simulated('mixed', 4)
    const { lastFrame, stdin } = renderApp(model, { sim })
    timers.advance(3_000)
    await settle()
    expect(lastFrame()).toMatch(/▶ 3\.0s\/22\.0s ×1 · mixed seed 1, 4 nodes/)
    expect(lastFrame()).toMatch(/4 nodes, \d up · leader n\d term \d/)
    await press(stdin, ' ')
    expect(lastFrame()).toContain('❚❚ paused 3.0s/22.0s')
    await press(stdin, '+', '+')
    expect(lastFrame()).toContain('×5 ')
    await press(stdin, '.')
    // One step: to the next event, wherever the schedule puts it, and still paused.
    expect(lastFrame()).toMatch(/❚❚ paused [3-9]\.\ds\/22\.0s/)
    expect(model.getSnapshot().sim!.nowUs).toBeGreaterThan(3_000_000)
    await press(stdin, 'K')
    expect(lastFrame()).toContain('killed n1')
    expect(lastFrame()).toMatch(/n1\s+eu\s+down/)
    expect(lastFrame()).toMatch(/━!─/)
    await press(stdin, '[')
    timers.advance(50)
    await settle()
    // Back before the kill: n1 is up again, the fault waits on the timeline.
    expect(lastFrame()).toMatch(/paused 0\.0s\/22\.0s/)
    expect(lastFrame()).toMatch(/n1\s+eu\s+ok/)
    await press(stdin, ':', 'g', 'o', 't', 'o', ' ', '4', '\r')
    timers.advance(50)
    await settle()
    expect(lastFrame()).toMatch(/paused 4\.0s/)
    expect(lastFrame()).toMatch(/n1\s+eu\s+down/)
    sim.close()
  })

  it('a thousand members: the Members view renders the rows that fit, and moves through them', async () => {
    const { sim, model, timers } = simulated('churn', 1_000)
    const { lastFrame, stdin } = renderApp(model, { sim, screen: 'members' })
    timers.advance(1_000)
    await settle()
    expect(lastFrame()).toContain('as seen by n1 · 1000 members')
    expect(lastFrame()!.split('\n').length).toBeLessThanOrEqual(testRows)
    expect(lastFrame()).toMatch(/^n1\s+alive/m)
    expect(lastFrame()).not.toMatch(/^n500\s/m)
    await press(stdin, ':', 's', 'o', 'r', 't', ' ', 'i', 'd', '\r', 'G')
    expect(lastFrame()).toMatch(/^n1000\s+alive/m)
    expect(lastFrame()).not.toMatch(/^n1\s+alive/m)
    // Each node's status is read in turn, a few per frame: after a round every row has its counts.
    timers.advance((1_000 / simPacing.statusNodesPerFrame) * simPacing.frameIntervalMs + 100)
    const nodes = model.getSnapshot().nodes
    expect(nodes.every((node) => !node.up || (node.snapshot?.kind === 'gossip' && node.snapshot.gossip.status !== null))).toBe(true)
    expect(nodes.filter((node) => node.snapshot?.kind === 'gossip' && node.snapshot.gossip.members !== null).map((node) => node.id)).toEqual(['n1'])
    await press(stdin, '1')
    expect(lastFrame()).toMatch(/1000 nodes, \d+ up · no Raft group/)
    expect(lastFrame()).toMatch(/^n2\s+us\s+\S+\s+gossip.*\d+\/\d+\/\d+/m)
    sim.close()
  })
})
