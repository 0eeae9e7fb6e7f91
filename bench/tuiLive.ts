/**
 * The tui bench on a live cluster: 5 `dwcp node` processes on loopback
 * (bench/cluster/nodeProcesses.ts, as `dwcp up` lays them out) under a light
 * write load (eventual register puts, `loadPutsPerSecond`, from this
 * process), the UI attached as `dwcp tui URL…` attaches (a feed per node).
 * `attachedCpuShare` is the same load with the cluster model attached and
 * nothing rendered, so the screen's own share is the difference. Bounded:
 * the cluster is ready within its limit or the bench fails, the cases run
 * for their duration, and the node processes are stopped whatever happens.
 */
import { startNodeCluster } from './cluster/nodeProcesses.ts'
import { putOnce } from './cluster/puts.ts'
import { defaultNodePolicies } from '../node/policies.ts'
import { liveModel } from '../tui/main.ts'
import type { BenchOptions, BenchResult } from './report.ts'
import { cpuShare, keystrokeCase, measureLimits, updatesCase, type Attached } from './tuiMeasure.ts'

const liveNodes = 5
/** Writes a second across the cluster while measuring: enough that events and snapshots keep changing. */
const loadPutsPerSecond = 20

/** Puts at a steady rate, round robin over the nodes, until stopped; failures are counted, not fatal. */
function startLoad(urls: readonly string[]): { stop: () => Promise<{ puts: number; failed: number }> } {
  let puts = 0
  let failed = 0
  let running = true
  const loop = (async () => {
    const gapMs = 1_000 / loadPutsPerSecond
    for (let index = 0; running; index++) {
      const url = urls[index % urls.length]!
      const started = performance.now()
      try {
        await putOnce(url, `ev/tui-bench-${index % 16}`, 'eventual')
        puts++
      } catch {
        failed++
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, gapMs - (performance.now() - started))))
    }
  })()
  return {
    stop: async () => {
      running = false
      await loop
      return { puts, failed }
    },
  }
}

export async function liveTuiCases({ quick, progress }: BenchOptions): Promise<BenchResult[]> {
  const durationMs = quick ? 2_000 : 10_000
  progress(`tui: starting a ${liveNodes}-node live cluster`)
  // The shipped namespaces, plus `ev` (eventual registers) for the load, as the cluster bench has.
  const cluster = await startNodeCluster(liveNodes, { ...defaultNodePolicies(true), ev: { consistency: 'eventual', valueType: 'register', home: null } }, true)
  const load = startLoad(cluster.urls)
  try {
    const attach = (): Attached => {
      const model = liveModel(cluster.urls, null, true)
      return { model, sim: null, virtualUs: null, close: () => model.close() }
    }
    progress(`tui: the ${liveNodes}-node cluster attached, nothing rendered`)
    const alone = attach()
    await new Promise((resolve) => setTimeout(resolve, measureLimits.warmupMs))
    const unsubscribe = alone.model.subscribe(() => alone.model.getSnapshot())
    const attachedOnly = await cpuShare(durationMs)
    unsubscribe()
    alone.close()
    const results: BenchResult[] = []
    for (const screen of ['overview', 'members'] as const) {
      progress(`tui: ${screen} on the ${liveNodes}-node cluster`)
      results.push(await updatesCase(`${screen}-live-${liveNodes}`, attach, screen, durationMs, { attachedCpuShare: attachedOnly.share, loadPutsPerSecond }))
    }
    progress('tui: keystrokes on the live cluster')
    results.push(await keystrokeCase(`keystroke-live-${liveNodes}`, attach, quick ? 10 : 100))
    const { puts, failed } = await load.stop()
    if (puts === 0) throw new Error(`tui bench: the live cluster took no writes (${failed} failed)`)
    return results
  } finally {
    await load.stop()
    await cluster.close()
  }
}
