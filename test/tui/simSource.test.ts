/**
 * The simulation source: paced virtual time, pause, step, speed, jumps back
 * that replay the same run from the seed (with the faults injected by hand
 * at their times), violations marked where they happen, and a stepped run
 * that ends with the same verdict and fingerprint as `dwcp sim`.
 */
import { describe, expect, it } from 'vitest'
import { replicaOf } from '../../tui/data/nodeSnapshot.ts'
import { simWorldKinds } from '../../tui/data/sim/simKinds.ts'
import { SimSource, simPacing } from '../../tui/data/sim/simSource.ts'
import type { SimWorld, SimWorldKind, WorldEvent } from '../../tui/data/sim/simWorld.ts'
import type { SourceState } from '../../tui/data/sourceState.ts'
import { ManualTimers } from '../../tui/data/timers.ts'
import { timeline } from '../../tui/components/StatusBar.ts'
import { runScenario } from '../../sim/runner.ts'
import { mixedScenario } from '../../sim/scenarios/mixed.ts'

const mixed = simWorldKinds.get('mixed')!
const nodes = 4

function source(options: { seed?: number; play?: boolean; speed?: number; kind?: SimWorldKind } = {}) {
  const timers = new ManualTimers()
  const sim = new SimSource({ kind: options.kind ?? mixed, seed: options.seed ?? 1, nodes, timers, play: options.play ?? true, speed: options.speed ?? 1 })
  return { sim, timers, state: () => sim.getSnapshot() }
}

/** What the replicas that are up hold (a down node shows its last snapshot seen, from whenever the screen last looked): equal states give equal fingerprints. */
function fingerprint(state: SourceState): string {
  return JSON.stringify(
    state.nodes.map((node) => {
      if (!node.up) return [node.id, false]
      const replica = replicaOf(node.snapshot)
      return [node.id, node.up, replica?.storeDigest, replica?.raft?.term, replica?.raft?.commit, replica?.raft?.role, replica?.members.map((member) => member.state).join('')]
    }),
  )
}

function engineEvents(state: SourceState): string[] {
  return state.events.filter((event) => event.seq !== null).map((event) => `${event.atMs} ${event.node} ${event.kind} ${event.text}`)
}

describe('tui simulation source', () => {
  it('plays at the speed asked for, frame by frame; pauses; steps to the next event', () => {
    const { sim, timers, state } = source({ speed: 2 })
    expect(state().sim!.nowUs).toBe(0)
    timers.advance(1_000)
    expect(state().sim!.nowUs).toBe(2_000_000)
    expect(state().sim!.playing).toBe(true)
    expect(state().nodes.map((node) => node.id)).toEqual(['n1', 'n2', 'n3', 'n4'])
    expect(state().nodes.every((node) => replicaOf(node.snapshot)?.raft !== null)).toBe(true)
    sim.pause()
    timers.advance(1_000)
    expect(state().sim!.nowUs).toBe(2_000_000)
    expect(timers.pendingCount).toBe(0)
    const eventsBefore = state().eventsTotal
    sim.step()
    expect(state().eventsTotal).toBeGreaterThan(eventsBefore)
    expect(state().sim!.nowUs).toBeGreaterThan(2_000_000)
    expect(state().sim!.nowUs).toBeLessThanOrEqual(2_000_000 + simPacing.stepMaxUs)
    sim.changeSpeed(1)
    expect(state().sim!.speed).toBe(5)
    sim.setSpeed(1000)
    sim.changeSpeed(1)
    expect(state().sim!.speed).toBe(1000)
    expect(() => sim.setSpeed(5000)).toThrow(/speed must be/)
    sim.close()
  })

  it('jumps back by replaying from the seed, injected faults included: the same run again', async () => {
    const { sim, timers, state } = source()
    timers.advance(2_000)
    await sim.inject({ kind: 'kill', node: 'n1' })
    expect(state().nodes[0]!.up).toBe(false)
    timers.advance(1_000)
    const first = { at: state().sim!.nowUs, fingerprint: fingerprint(state()), events: engineEvents(state()) }
    expect(first.at).toBe(3_000_000)
    expect(state().sim!.faults).toEqual([{ atUs: 2_000_000, text: 'killed n1' }])

    sim.seek(1_000_000)
    expect(state().sim!.nowUs).toBe(0)
    timers.advance(50)
    expect(state().sim!.nowUs).toBe(1_000_000)
    expect(state().nodes[0]!.up).toBe(true)
    sim.seek(3_000_000)
    timers.advance(50)
    expect(state().sim!.nowUs).toBe(3_000_000)
    expect(fingerprint(state())).toBe(first.fingerprint)
    expect(engineEvents(state())).toEqual(first.events)
    expect(state().nodes[0]!.up).toBe(false)
    expect(state().events.some((event) => event.text === 'killed n1 (replayed)')).toBe(true)

    // :reset forgets the fault: from 0 again, n1 stays up (the scenario crashes only the other nodes this early).
    sim.reset()
    sim.seek(3_000_000)
    timers.advance(50)
    expect(state().nodes[0]!.up).toBe(true)
    expect(state().sim!.faults).toEqual([])
    sim.close()
  })

  it('partition, latency and heal go through the simulator; an unknown node is refused', async () => {
    const { sim, timers } = source({ play: false })
    await expect(sim.inject({ kind: 'partition', node: 'n2' })).resolves.toBe('partitioned n2 from the other 3 nodes')
    await expect(sim.inject({ kind: 'latency', node: 'n1', rttMs: 300 })).resolves.toBe('300 ms round trips on every link of n1')
    await expect(sim.inject({ kind: 'heal' })).resolves.toBe('healed every link')
    await expect(sim.inject({ kind: 'kill', node: 'n9' })).rejects.toThrow('no node n9 in this simulation')
    expect(timers.pendingCount).toBe(0)
    sim.close()
  })

  it("marks violations where they happen: a checker's at the end, an engine that throws where it threw", () => {
    const { sim, timers, state } = source({ kind: fakeKind({ throwAtUs: null }), play: true })
    timers.advance(1_500)
    const status = state().sim!
    expect(status.verdict).toBe('safety')
    expect(status.violations).toEqual([{ seed: 1, invariant: 'planted', kind: 'safety', atMs: 500, message: 'planted at 500 ms' }])
    expect(state().events.some((event) => event.source === 'violation' && event.kind === 'planted')).toBe(true)
    expect(timeline(status, 10)).toBe('━━━━━✗━━━━')
    // Jumping back keeps what the end showed: the same run, the same violation.
    sim.seek(200_000)
    timers.advance(50)
    expect(state().sim!.violations).toHaveLength(1)
    expect(timeline(state().sim!, 10)).toBe('━━───✗────')
    sim.close()

    const crashing = source({ kind: fakeKind({ throwAtUs: 300_000 }), play: true })
    crashing.timers.advance(1_000)
    const stopped = crashing.state().sim!
    expect(stopped.stopped).toBe('Error: planted assertion')
    expect(stopped.playing).toBe(false)
    expect(stopped.violations).toMatchObject([{ invariant: 'noCrash', kind: 'crash', atMs: 300 }])
    crashing.sim.close()
  })

  it('a stepped run ends with the verdict and fingerprint `dwcp sim` gives the same seed', () => {
    const { sim, timers, state } = source({ seed: 2, speed: 1000 })
    timers.advance(200)
    const status = state().sim!
    expect(status.nowUs).toBeGreaterThanOrEqual(mixedScenario.plan.endUs)
    const report = runScenario(mixedScenario, { seeds: [2], nodes, loss: 0, partition: 'flaky', crashes: true, wire: false, traceSink: null })
    expect(status.verdict).toBe(report.verdict)
    expect(status.fingerprint).toBe(report.runs[0]!.fingerprint)
    sim.close()
  })
})

/** A small world: an event every 100 ms of virtual time, one planted violation at 500 ms reported at its end (1 s), or an assertion thrown at `throwAtUs`. */
function fakeKind(options: { throwAtUs: number | null }): SimWorldKind {
  return {
    name: 'fake',
    summary: 'a planted violation',
    defaultNodes: 2,
    nodesMin: 1,
    nodesMax: 4,
    create: ({ seed, nodes: count = 2 }) => {
      let nowUs = 0
      let result: SimWorld['result'] = null
      const world: SimWorld = {
        scenario: 'fake',
        seed,
        nodeCount: count,
        endUs: 1_000_000,
        get nowUs() {
          return nowUs
        },
        get result() {
          return result
        },
        onEvent: null,
        runUntil(untilUs) {
          for (let at = Math.floor(nowUs / 100_000 + 1) * 100_000; at <= untilUs; at += 100_000) {
            nowUs = at
            if (options.throwAtUs !== null && at >= options.throwAtUs) throw new Error('planted assertion')
            const event: WorldEvent = { kind: 'note', node: 0, text: `tick ${at}` }
            world.onEvent?.(event)
            if (at === 1_000_000) result = { seed, violations: [{ seed, invariant: 'planted', kind: 'safety', atMs: 500, message: 'planted at 500 ms' }], violationsDropped: 0, metrics: {}, fingerprint: 'f' }
          }
          nowUs = untilUs
        },
        node: (index) => ({ id: `n${index + 1}`, region: 'eu', up: true }),
        snapshot: () => null,
        readKey: () => null,
        apply: () => 'applied',
      }
      return world
    },
  }
}
