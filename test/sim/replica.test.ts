import { describe, expect, it } from 'vitest'
import type { LinkModeChanged } from '../../core/adaptive/modeEvents.ts'
import { lwwWrite } from '../../core/crdt/lwwRegister.ts'
import { Rng } from '../../core/lib/prng.ts'
import { AutoWriteChecker } from '../../sim/checkers/autoWriteChecker.ts'
import { ModeChecker } from '../../sim/checkers/modeChecker.ts'
import { LatencyPlan } from '../../sim/latencyPlan.ts'
import { runScenario } from '../../sim/runner.ts'
import type { Scenario } from '../../sim/scenario.ts'
import { adaptiveScenario } from '../../sim/scenarios/adaptive.ts'
import { mixedScenario } from '../../sim/scenarios/mixed.ts'
import { ViolationLog } from '../../sim/violation.ts'

const seeds = (from: number, count: number) => Array.from({ length: count }, (_, index) => from + index)

function sweep(scenario: Scenario, from: number, count: number, nodes = 6, loss = 0, crashes = false) {
  const report = runScenario(scenario, { seeds: seeds(from, count), nodes, loss, partition: 'flaky', crashes, wire: false, traceSink: null })
  const failed = report.runs.filter((run) => run.violations > 0).map((run) => `npx dwcp sim ${scenario.name} --seed ${run.seed} --nodes ${nodes} --loss ${loss}${crashes ? '' : ' --no-crashes'}`)
  // Each failing seed replays with the command printed here.
  expect(failed).toEqual([])
  expect(report.violations).toEqual([])
  return report.metrics as Record<string, unknown> & { pathCounts: Record<string, number>; modeSwitchMs: { p99: number; count: number }; detectionMs: { p99: number; count: number } }
}

describe('mixed scenario', () => {
  it('holds every checker over 50 seeds: strong, auto, eventual and byzantine under latency phases and region partitions', { timeout: 600_000 }, () => {
    const metrics = sweep(mixedScenario, 1, 50)
    expect(metrics['lostWrites']).toBe(0)
    expect(metrics['linearizabilityUnknown']).toBe(0)
    // Every path is exercised: Raft (strong and auto in datacenter mode), CRDT (auto across the internet, counters), PBFT.
    expect(metrics.pathCounts['raft']).toBeGreaterThan(1000)
    expect(metrics.pathCounts['crdt']).toBeGreaterThan(1000)
    expect(metrics.pathCounts['pbft']).toBeGreaterThan(100)
    expect(metrics['auto.raft']).toBeGreaterThan(0)
    expect(metrics['auto.groupMode']).toBeGreaterThan(0)
    expect(metrics.modeSwitchMs.p99).toBeLessThan(100)
  })

  it('holds on 4 and 9 nodes, and through the wire codec', { timeout: 300_000 }, () => {
    sweep(mixedScenario, 101, 3, 4)
    sweep(mixedScenario, 201, 3, 9)
    const wired = runScenario(mixedScenario, { seeds: [7], nodes: 6, loss: 0, partition: 'flaky', crashes: false, wire: true, traceSink: null })
    expect(wired.violations).toEqual([])
  })
})

/**
 * Whole replicas lose power and restart from storage (unsynced writes kept, lost or torn), PBFT members included,
 * and once per run every node at the same instant; every checker on. `dwcp sim mixed --seeds 200` is the full sweep.
 */
describe('whole-replica crashes', () => {
  it('mixed holds every checker over 30 seeds, adaptive over 6, with a restart of the whole cluster in each', { timeout: 300_000 }, () => {
    const seedCount = 30
    const mixed = sweep(mixedScenario, 4001, seedCount, 6, 0, true)
    expect(mixed['clusterRestarts']).toBe(seedCount)
    // The cluster's 6 and at least one more per run.
    expect(mixed['crashes']).toBeGreaterThanOrEqual(seedCount * 7)
    expect(mixed['lostWrites']).toBe(0)
    expect(mixed['linearizabilityUnknown']).toBe(0)
    expect(mixed['client.byzantineWritesAcked']).toBeGreaterThan(seedCount * 50)
    expect(mixed.pathCounts['pbft']).toBeGreaterThan(seedCount * 100)
    const adaptive = sweep(adaptiveScenario, 4101, 6, 6, 0, true)
    expect(adaptive['clusterRestarts']).toBe(6)
    expect(adaptive['lostWrites']).toBe(0)
  })
})

describe('adaptive scenario', () => {
  it('detects every change within 3 probe intervals plus the round trip, never flaps, loses no write, switches paths at once (20 seeds)', { timeout: 300_000 }, () => {
    const metrics = sweep(adaptiveScenario, 1, 20)
    expect(metrics['lostWrites']).toBe(0)
    expect(metrics['flaps']).toBe(0)
    expect(metrics.detectionMs.count).toBeGreaterThan(20 * 24)
    expect(metrics.detectionMs.p99).toBeLessThanOrEqual(300 + 2 * (70 + 8))
    expect(metrics.modeSwitchMs.count).toBeGreaterThan(0)
    expect(metrics.modeSwitchMs.p99).toBeLessThan(100)
    expect(metrics.pathCounts['raft']).toBeGreaterThan(0)
    expect(metrics.pathCounts['crdt']).toBeGreaterThan(0)
    expect(typeof metrics['forecastMape']).toBe('number')
  })

  it('runs the same seed to the same result', () => {
    const run = () => adaptiveScenario.run({ seed: 5, nodes: 6, loss: 0, partition: 'none', crashes: false, wire: false, trace: null })
    expect(run().fingerprint).toBe(run().fingerprint)
  })
})

/**
 * Random loss on every message, on top of the scenarios' duplication (1%) and reordering (1% held up to 5 ms), and
 * crashes of the replicas outside the PBFT group: 0.5% is well below the datacenter loss threshold (the mode must
 * follow the latency plan alone), 1% sits in its band, 2% above it, 5% in the internet threshold's band. A few seeds
 * each keep the sweep within about 90 s; `dwcp sim adaptive|mixed --loss L --seeds 50` runs the full sweep.
 */
describe('under random loss', () => {
  for (const [loss, adaptiveSeeds, mixedSeeds] of [
    [0.005, 3, 2],
    [0.01, 3, 2],
    [0.02, 3, 2],
    [0.05, 3, 2],
  ] as const) {
    it(`adaptive (${adaptiveSeeds} seeds) and mixed (${mixedSeeds} seeds) hold every checker at ${loss * 100}% loss`, { timeout: 300_000 }, () => {
      const base = 1000 * (1 + Math.round(loss * 1000))
      const adaptive = sweep(adaptiveScenario, base, adaptiveSeeds, 6, loss, true)
      expect(adaptive['lostWrites']).toBe(0)
      expect(adaptive['lossLevelViolations']).toBe(0)
      expect(adaptive.detectionMs.count).toBeGreaterThan(0)
      expect(adaptive['network.droppedLoss']).toBeGreaterThan(0)
      const mixed = sweep(mixedScenario, base, mixedSeeds, 6, loss, true)
      expect(mixed['lostWrites']).toBe(0)
      expect(mixed['crashes']).toBeGreaterThan(0)
      expect(mixed.pathCounts['raft']).toBeGreaterThan(0)
      expect(mixed.pathCounts['crdt']).toBeGreaterThan(0)
    })
  }
})

describe('adaptive checkers bite', () => {
  const stamp = (wallMs: number) => ({ wallMs, logical: 0 })

  it('a lost acknowledged auto write, a diverged register and an old-path write after a decision are violations', () => {
    const checker = new AutoWriteChecker()
    checker.writes.push({ node: 'n1', key: 'edge/a', registerValue: 'vA', issuedUs: 0, answeredUs: 10, ok: true, code: null, path: 'raft', mode: 'datacenter', timestamp: stamp(100) })
    checker.writes.push({ node: 'n2', key: 'edge/a', registerValue: 'vB', issuedUs: 0, answeredUs: 10, ok: true, code: null, path: 'crdt', mode: 'internet', timestamp: stamp(200) })
    checker.decisions.push({ node: 'n2', atUs: -5, to: 'datacenter' })
    checker.decisions.push({ node: 'n1', atUs: -5, to: 'datacenter' })
    // Both replicas hold the older write: n2's acknowledged later write is lost.
    const older = lwwWrite('vA', stamp(100), 'n1')
    const registers = new Map([
      ['n1', new Map([['edge/a', older]])],
      ['n2', new Map([['edge/a', older]])],
    ])
    const violations = new ViolationLog()
    const result = checker.check(1, 1000, registers, violations)
    expect(result.lostWrites).toBe(1)
    expect(result.oldPathAfterDecision).toBe(1)
    expect(violations.kept.map((violation) => violation.invariant).sort()).toEqual(['modeSwitch', 'noLostWrites'])
    const diverged = new Map([
      ['n1', new Map([['edge/a', lwwWrite('vB', stamp(200), 'n2')]])],
      ['n2', new Map([['edge/a', older]])],
    ])
    const more = new ViolationLog()
    new AutoWriteChecker().check(1, 1000, diverged, more)
    checker.check(1, 1000, diverged, more)
    expect(more.kept.some((violation) => violation.invariant === 'convergence')).toBe(true)
  })

  it('an auto write answered failed whose value a register ever held is a violation; one answered timeout (outcome unknown) is not', () => {
    const checker = new AutoWriteChecker()
    checker.writes.push({ node: 'n1', key: 'edge/a', registerValue: 'vF', issuedUs: 0, answeredUs: 150_000, ok: false, code: 'noLeader', path: null, mode: null, timestamp: null })
    checker.writes.push({ node: 'n1', key: 'edge/a', registerValue: 'vT', issuedUs: 200_000, answeredUs: 3_200_000, ok: false, code: 'timeout', path: null, mode: null, timestamp: null })
    checker.writes.push({ node: 'n2', key: 'edge/a', registerValue: 'vG', issuedUs: 300_000, answeredUs: 310_000, ok: false, code: 'overloaded', path: null, mode: null, timestamp: null })
    checker.writes.push({ node: 'n2', key: 'edge/a', registerValue: 'vS', issuedUs: 400_000, answeredUs: null, ok: false, code: null, path: null, mode: null, timestamp: null })
    // vF showed for a while at n2, vT and vS (never answered) at n1; the final register holds vG.
    checker.recordVisible('n2', 'edge/a', 'vF', 180_000)
    checker.recordVisible('n1', 'edge/a', 'vT', 250_000)
    checker.recordVisible('n1', 'edge/a', 'vS', 450_000)
    const final = lwwWrite('vG', stamp(9), 'n2')
    const violations = new ViolationLog()
    checker.check(
      1,
      5_000_000,
      new Map([
        ['n1', new Map([['edge/a', final]])],
        ['n2', new Map([['edge/a', final]])],
      ]),
      violations,
    )
    const failed = violations.kept.filter((violation) => violation.invariant === 'failedWriteInvisible')
    expect(failed.map((violation) => violation.message)).toEqual([expect.stringContaining('answered noLeader at 150 ms is visible at n2 (180 ms)'), expect.stringContaining('answered overloaded at 310 ms is visible at n1 (5000 ms)')])
  })

  it('an auto write accepted outside datacenter mode and answered by Raft took the wrong path, whatever mode its reply names', () => {
    const checker = new AutoWriteChecker()
    checker.decisions.push({ node: 'n1', atUs: 100, to: 'internet' })
    // Before any decision the group is in the detector's initial mode (hybrid): Raft is wrong there too.
    checker.writes.push({ node: 'n1', key: 'edge/a', registerValue: 'v1', issuedUs: 50, answeredUs: 60, ok: true, code: null, path: 'raft', mode: 'datacenter', timestamp: stamp(1) })
    checker.writes.push({ node: 'n1', key: 'edge/a', registerValue: 'v2', issuedUs: 200, answeredUs: 210, ok: true, code: null, path: 'raft', mode: 'internet', timestamp: stamp(2) })
    checker.writes.push({ node: 'n1', key: 'edge/a', registerValue: 'v3', issuedUs: 300, answeredUs: 310, ok: true, code: null, path: 'crdt', mode: 'internet', timestamp: stamp(3) })
    const final = lwwWrite('v3', stamp(3), 'n1')
    const violations = new ViolationLog()
    checker.check(1, 1000, new Map([['n1', new Map([['edge/a', final]])]]), violations)
    expect(violations.kept.filter((violation) => violation.invariant === 'autoPath').map((violation) => violation.message)).toEqual([expect.stringContaining('in hybrid mode'), expect.stringContaining('in internet mode')])
  })

  it('a link that turns back within a phase flaps; a change found late is a detection violation', () => {
    const plan = new LatencyPlan(
      [
        { name: 'dc', startUs: 0, baseUsMin: 1_000, baseUsMax: 1_000, jitterUs: 0 },
        { name: 'net', startUs: 10_000_000, baseUsMin: 50_000, baseUsMax: 50_000, jitterUs: 0 },
      ],
      ['eu', 'us'],
      Rng.fromSeed(1),
    )
    // Each change carries two measurements that pass the old mode's threshold by the margin (round trips typical of the new mode).
    const rttMsOf = { datacenter: 3, hybrid: 30, internet: 120 } as const
    const evidence = (to: keyof typeof rttMsOf) => [1, 2].map((atMs) => ({ linkId: 'n2', atMs, measurement: { rttMsP50: rttMsOf[to], rttMsP99: rttMsOf[to], lossRate: 0, bandwidthBitsPerSecond: null, samples: 10 } }))
    const change = (from: 'datacenter' | 'hybrid' | 'internet', to: 'datacenter' | 'hybrid' | 'internet'): LinkModeChanged => ({
      kind: 'modeChanged',
      scope: 'link',
      id: 'n2',
      from,
      to,
      atMs: 0,
      reason: 'detected',
      lossLevel: 'low',
      measurements: evidence(to),
    })
    // n2's side of the link decides on time in every case; n1's side is the one under test.
    const withPeerOnTime = (checker: ModeChecker): ModeChecker => {
      checker.record('n2', 1_000_000, { ...change('hybrid', 'datacenter'), id: 'n1' })
      checker.record('n2', 10_250_000, { ...change('datacenter', 'internet'), id: 'n1' })
      return checker
    }
    const regionOf = new Map([
      ['n1', 'eu'],
      ['n2', 'us'],
    ])
    const options = { seed: 1, plan, regionOf, probeIntervalMs: 100, linkDisturbed: () => false, endUs: 20_000_000, oneWayLoss: 0 }
    const flapping = withPeerOnTime(new ModeChecker())
    flapping.record('n1', 1_000_000, change('hybrid', 'datacenter'))
    flapping.record('n1', 2_000_000, change('datacenter', 'hybrid'))
    flapping.record('n1', 10_250_000, change('hybrid', 'internet'))
    const flapViolations = new ViolationLog()
    expect(flapping.check(options, flapViolations).flaps).toBe(1)
    expect(flapViolations.kept.map((violation) => violation.invariant)).toContain('noFlapping')
    const late = withPeerOnTime(new ModeChecker())
    late.record('n1', 1_000_000, change('hybrid', 'datacenter'))
    late.record('n1', 10_900_000, change('datacenter', 'internet'))
    const lateViolations = new ViolationLog()
    expect(late.check(options, lateViolations).detectionMs.sort((a, b) => a - b)).toEqual([250, 900])
    expect(lateViolations.kept.map((violation) => violation.invariant)).toEqual(['detection'])
    // Loss levels: a level the injected loss does not allow is a violation; a turn back carried by a rising level is not a flap.
    const lossy = withPeerOnTime(new ModeChecker())
    lossy.record('n1', 1_000_000, change('hybrid', 'datacenter'))
    lossy.record('n1', 3_000_000, { ...change('datacenter', 'hybrid'), lossLevel: 'elevated' })
    lossy.record('n1', 10_250_000, { ...change('hybrid', 'internet'), lossLevel: 'elevated' })
    const atNoLoss = new ViolationLog()
    expect(lossy.check(options, atNoLoss)).toMatchObject({ flaps: 0, lossLevelViolations: 2 })
    expect(atNoLoss.kept.map((violation) => violation.invariant)).toEqual(['lossLevel', 'lossLevel'])
    const atTwoPercent = new ViolationLog()
    expect(lossy.check({ ...options, oneWayLoss: 0.02 }, atTwoPercent)).toMatchObject({ flaps: 0, lossLevelViolations: 0 })
    expect(atTwoPercent.kept).toEqual([])
    // The same turn back without a rising level is a flap even at 2% loss; a level that falls is a violation.
    const noisy = withPeerOnTime(new ModeChecker())
    noisy.record('n1', 1_000_000, { ...change('hybrid', 'datacenter'), lossLevel: 'elevated' })
    noisy.record('n1', 3_000_000, { ...change('datacenter', 'hybrid'), lossLevel: 'elevated' })
    noisy.recordLossLevel('n1', 'n2', 10_000_000, 'low')
    const noisyViolations = new ViolationLog()
    expect(noisy.check({ ...options, oneWayLoss: 0.02 }, noisyViolations)).toMatchObject({ flaps: 1, lossLevelViolations: 1 })
    // A change on one measurement, or on measurements inside the margin (9 ms is not below 10/1.2 ms), is not justified.
    const hasty = withPeerOnTime(new ModeChecker())
    hasty.record('n1', 1_000_000, { ...change('hybrid', 'datacenter'), measurements: evidence('datacenter').slice(1) })
    hasty.record('n1', 10_250_000, { ...change('datacenter', 'internet'), measurements: evidence('internet').map((timed) => ({ ...timed, measurement: { ...timed.measurement, rttMsP50: 11 } })) })
    const hastyViolations = new ViolationLog()
    expect(hasty.check(options, hastyViolations).unjustifiedChanges).toBe(2)
    expect(hastyViolations.kept.filter((violation) => violation.invariant === 'justifiedChange').map((violation) => violation.message)).toEqual([
      expect.stringContaining('1 measurement(s), fewer than confirmSamples=2'),
      expect.stringContaining('within the margin of datacenter'),
    ])
    const onTime = withPeerOnTime(new ModeChecker())
    onTime.record('n1', 1_000_000, change('hybrid', 'datacenter'))
    onTime.record('n1', 10_250_000, change('datacenter', 'internet'))
    const none = new ViolationLog()
    onTime.check(options, none)
    expect(none.kept).toEqual([])
  })
})
