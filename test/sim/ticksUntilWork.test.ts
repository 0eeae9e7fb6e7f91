/**
 * Each engine's `ticksUntilWork` (core/ready.ts) against what its ticks do:
 * every engine of a faulty scenario run (loss, partitions, crashes, client
 * load) is watched in place, with every-tick hosts. After each input that
 * leaves it idle the watcher asks for the deadline k; each tick before the
 * k-th must leave the engine with no Ready (nothing sent, written, applied or
 * reported). A tick with work before its deadline is a violation: a sleeping
 * host would have slept through it.
 */
import { describe, expect, it } from 'vitest'
import { GossipEngine } from '../../core/gossip/engine.ts'
import type { Engine } from '../../core/ready.ts'
import type { ScenarioOptions } from '../../sim/scenario.ts'
import { runCrdt, crdtSpec } from '../../sim/scenarios/crdt.ts'
import { mixedScenario } from '../../sim/scenarios/mixed.ts'
import { runPbft } from '../../sim/scenarios/pbft.ts'
import { raftSpecFor, runRaft } from '../../sim/scenarios/raft.ts'
import { replicaPlanSteps } from '../../sim/scenarios/replicaRun.ts'
import { runSwim } from '../../sim/scenarios/swim.ts'

interface Watch {
  /** Predictions checked (each over the ticks until its deadline or the next input). */
  predictions: number
  /** Ticks checked to be quiet. */
  quietTicks: number
  /** Ticks that had work before their engine's deadline, described. */
  readonly early: string[]
}

type AnyEngine = Engine<unknown, unknown, unknown, unknown> & { ticksUntilWork(): number }

/** Watches `engine` in place: its kernel calls the patched methods. */
function watch<T extends object>(target: T, watched: Watch, label: string): T {
  const engine = target as unknown as AnyEngine
  const inner = { tick: engine.tick.bind(engine), step: engine.step.bind(engine), propose: engine.propose.bind(engine), advance: engine.advance.bind(engine) }
  let deadline = 0
  let ticksSince = 0
  const predict = () => {
    if (engine.hasReady()) return
    deadline = engine.ticksUntilWork()
    ticksSince = 0
    watched.predictions++
  }
  engine.tick = () => {
    ticksSince++
    inner.tick()
    if (!engine.hasReady()) {
      if (ticksSince < deadline) watched.quietTicks++
      return
    }
    if (ticksSince < deadline && watched.early.length < 5) watched.early.push(`${label} ${engine.id}: work at tick ${ticksSince} of a deadline of ${deadline}`)
  }
  engine.step = (from, message) => {
    const refusal = inner.step(from, message)
    predict()
    return refusal
  }
  engine.propose = (command) => {
    const refusal = inner.propose(command)
    predict()
    return refusal
  }
  engine.advance = (ready) => {
    inner.advance(ready)
    predict()
  }
  predict()
  return target
}

const seeds = [1, 2, 3]
const base = (seed: number, nodes: number): ScenarioOptions => ({ seed, nodes, loss: 0.02, partition: 'flaky', crashes: true, wire: false, trace: null })

function expectExact(watched: Watch, seed: number): void {
  expect(watched.early, `seed ${seed}`).toEqual([])
  expect(watched.predictions).toBeGreaterThan(100)
  expect(watched.quietTicks).toBeGreaterThan(100)
}

describe('ticksUntilWork: no tick before the deadline has work', () => {
  it.each(seeds)('raft (seed %i)', (seed) => {
    const watched: Watch = { predictions: 0, quietTicks: 0, early: [] }
    const spec = raftSpecFor(seed)
    const result = runRaft(base(seed, 5), { ...spec, create: (context) => watch(spec.create(context), watched, 'raft') })
    expect(result.violations, `seed ${seed}`).toEqual([])
    expectExact(watched, seed)
  })

  it.each(seeds)('gossip (SWIM, seed %i)', (seed) => {
    const watched: Watch = { predictions: 0, quietTicks: 0, early: [] }
    const result = runSwim({ ...base(seed, 12), loss: 0.05 }, (options) => watch(new GossipEngine(options), watched, 'gossip'))
    expect(result.violations, `seed ${seed}`).toEqual([])
    expectExact(watched, seed)
  })

  it.each(seeds)('crdt (seed %i)', (seed) => {
    const watched: Watch = { predictions: 0, quietTicks: 0, early: [] }
    const result = runCrdt(base(seed, 6), { ...crdtSpec, create: (context) => watch(crdtSpec.create(context), watched, 'crdt') })
    expect(result.violations, `seed ${seed}`).toEqual([])
    expectExact(watched, seed)
  })

  it.each(seeds)('pbft (seed %i)', (seed) => {
    const watched: Watch = { predictions: 0, quietTicks: 0, early: [] }
    const result = runPbft(base(seed, 4), { wrapCorrect: (engine) => (watch(engine.engine, watched, 'pbft'), engine) })
    expect(result.violations, `seed ${seed}`).toEqual([])
    expectExact(watched, seed)
  })

  it.each(seeds)('replica: every engine, the prober and the replica timers (mixed scenario, seed %i)', (seed) => {
    const watched: Watch = { predictions: 0, quietTicks: 0, early: [] }
    const steps = replicaPlanSteps(mixedScenario.plan, { ...base(seed, 6), loss: 0 })
    const sim = steps.next().value
    if (sim === undefined || !('nodes' in sim)) throw new Error('the run did not yield its simulator')
    for (const node of sim.nodes) if (node.engine !== null) watch(node.engine, watched, 'replica')
    sim.observers.push({ onStart: (node) => void (node.engine !== null && watch(node.engine, watched, 'replica')) })
    const result = steps.next().value
    if (result === undefined || 'nodes' in result) throw new Error('the run did not end')
    expect(result.violations, `seed ${seed}`).toEqual([])
    expectExact(watched, seed)
  })
})
