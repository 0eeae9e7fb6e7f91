/** The cases of the tui bench (bench/tui.ts), loaded only when it runs: they bring Ink, React and ink-testing-library. */
import { churnWorldKind } from '../tui/data/sim/churnWorld.ts'
import { SimSource } from '../tui/data/sim/simSource.ts'
import { ClusterModel } from '../tui/data/clusterModel.ts'
import { cpuShare, keystrokeCase, updatesCase, type Attached } from './tuiMeasure.ts'
import { liveTuiCases } from './tuiLive.ts'
import type { BenchOptions, BenchResult } from './report.ts'

const nodes = 1_000

function attachSim(): Attached {
  const sim = new SimSource({ kind: churnWorldKind, seed: 1, nodes, play: true })
  const model = new ClusterModel({ sources: [sim], faults: sim })
  return { model, sim, virtualUs: () => sim.getSnapshot().sim!.nowUs, close: () => model.close() }
}

export async function runTuiBench(options: BenchOptions): Promise<BenchResult[]> {
  const { quick, progress } = options
  const durationMs = quick ? 2_000 : 10_000
  progress(`tui: the ${nodes}-node simulation alone`)
  const alone = attachSim()
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  const unsubscribe = alone.model.subscribe(() => alone.model.getSnapshot())
  const simOnly = await cpuShare(durationMs)
  unsubscribe()
  alone.close()
  const results: BenchResult[] = []
  for (const screen of ['overview', 'members'] as const) {
    progress(`tui: ${screen} on ${nodes} nodes`)
    results.push(await updatesCase(`${screen}-${nodes}`, attachSim, screen, durationMs, { simCpuShare: simOnly.share }))
  }
  progress('tui: keystrokes')
  results.push(await keystrokeCase(`keystroke-${nodes}`, attachSim, quick ? 10 : 100))
  results.push(...(await liveTuiCases(options)))
  return results
}
