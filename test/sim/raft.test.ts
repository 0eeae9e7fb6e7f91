import { describe, expect, it } from 'vitest'
import { RaftEngine, type RaftApplied, type RaftEvent } from '../../core/raft/engine.ts'
import type { RaftMessage } from '../../core/raft/messages.ts'
import type { Ready } from '../../core/ready.ts'
import { runScenario } from '../../sim/runner.ts'
import { raftScenario, raftSpec, runRaft } from '../../sim/scenarios/raft.ts'

const seeds = (from: number, count: number) => Array.from({ length: count }, (_, index) => from + index)

function expectHolds(options: { from: number; count: number; nodes: number; partition: 'flaky' | 'halves' | 'oneway'; loss: number }): void {
  const report = runScenario(raftScenario, { seeds: seeds(options.from, options.count), nodes: options.nodes, loss: options.loss, partition: options.partition, crashes: true, wire: false, traceSink: null })
  const failed = report.runs.filter((run) => run.violations > 0).map((run) => run.seed)
  // Each failing seed replays with: npx dwcp sim raft --seed N --nodes ... (printed here).
  expect(failed.map((seed) => `npx dwcp sim raft --seed ${seed} --nodes ${options.nodes} --partition ${options.partition} --loss ${options.loss}`)).toEqual([])
  expect(report.violations).toEqual([])
  expect(report.metrics['linearizabilityUnknown']).toBe(0)
  expect(report.metrics['commits']).toBeGreaterThan(options.count * 100)
}

describe('raft scenario', () => {
  it('keeps every safety property and linearizable histories over 120 seeds of 5 nodes, every fault on', { timeout: 300_000 }, () => {
    expectHolds({ from: 1, count: 120, nodes: 5, partition: 'flaky', loss: 0.02 })
  })

  it('holds on 3 and 7 nodes, under lasting splits and one-way cuts (80 seeds)', { timeout: 300_000 }, () => {
    expectHolds({ from: 1001, count: 20, nodes: 3, partition: 'halves', loss: 0.05 })
    expectHolds({ from: 2001, count: 20, nodes: 7, partition: 'oneway', loss: 0.05 })
    expectHolds({ from: 3001, count: 20, nodes: 7, partition: 'flaky', loss: 0.1 })
    expectHolds({ from: 4001, count: 20, nodes: 4, partition: 'flaky', loss: 0.02 })
  })

  it('runs the same seed to the same result, through the wire codec too', () => {
    const base = { seed: 9, nodes: 5, loss: 0.02, partition: 'flaky' as const, crashes: true, wire: false, trace: null }
    expect(runRaft(base).fingerprint).toBe(runRaft(base).fingerprint)
    expect(runRaft({ ...base, wire: true }).violations).toEqual([])
  })

  it('catches a host that skips the sync Raft asks for (votes and entries lost in crashes)', () => {
    // The engine is right; the host is not: it never syncs, so a crash may lose a vote or an acknowledged entry.
    const unsynced = {
      codec: raftSpec.codec,
      create: (context: Parameters<typeof raftSpec.create>[0]) => new NoSyncHost(raftSpec.create(context) as RaftEngine),
    }
    const invariants = new Set<string>()
    for (const seed of seeds(1, 40)) for (const violation of runRaft({ seed, nodes: 3, loss: 0.02, partition: 'flaky', crashes: true, wire: false, trace: null }, unsynced as never).violations) invariants.add(violation.invariant)
    expect([...invariants].filter((invariant) => invariant !== 'progress').length).toBeGreaterThan(0)
  })
})

/** Hands the engine's Readies out with mustSync cleared. */
class NoSyncHost {
  private readonly engine: RaftEngine
  private readonly originals = new Map<object, Ready<RaftMessage, RaftApplied, RaftEvent>>()
  readonly id: string

  constructor(engine: RaftEngine) {
    this.engine = engine
    this.id = engine.id
  }

  get role() {
    return this.engine.role
  }
  get log() {
    return this.engine.log
  }
  get term() {
    return this.engine.term
  }
  get membership() {
    return this.engine.membership
  }
  get metrics() {
    return this.engine.metrics
  }
  step(from: string, message: RaftMessage) {
    return this.engine.step(from, message)
  }
  tick() {
    this.engine.tick()
  }
  propose(command: Parameters<RaftEngine['propose']>[0]) {
    return this.engine.propose(command)
  }
  hasReady() {
    return this.engine.hasReady()
  }
  ready() {
    const ready = this.engine.ready()
    const copy = { ...ready, mustSync: false }
    this.originals.set(copy, ready)
    return copy
  }
  advance(ready: Ready<RaftMessage, RaftApplied, RaftEvent>) {
    this.engine.advance(this.originals.get(ready) ?? ready)
    this.originals.delete(ready)
  }
}

