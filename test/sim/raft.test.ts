import { describe, expect, it } from 'vitest'
import { KvStateMachine } from '../../core/kv.ts'
import { RaftEngine, type RaftApplied, type RaftCommand, type RaftEvent } from '../../core/raft/engine.ts'
import type { RaftMessage } from '../../core/raft/messages.ts'
import { emptyReady, type Ready } from '../../core/ready.ts'
import { runScenario } from '../../sim/runner.ts'
import { acknowledgedOpsPerKeyMin, raftScenario, raftScheduleFor, raftSpec, raftSpecFor, runRaft } from '../../sim/scenarios/raft.ts'
import { raftSchedules } from '../../sim/scenarios/raftSchedules.ts'

const seeds = (from: number, count: number) => Array.from({ length: count }, (_, index) => from + index)

function expectHolds(options: { from: number; count: number; nodes: number; partition: 'flaky' | 'halves' | 'oneway'; loss: number }): void {
  const report = runScenario(raftScenario, { seeds: seeds(options.from, options.count), nodes: options.nodes, loss: options.loss, partition: options.partition, crashes: true, wire: false, traceSink: null })
  const failed = report.runs.filter((run) => run.violations > 0).map((run) => run.seed)
  // Each failing seed replays with: npx dwcp sim raft --seed N --nodes ... (printed here).
  expect(failed.map((seed) => `npx dwcp sim raft --seed ${seed} --nodes ${options.nodes} --partition ${options.partition} --loss ${options.loss}`)).toEqual([])
  expect(report.violations).toEqual([])
  expect(report.verdict).toBe('ok')
  expect(report.metrics['linearizabilityUnknown']).toBe(0)
  expect(report.metrics['commits']).toBeGreaterThan(options.count * 100)
  // Every schedule ran (they take turns two seeds each), and the targeted ones ran their cycles.
  if (options.count >= 2 * raftSchedules.length) for (const schedule of raftSchedules) expect(report.metrics[`schedule.${schedule}`], schedule).toBeGreaterThan(0)
  expect(report.metrics['schedule.cycles']).toBeGreaterThan(0)
}

const runOptions = (seed: number, nodes = 5) => ({ seed, nodes, loss: 0.02, partition: 'flaky' as const, crashes: true, wire: false, trace: null })

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

  it("reaches the figure-8 return in its schedule: a leader applies an earlier term's entry and the conflicting log comes back", { timeout: 60_000 }, () => {
    const figure8Seeds = seeds(1, 40)
      .filter((seed) => raftScheduleFor(runOptions(seed)) === 'figure8')
      .slice(0, 4)
    const returns = figure8Seeds.map((seed) => runRaft(runOptions(seed)).metrics['schedule.figure8Returns']!)
    // Seeds: figure8Seeds; replay with npx dwcp sim raft --seed N.
    expect(returns.filter((count) => count > 0).length, `figure8 seeds ${figure8Seeds.join(', ')}: ${returns.join(', ')}`).toBeGreaterThanOrEqual(figure8Seeds.length - 1)
  })

  it('catches a host that answers reads at any node that believes it leads (a lease that never expires)', { timeout: 60_000 }, () => {
    // The engine is right; the host is not: it serves reads from its own copy of the applied state without asking the engine.
    const deposedSeeds = seeds(1, 20)
      .filter((seed) => raftScheduleFor(runOptions(seed)) === 'deposedLeader')
      .slice(0, 4)
    const caught = deposedSeeds.filter((seed) => {
      const spec = raftSpecFor(seed)
      const stale = { ...spec, create: (context: Parameters<typeof spec.create>[0]) => new LocalReadHost(spec.create(context) as RaftEngine) }
      return runRaft(runOptions(seed), stale as never).violations.some((violation) => violation.invariant === 'linearizability' && violation.kind === 'safety')
    })
    expect(caught, `deposedLeader seeds ${deposedSeeds.join(', ')}`).toEqual(deposedSeeds)
  })

  it('reports a run that did no work as a liveness violation, never ok', () => {
    const spec = raftSpecFor(1)
    const refusing = { ...spec, create: (context: Parameters<typeof spec.create>[0]) => new RefusingHost(spec.create(context) as RaftEngine) }
    const result = runRaft(runOptions(1, 3), refusing as never)
    expect(result.violations.map((violation) => `${violation.kind}:${violation.invariant}`).sort()).toEqual(['liveness:enoughWork', 'liveness:progress', 'liveness:readsAfterHealing'])
    expect(result.violations.find((violation) => violation.invariant === 'enoughWork')!.message).toContain(`acknowledgedOpsPerKeyMin=${acknowledgedOpsPerKeyMin}`)
  })

  it("catches a host that hands an older term's append to the engine as one of its current term (a stale leader followed)", { timeout: 120_000 }, () => {
    // The engine is right; the host is not: it rewrites the term of a late append from a deposed leader.
    const spec = raftSpecFor(2)
    const forging = { ...spec, create: (context: Parameters<typeof spec.create>[0]) => new StaleTermForgingHost(spec.create(context) as RaftEngine) }
    // The late append must reach a follower that has moved on to a new term: about one seed in ten meets it.
    const checkedSeeds = seeds(1, 24)
    const caughtSeeds = checkedSeeds.filter((seed) => runRaft(runOptions(seed), forging as never).violations.some((violation) => violation.invariant === 'oneLeaderPerTerm'))
    // Replay a seed with npx dwcp sim raft --seed N (the host is this test's).
    expect(caughtSeeds.length, `seeds ${checkedSeeds.join(', ')}: caught at ${caughtSeeds.join(', ')}`).toBeGreaterThan(0)
  })

  it('catches a host that skips the sync Raft asks for (votes and entries lost in crashes)', () => {
    // The engine is right; the host is not: it never syncs, so a crash may lose a vote or an acknowledged entry.
    const unsynced = {
      ...raftSpec,
      create: (context: Parameters<typeof raftSpec.create>[0]) => new NoSyncHost(raftSpec.create(context) as RaftEngine),
    }
    const invariants = new Set<string>()
    for (const seed of seeds(1, 40)) for (const violation of runRaft({ seed, nodes: 3, loss: 0.02, partition: 'flaky', crashes: true, wire: false, trace: null }, unsynced as never).violations) invariants.add(violation.invariant)
    expect([...invariants].filter((invariant) => invariant !== 'progress').length).toBeGreaterThan(0)
  })
})

/** Delegates everything to the engine it wraps. */
class HostWrapper {
  protected readonly engine: RaftEngine
  readonly id: string

  constructor(engine: RaftEngine) {
    this.engine = engine
    this.id = engine.id
  }

  status() {
    return this.engine.status()
  }
  entry(index: number) {
    return this.engine.entry(index)
  }
  step(from: string, message: RaftMessage) {
    return this.engine.step(from, message)
  }
  tick() {
    this.engine.tick()
  }
  propose(command: RaftCommand) {
    return this.engine.propose(command)
  }
  hasReady() {
    return this.engine.hasReady()
  }
  ready(): Ready<RaftMessage, RaftApplied, RaftEvent> {
    return this.engine.ready()
  }
  advance(ready: Ready<RaftMessage, RaftApplied, RaftEvent>) {
    this.engine.advance(ready)
  }
}

/** Hands the engine's Readies out with mustSync cleared. */
class NoSyncHost extends HostWrapper {
  private readonly originals = new Map<object, Ready<RaftMessage, RaftApplied, RaftEvent>>()

  override ready() {
    const ready = this.engine.ready()
    const copy = { ...ready, mustSync: false }
    this.originals.set(copy, ready)
    return copy
  }
  override advance(ready: Ready<RaftMessage, RaftApplied, RaftEvent>) {
    this.engine.advance(this.originals.get(ready) ?? ready)
    this.originals.delete(ready)
  }
}

/** Refuses every client command, as a node that never gets anything done. */
class RefusingHost extends HostWrapper {
  override propose(command: RaftCommand) {
    return command.type === 'propose' || command.type === 'read' ? { code: 'notLeader', message: 'refused by the test host', leader: null } : this.engine.propose(command)
  }
}

/** Steps an append of an older term as if it carried the node's current term. */
class StaleTermForgingHost extends HostWrapper {
  override step(from: string, message: RaftMessage) {
    if (message.type === 'append') {
      const { term, role } = this.engine.status()
      if (message.term < term && role === 'follower') return this.engine.step(from, { ...message, term })
    }
    return this.engine.step(from, message)
  }
}

/** Answers a read at once while the engine calls itself leader, from a copy of the state it applied. */
class LocalReadHost extends HostWrapper {
  private readonly kv = new KvStateMachine()
  private answers: RaftApplied[] = []
  private readonly originals = new Map<object, Ready<RaftMessage, RaftApplied, RaftEvent>>()
  /** Snapshots leaders sent here since the last Ready, by index: the state to take when the engine reports one installed. */
  private readonly snapshotsReceived = new Map<number, Uint8Array>()

  override step(from: string, message: RaftMessage) {
    if (message.type === 'snapshot') this.snapshotsReceived.set(message.snapshot.index, message.snapshot.data)
    return this.engine.step(from, message)
  }
  override propose(command: RaftCommand) {
    const status = this.engine.status()
    if (command.type !== 'read' || status.role !== 'leader') return this.engine.propose(command)
    this.answers.push({ type: 'read', readId: command.readId, index: status.commit, reply: this.kv.query(command.query) })
    return null
  }
  override hasReady() {
    return this.engine.hasReady() || this.answers.length > 0
  }
  override ready() {
    const ready = this.engine.hasReady() ? this.engine.ready() : (emptyReady as Ready<RaftMessage, RaftApplied, RaftEvent>)
    for (const applied of ready.applied) {
      if (applied.type === 'entry' && applied.kind === 'command') this.kv.apply(applied.data)
      else if (applied.type === 'snapshotInstalled') this.kv.restore(this.snapshotsReceived.get(applied.index)!)
    }
    this.snapshotsReceived.clear()
    const copy = { ...ready, applied: [...ready.applied, ...this.answers] }
    this.answers = []
    this.originals.set(copy, ready)
    return copy
  }
  override advance(ready: Ready<RaftMessage, RaftApplied, RaftEvent>) {
    this.engine.advance(this.originals.get(ready) ?? ready)
    this.originals.delete(ready)
  }
}
