/**
 * sim: delivered messages per wall second in the simulator. Cases:
 * - gossip: the max-register engine gossiping on 1,000 nodes with the default
 *   network faults (1% loss, duplication and reordering), no crashes;
 * - smoke: the whole smoke scenario on 1,000 nodes (client writes, partitions,
 *   crashes, storage faults, every checker), messages passed as objects;
 * - smoke-wire: the same with every message encoded and decoded as a frame.
 * A warm-up run comes first, so the figures are the JIT-compiled steady state.
 */
import { defaultNetworkConfig } from '../sim/network.ts'
import { maxRegSpec, smokeScenario } from '../sim/scenarios/smoke.ts'
import { Simulator } from '../sim/simulator.ts'
import { perCpuSecond, round, type Bench, type BenchResult } from './report.ts'

export const simBench: Bench = {
  name: 'sim',
  summary: 'delivered messages per wall second in the deterministic simulator',
  run: ({ quick, progress }) => {
    const nodes = quick ? 50 : 1000
    progress('sim: warm-up')
    runSmokeCase(quick ? 20 : 200, false)
    const results: BenchResult[] = []
    progress(`sim: gossip on ${nodes} nodes`)
    results.push(runGossipCase(nodes, quick ? 1_000_000 : 20_000_000))
    progress(`sim: smoke on ${nodes} nodes`)
    results.push(runSmokeCase(nodes, false))
    progress(`sim: smoke on ${nodes} nodes, wire format`)
    results.push(runSmokeCase(nodes, true))
    return results
  },
}

function runGossipCase(nodes: number, virtualUs: number): BenchResult {
  const sim = new Simulator({
    seed: 1,
    nodes,
    regions: ['eu', 'us', 'ap'],
    engine: maxRegSpec,
    network: defaultNetworkConfig,
    tickUs: 10_000,
    wire: false,
    trace: null,
  })
  const cpuStarted = process.cpuUsage()
  const started = performance.now()
  sim.startAll()
  sim.runUntil(virtualUs)
  const wallMs = performance.now() - started
  return result(`gossip-${nodes}-nodes`, nodes, sim.network.metrics.delivered, sim.metrics.events, wallMs, process.cpuUsage(cpuStarted), virtualUs / 1000)
}

function runSmokeCase(nodes: number, wire: boolean): BenchResult {
  const cpuStarted = process.cpuUsage()
  const started = performance.now()
  const run = smokeScenario.run({ seed: 1, nodes, loss: 0.01, partition: 'flaky', crashes: true, wire, trace: null })
  const wallMs = performance.now() - started
  const cpu = process.cpuUsage(cpuStarted)
  if (run.violations.length > 0) throw new Error(`sim bench: smoke seed 1 on ${nodes} nodes violated ${run.violations[0]!.invariant}`)
  const delivered = run.metrics['network.delivered']!
  return result(`smoke-${nodes}-nodes${wire ? '-wire' : ''}`, nodes, delivered, run.metrics['sim.events']!, wallMs, cpu, run.metrics['virtualMs']!)
}

function result(name: string, nodes: number, delivered: number, events: number, wallMs: number, cpu: NodeJS.CpuUsage, virtualMs: number): BenchResult {
  return {
    case: name,
    opsPerSecond: Math.round((delivered / wallMs) * 1000),
    opsPerCpuSecond: perCpuSecond(delivered, cpu),
    nodes,
    deliveredMessages: delivered,
    events,
    eventsPerSecond: Math.round((events / wallMs) * 1000),
    virtualMs,
    wallMs: round(wallMs, 1),
  }
}
