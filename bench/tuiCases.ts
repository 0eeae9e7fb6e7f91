/** The cases of the tui bench (bench/tui.ts), loaded only when it runs: they bring Ink, React and ink-testing-library. */
import { Writable } from 'node:stream'
import { render as inkRender } from 'ink'
import { render as testRender } from 'ink-testing-library'
import { createElement as h } from 'react'
import { App } from '../tui/app/App.ts'
import type { ScreenName } from '../tui/app/screens.ts'
import { ThemeContext } from '../tui/components/theme.ts'
import { ClusterModel } from '../tui/data/clusterModel.ts'
import { churnWorldKind } from '../tui/data/sim/churnWorld.ts'
import { SimSource } from '../tui/data/sim/simSource.ts'
import { tuiLimits } from '../tui/main.ts'
import { percentile, round, type BenchOptions, type BenchResult } from './report.ts'

const nodes = 1_000
const terminal = { columns: 120, rows: 40 } as const

function attach(play = true) {
  const sim = new SimSource({ kind: churnWorldKind, seed: 1, nodes, play })
  const model = new ClusterModel({ sources: [sim], faults: sim })
  return { sim, model }
}

/** CPU used by this process while `run` lasts, as a share of one core. */
async function cpuShare(durationMs: number, during: () => void = () => {}): Promise<{ share: number; wallMs: number }> {
  const cpuBefore = process.cpuUsage()
  const wallBefore = performance.now()
  during()
  await new Promise((resolve) => setTimeout(resolve, durationMs))
  const cpu = process.cpuUsage(cpuBefore)
  const wallMs = performance.now() - wallBefore
  return { share: (cpu.user + cpu.system) / 1000 / wallMs, wallMs }
}

/** A terminal that takes what Ink writes and counts it. */
function countingTerminal() {
  let bytes = 0
  let writes = 0
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      bytes += chunk.length
      writes++
      done()
    },
  }) as Writable & { columns: number; rows: number; isTTY: boolean }
  stream.columns = terminal.columns
  stream.rows = terminal.rows
  stream.isTTY = true
  return { stream, stats: () => ({ bytes, writes }) }
}

async function updatesCase(screen: ScreenName, durationMs: number, simCpuShare: number): Promise<BenchResult> {
  const { sim, model } = attach()
  const out = countingTerminal()
  let frames = 0
  let renderMs = 0
  const instance = inkRender(h(ThemeContext.Provider, { value: { color: true } }, h(App, { model, sim, readonly: false, initialScreen: screen })), {
    stdout: out.stream as unknown as NodeJS.WriteStream,
    stdin: process.stdin,
    maxFps: tuiLimits.maxFps,
    incrementalRendering: true,
    interactive: true,
    patchConsole: false,
    exitOnCtrlC: false,
    onRender: ({ renderTime }) => {
      frames++
      renderMs += renderTime
    },
  })
  // Let it start and warm up before measuring.
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  const startFrames = frames
  const startRenderMs = renderMs
  const startUs = sim.getSnapshot().sim!.nowUs
  const { share, wallMs } = await cpuShare(durationMs)
  const updates = frames - startFrames
  const virtualMs = (sim.getSnapshot().sim!.nowUs - startUs) / 1000
  instance.unmount()
  model.close()
  return {
    case: `${screen}-${nodes}`,
    opsPerSecond: round(updates / (wallMs / 1000), 1),
    cpuShareOfCore: round(share),
    simCpuShare: round(simCpuShare),
    renderMsMean: round((renderMs - startRenderMs) / Math.max(1, updates), 2),
    virtualSpeed: round(virtualMs / wallMs, 2),
    bytesPerSecond: Math.round(out.stats().bytes / (wallMs / 1000)),
  }
}

async function keystrokeCase(count: number): Promise<BenchResult> {
  const { sim, model } = attach()
  const view = testRender(h(ThemeContext.Provider, { value: { color: false } }, h(App, { model, sim, readonly: false, rows: terminal.rows, columns: terminal.columns })))
  // Its fake stdout has no rows: Ink would ask the real terminal (a `tput` process) on every frame.
  Object.defineProperty(view.stdout, 'rows', { value: terminal.rows })
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  const latencies: number[] = []
  const titles: Record<string, string> = { '1': '· Overview', '2': '· Members' }
  const started = performance.now()
  for (let index = 0; index < count; index++) {
    const key = index % 2 === 0 ? '2' : '1'
    const sentAt = performance.now()
    view.stdin.write(key)
    while (!(view.lastFrame() ?? '').split('\n', 1)[0]!.includes(titles[key]!)) {
      await new Promise((resolve) => setImmediate(resolve))
      if (performance.now() - sentAt > 10_000) throw new Error(`tui bench: key ${key} not shown within 10 s`)
    }
    latencies.push(performance.now() - sentAt)
    // Keys come at a typist's pace, not all at once.
    await new Promise((resolve) => setTimeout(resolve, 30))
  }
  const wallMs = performance.now() - started
  view.unmount()
  model.close()
  latencies.sort((a, b) => a - b)
  return { case: `keystroke-${nodes}`, opsPerSecond: round(count / (wallMs / 1000), 1), p50Ms: round(percentile(latencies, 0.5), 2), p99Ms: round(percentile(latencies, 0.99), 2), maxMs: round(latencies[latencies.length - 1]!, 2) }
}

export async function runTuiBench({ quick, progress }: BenchOptions): Promise<BenchResult[]> {
  const durationMs = quick ? 2_000 : 10_000
  progress(`tui: the ${nodes}-node simulation alone`)
  const alone = attach()
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  const unsubscribe = alone.model.subscribe(() => alone.model.getSnapshot())
  const simOnly = await cpuShare(durationMs)
  unsubscribe()
  alone.model.close()
  const results: BenchResult[] = []
  for (const screen of ['overview', 'members'] as const) {
    progress(`tui: ${screen} on ${nodes} nodes`)
    results.push(await updatesCase(screen, durationMs, simOnly.share))
  }
  progress('tui: keystrokes')
  results.push(await keystrokeCase(quick ? 10 : 100))
  return results
}
