import { describe, expect, it } from 'vitest'
import type { NodeId } from '../../core/ports.ts'
import type { Ready, Refusal } from '../../core/ready.ts'
import type { PbftApplied, PbftCommand, PbftEvent } from '../../core/pbft/engine.ts'
import type { PbftMessage } from '../../core/pbft/messages.ts'
import { byzantineModes, collusionModes, type PbftEngineLike } from '../../sim/byzantine.ts'
import { evidenceByMode } from '../../sim/checkers/pbftWitness.ts'
import type { PartitionMode } from '../../sim/faults.ts'
import { runScenario } from '../../sim/runner.ts'
import type { ScenarioOptions } from '../../sim/scenario.ts'
import { pbftScenario, runPbft, type PbftRunHooks } from '../../sim/scenarios/pbft.ts'

type PbftReady = Ready<PbftMessage, PbftApplied, PbftEvent>

const seeds = (from: number, count: number) => Array.from({ length: count }, (_, index) => from + index)
const run = (seed: number, options: Partial<ScenarioOptions> = {}, hooks: PbftRunHooks = {}) => runPbft({ seed, nodes: 4, loss: 0.02, partition: 'flaky', crashes: false, wire: false, trace: null, ...options }, hooks)

/** Runs seeds with f Byzantine replicas (the mode cycles with the seed) and network faults; every invariant must hold. */
function expectHolds(options: { from: number; count: number; nodes: number; partition: PartitionMode; loss: number; decisionsPerSeedMin: number }): Record<string, unknown> {
  const report = runScenario(pbftScenario, { seeds: seeds(options.from, options.count), nodes: options.nodes, loss: options.loss, partition: options.partition, crashes: false, wire: false, traceSink: null })
  const failed = report.runs.filter((held) => held.violations > 0).map((held) => held.seed)
  // Each failing seed replays with the command printed here.
  expect(failed.map((seed) => `npx dwcp sim pbft --seed ${seed} --nodes ${options.nodes} --partition ${options.partition} --loss ${options.loss}`)).toEqual([])
  expect(report.violations).toEqual([])
  const metrics = report.metrics as Record<string, number> & Record<string, Record<string, number>>
  expect(metrics['requestsAnswered']).toBe(metrics['requestsProposed'])
  expect(metrics['decisions']).toBeGreaterThanOrEqual(options.count * options.decisionsPerSeedMin)
  return metrics
}

describe('pbft scenario', () => {
  it('keeps agreement, at-most-once, replies and evidence over 84 seeds of 4 replicas, one Byzantine of every mode, with network faults', { timeout: 120_000 }, () => {
    const metrics = [
      expectHolds({ from: 1, count: 56, nodes: 4, partition: 'flaky', loss: 0.02, decisionsPerSeedMin: 100 }),
      // A 2|2 split leaves no quorum on either side until it heals: the requests of the window and those after it decide then.
      expectHolds({ from: 101, count: 14, nodes: 4, partition: 'halves', loss: 0.02, decisionsPerSeedMin: 3 }),
      expectHolds({ from: 201, count: 14, nodes: 4, partition: 'oneway', loss: 0.05, decisionsPerSeedMin: 3 }),
    ]
    // Every mode ran, and each that leaves evidence was caught at least once where it could be seen.
    for (const mode of byzantineModes) {
      const replicas = metrics.reduce((sum, held) => sum + (held['evidence'] as Record<string, { replicas: number }>)[mode]!.replicas, 0)
      expect(replicas, mode).toBeGreaterThan(0)
      if (evidenceByMode[mode].length === 0) continue
      const required = metrics.reduce((sum, held) => sum + (held['evidence'] as Record<string, { required: number }>)[mode]!.required, 0)
      expect(required, mode).toBeGreaterThan(0)
    }
  })

  it('holds while correct replicas lose power and restart from storage (up to f down at once, beside f Byzantine)', { timeout: 120_000 }, () => {
    for (const [nodes, from, count] of [
      [4, 501, 27],
      [7, 5001, 9],
    ] as const) {
      const report = runScenario(pbftScenario, { seeds: seeds(from, count), nodes, loss: 0.02, partition: 'flaky', crashes: true, wire: false, traceSink: null })
      const failed = report.runs.filter((held) => held.violations > 0).map((held) => held.seed)
      expect(failed.map((seed) => `npx dwcp sim pbft --seed ${seed} --nodes ${nodes}`)).toEqual([])
      const metrics = report.metrics as Record<string, number>
      expect(metrics['crashes'], `${nodes} replicas`).toBeGreaterThanOrEqual(count * 2)
      // Every request is answered, except those whose gateway crashed under them (their clients gave up).
      expect(metrics['requestsAnswered']! + metrics['requestsLostToCrash']!).toBe(metrics['requestsProposed'])
      expect(metrics['decisions'], `${nodes} replicas`).toBeGreaterThanOrEqual(count * 50)
    }
  })

  it('holds over 49 seeds of 7 replicas, two Byzantine of every mode', { timeout: 120_000 }, () => {
    expectHolds({ from: 1001, count: 42, nodes: 7, partition: 'flaky', loss: 0.02, decisionsPerSeedMin: 50 })
    // Seeds 2001 and 2005 stalled after healing while a replica that timed out alone climbed views by itself.
    expectHolds({ from: 2001, count: 7, nodes: 7, partition: 'oneway', loss: 0.02, decisionsPerSeedMin: 3 })
  })

  it('holds against the quorum attacks: colluding equivocation across a split, and a view change that leaves out the replicas that prepared', { timeout: 120_000 }, () => {
    for (const mode of collusionModes) {
      for (const nodes of [4, 7]) {
        const count = nodes === 4 ? 8 : 3
        const from = nodes === 4 ? 301 : 3001
        const report = runScenario(pbftScenario, { seeds: seeds(from, count), nodes, loss: 0.02, partition: 'flaky', crashes: false, wire: false, byzantineMode: mode, traceSink: null })
        const failed = report.runs.filter((held) => held.violations > 0).map((held) => held.seed)
        expect(failed.map((seed) => `npx dwcp sim pbft --seed ${seed} --nodes ${nodes} --mode ${mode}`)).toEqual([])
        const metrics = report.metrics as Record<string, number>
        expect(metrics['requestsAnswered'], `${mode} on ${nodes}`).toBe(metrics['requestsProposed'])
        // Each seed struck at least once, and did real work.
        expect(metrics['strikes'], `${mode} on ${nodes}`).toBeGreaterThanOrEqual(count)
        expect(metrics['decisions'], `${mode} on ${nodes}`).toBeGreaterThanOrEqual(count * 50)
        // splitQuorum reaches the dangerous state: correct replicas prepared batches that the group then ordered
        // otherwise (a commit quorum of 2f would have committed and lost them).
        if (mode === 'splitQuorum') expect(metrics['preparedSupersededSeqs'], `${mode} on ${nodes}`).toBeGreaterThanOrEqual(count)
      }
    }
  })

  it('answers after healing when the new view orders again slots some replicas decided in an earlier one', () => {
    // These stalled while a replica never resent its votes for a slot it had decided in an earlier view: with f
    // replicas silent, every correct replica's vote is needed.
    expect(run(39010, { nodes: 7, loss: 0.05, byzantineMode: 'silent' }).violations).toEqual([])
    expect(run(33001, { nodes: 7, loss: 0.1 }).violations).toEqual([])
  })

  it('runs the same seed to the same result, through the wire codec too', () => {
    const first = run(12)
    expect(run(12).fingerprint).toBe(first.fingerprint)
    const wired = run(12, { wire: true })
    expect(wired.violations).toEqual([])
    expect(wired.fingerprint).toBe(first.fingerprint)
  })

  it('catches a replica counted correct that executes the first batch it was pre-prepared rather than the committed one', () => {
    // With an equivocating primary, such a replica executes the other batch when it was among the victims.
    const invariants = new Set<string>()
    for (const seed of seeds(1, 8)) {
      const result = run(seed, { byzantineMode: 'equivocate' }, { wrapCorrect: (engine) => new FirstPrePrepareExecutor(engine) })
      for (const violation of result.violations) invariants.add(violation.invariant)
    }
    expect([...invariants]).toContain('agreement')
  })

  it('checks liveness: with a correct-counted replica that never sends besides a silent Byzantine one, no quorum answers', () => {
    let deaf: NodeId | null = null
    const result = run(
      3,
      { byzantineMode: 'silent' },
      {
        wrapCorrect: (engine, context) => {
          if (deaf !== null) return engine
          deaf = context.id
          return new ReadyRewriter(engine, (ready) => ({ ...ready, messages: [] }))
        },
      },
    )
    expect(result.violations.filter((violation) => violation.kind === 'liveness').map((violation) => violation.invariant)).toEqual(expect.arrayContaining(['progressAfterHealing', 'allAnswered']))
    expect(result.metrics['requestsAnswered']).toBe(0)
  })

  it('checks evidence: correct replicas that keep what they detect to themselves fail it', () => {
    const hide = (engine: PbftEngineLike) => new ReadyRewriter(engine, (ready) => ({ ...ready, events: ready.events.filter((event) => event.kind !== 'evidence') }))
    const result = run(1, { byzantineMode: 'forge' }, { wrapCorrect: hide })
    expect(result.violations.map((violation) => violation.invariant)).toEqual(['evidence'])
  })

  it('changes the group mid-run (4 replaced by 4 others, 4 overlapping 4, 4 grown to 7) with f Byzantine replicas, crashes and network faults', { timeout: 300_000 }, () => {
    for (const [reconfigure, from, count, nodes] of [
      ['replace', 1, 6, 4],
      ['overlap', 11, 6, 4],
      ['grow', 21, 6, 4],
      ['overlap', 31, 2, 7],
    ] as const) {
      const report = runScenario(pbftScenario, { seeds: seeds(from, count), nodes, loss: 0.02, partition: 'flaky', crashes: true, wire: false, traceSink: null, reconfigure })
      const failed = report.runs.filter((held) => held.violations > 0).map((held) => held.seed)
      expect(failed.map((seed) => `npx dwcp sim pbft --seed ${seed} --nodes ${nodes} --loss 0.02 --reconfigure ${reconfigure}`)).toEqual([])
      const metrics = report.metrics as Record<string, number>
      // Every run's new group took over, the checkers watched one group per epoch, and requests went on being answered.
      expect(metrics['reconfigurations'], reconfigure).toBe(count)
      expect(metrics['groupEpochs'], reconfigure).toBe(count)
      expect(metrics['requestsAnswered']! + metrics['requestsLostToCrash']!, reconfigure).toBe(metrics['requestsProposed'])
    }
  })

  it('catches a replica counted correct that executes sequence numbers under another group epoch than the others', () => {
    // A planted bug: n3 reports its executions of epoch 0 above n2 as executions of epoch 1 (as a replica that took
    // the new group before the checkpoint that ends the old epoch would): the same sequence number under two groups.
    const result = run(3, { reconfigure: 'overlap' }, { wrapCorrect: (engine, { id }) => (id === 'n3' ? relabelEpoch(engine) : engine) })
    expect(result.violations.map((violation) => violation.invariant)).toContain('groupAgreement')
  })

  it('refuses more Byzantine replicas than f', () => {
    expect(() => run(1, { byzantine: 2 })).toThrow(/at most f = 1/)
    expect(run(1, { byzantine: 0 }).violations).toEqual([])
  })
})

/** Hands out the inner engine's Readies rewritten by `rewrite`, and advances the inner one. */
class ReadyRewriter implements PbftEngineLike {
  readonly id: NodeId
  protected readonly inner: PbftEngineLike
  private readonly rewrite: (ready: PbftReady) => PbftReady
  private handed: { outer: PbftReady; inner: PbftReady } | null = null

  constructor(inner: PbftEngineLike, rewrite: (ready: PbftReady) => PbftReady) {
    this.inner = inner
    this.id = inner.id
    this.rewrite = rewrite
  }

  step(from: NodeId, message: PbftMessage): Refusal | null {
    return this.inner.step(from, message)
  }
  tick(): void {
    this.inner.tick()
  }
  propose(command: PbftCommand): Refusal | null {
    return this.inner.propose(command)
  }
  hasReady(): boolean {
    return this.inner.hasReady()
  }
  ready(): PbftReady {
    const inner = this.inner.ready()
    const outer = this.rewrite(inner)
    this.handed = { outer, inner }
    return outer
  }
  advance(ready: PbftReady): void {
    expect(ready).toBe(this.handed?.outer)
    this.inner.advance(this.handed!.inner)
    this.handed = null
  }
}

/** A broken replica: it reports executing, at each sequence number, the digest of the first pre-prepare it received there. */
class FirstPrePrepareExecutor extends ReadyRewriter {
  private readonly firstDigests = new Map<number, Uint8Array>()

  constructor(inner: PbftEngineLike) {
    super(inner, (ready) => ({
      ...ready,
      applied: ready.applied.map((applied) => (applied.type === 'executed' ? { ...applied, digest: this.firstDigests.get(applied.seq) ?? applied.digest } : applied)),
    }))
  }

  override step(from: NodeId, message: PbftMessage): Refusal | null {
    const body = message.signed.body
    if (body.type === 'prePrepare' && !this.firstDigests.has(body.seq)) this.firstDigests.set(body.seq, body.digest)
    return super.step(from, message)
  }
}

/** A planted bug: an engine whose Readies report executions of epoch 0 above n2 as executions of epoch 1. */
function relabelEpoch(inner: PbftEngineLike): PbftEngineLike {
  return new ReadyRewriter(inner, (ready) => ({ ...ready, applied: ready.applied.map((applied) => (applied.type === 'executed' && applied.epoch === 0 && applied.seq > 2 ? { ...applied, epoch: 1 } : applied)) }))
}
