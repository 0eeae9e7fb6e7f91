import { describe, expect, it } from 'vitest'
import { MaxRegEngine, type MaxRegAck, type MaxRegEvent, type MaxRegWrite } from '../../core/maxreg/engine.ts'
import type { MaxRegMessage } from '../../core/maxreg/messages.ts'
import type { Engine, Ready, Refusal } from '../../core/ready.ts'
import { runScenario } from '../../sim/runner.ts'
import type { ScenarioOptions } from '../../sim/scenario.ts'
import { maxRegSpec, runSmoke, smokeScenario } from '../../sim/scenarios/smoke.ts'
import type { EngineContext, SimEngineSpec } from '../../sim/simulator.ts'
import { Trace } from '../../sim/trace.ts'

const base: ScenarioOptions = { seed: 1, nodes: 5, loss: 0.01, partition: 'flaky', crashes: true, wire: false, trace: null }

function traced(options: Partial<ScenarioOptions>): { hash: string; lines: string[]; json: string } {
  const lines: string[] = []
  const trace = new Trace((line) => lines.push(line))
  const result = runSmoke({ ...base, ...options, trace })
  return { hash: trace.hash, lines, json: JSON.stringify(result) }
}

describe('simulator determinism', () => {
  it('gives the same trace hash and result for the same seed, different ones for different seeds', () => {
    const first = traced({ seed: 11 })
    const second = traced({ seed: 11 })
    expect(first.lines.length).toBeGreaterThan(1000)
    expect(second.hash).toBe(first.hash)
    expect(second.lines).toEqual(first.lines)
    expect(second.json).toBe(first.json)
    const other = traced({ seed: 12 })
    expect(other.hash).not.toBe(first.hash)
    expect(other.json).not.toBe(first.json)
  })

  it('runs the same with and without the wire format, which only adds encoding', () => {
    expect(traced({ seed: 3, wire: true }).hash).toBe(traced({ seed: 3, wire: false }).hash)
  })

  it('traces faults, crashes and client writes', () => {
    const { lines } = traced({ seed: 4 })
    const text = lines.join('\n')
    for (const kind of [' crash n', ' restart n', ' fault ', ' call n', ' send n', ' recv n', ' tick n', 'fault window closed']) expect(text).toContain(kind)
  })
})

describe('smoke scenario', () => {
  it('holds every invariant over many seeds with all faults on', { timeout: 120_000 }, () => {
    const report = runScenario(smokeScenario, { seeds: Array.from({ length: 40 }, (_, index) => index + 1), nodes: 7, loss: 0.05, partition: 'flaky', crashes: true, wire: false, traceSink: null })
    expect(report.violations).toEqual([])
    // The faults really happened: otherwise this test would prove nothing.
    expect(report.metrics['sim.crashes']).toBeGreaterThan(100)
    expect(report.metrics['network.droppedPartition']).toBeGreaterThan(1000)
    expect(report.metrics['network.duplicated']).toBeGreaterThan(100)
    expect(report.metrics['network.reordered']).toBeGreaterThan(100)
    expect(report.metrics['storage.unsyncedLost']).toBeGreaterThan(0)
    expect(report.metrics['storage.unsyncedTorn']).toBeGreaterThan(0)
    expect(report.metrics['client.acks']).toBeGreaterThan(10_000)
  })

  it('still converges under 20% loss and a partition for the whole fault window', () => {
    for (const partition of ['halves', 'oneway'] as const) {
      const result = runSmoke({ ...base, seed: 7, loss: 0.2, partition })
      expect(result.violations).toEqual([])
      expect(result.metrics['maxreg.convergenceAfterHealMs']).toBeGreaterThanOrEqual(0)
    }
  })
})

/** Wraps an engine so the host is told it need not sync: acknowledged writes may then die in a crash. */
function skipSyncSpec(): SimEngineSpec<MaxRegWrite, MaxRegMessage, MaxRegAck, MaxRegEvent> {
  return {
    ...maxRegSpec,
    create: (context: EngineContext) => {
      const engine = new MaxRegEngine(context)
      let handed: Ready<MaxRegMessage, MaxRegAck, MaxRegEvent> | null = null
      const wrapper: Engine<MaxRegWrite, MaxRegMessage, MaxRegAck, MaxRegEvent> & Pick<MaxRegEngine, 'status'> = {
        id: engine.id,
        status: () => engine.status(),
        step: (from, message): Refusal | null => engine.step(from, message),
        tick: () => engine.tick(),
        propose: (command) => engine.propose(command),
        hasReady: () => engine.hasReady(),
        ready: () => {
          handed = engine.ready()
          return { ...handed, mustSync: false }
        },
        advance: () => engine.advance(handed!),
      }
      return wrapper
    },
  }
}

/** An engine that takes any value a peer sends, higher or not. */
class GullibleEngine extends MaxRegEngine {
  override step(from: string, message: MaxRegMessage): Refusal | null {
    ;(this as unknown as { current: number }).current = message.value
    return super.step(from, message)
  }
}

/** An engine that never gossips: every node keeps only what its own clients wrote. */
class MuteEngine extends MaxRegEngine {
  override tick(): void {}
}

describe('checkers catch broken engines', () => {
  it('reports lost acknowledged writes when the host skips the sync', () => {
    const seeds = Array.from({ length: 10 }, (_, index) => index + 1)
    const invariants = seeds.flatMap((seed) => runSmoke({ ...base, seed }, skipSyncSpec()).violations.map((violation) => violation.invariant))
    expect(invariants).toContain('durability')
  })

  it('reports a value that goes backwards', () => {
    const result = runSmoke({ ...base, seed: 1, crashes: false }, { ...maxRegSpec, create: (context) => new GullibleEngine(context) })
    expect(result.violations.map((violation) => violation.invariant)).toContain('monotonic')
    expect(result.violations[0]).toMatchObject({ seed: 1, kind: 'safety' })
  })

  it('reports a cluster that never converges', () => {
    const result = runSmoke({ ...base, seed: 2 }, { ...maxRegSpec, create: (context) => new MuteEngine(context) })
    expect(result.violations.filter((violation) => violation.kind === 'safety')).toEqual([])
    expect(result.violations).toContainEqual(expect.objectContaining({ invariant: 'convergence', kind: 'liveness', seed: 2 }))
  })
})
