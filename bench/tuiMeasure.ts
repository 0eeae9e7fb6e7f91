/**
 * How the tui bench measures the UI attached to any cluster model: screen
 * updates per second and CPU with the app rendered as `dwcp tui` does (Ink,
 * interactive, incremental, maxFps) into a 120×40 terminal that only counts
 * what it is sent; and keystroke to screen latency in the same setting: a
 * key typed to the terminal's input switches views, and the write that
 * brings the new title to the terminal ends the wait (Ink's frame cap
 * included, as a user sees it).
 */
import { EventEmitter } from 'node:events'
import { Writable } from 'node:stream'
import { render as inkRender } from 'ink'
import { createElement as h } from 'react'
import { App } from '../tui/app/App.ts'
import type { ScreenName } from '../tui/app/screens.ts'
import { ThemeContext } from '../tui/components/theme.ts'
import type { ClusterModel } from '../tui/data/clusterModel.ts'
import type { SimSource } from '../tui/data/sim/simSource.ts'
import { tuiLimits } from '../tui/main.ts'
import { percentile, round, type BenchResult } from './report.ts'

export const terminal = { columns: 120, rows: 40 } as const

export const measureLimits = {
  /** Before measuring: the app started, the first snapshots in. */
  warmupMs: 1_000,
  /** A key not shown within this fails the bench. */
  keyShownMsMax: 10_000,
  /** Between keys: a typist's pace, not all at once. */
  keyGapMs: 30,
} as const

/** A cluster model to attach the app to; `virtualUs` when it is a simulation. */
export interface Attached {
  readonly model: ClusterModel
  readonly sim: SimSource | null
  readonly virtualUs: (() => number) | null
  close(): void
}

/** CPU used by this process while `durationMs` passes, as a share of one core. */
export async function cpuShare(durationMs: number): Promise<{ share: number; wallMs: number }> {
  const cpuBefore = process.cpuUsage()
  const wallBefore = performance.now()
  await new Promise((resolve) => setTimeout(resolve, durationMs))
  const cpu = process.cpuUsage(cpuBefore)
  const wallMs = performance.now() - wallBefore
  return { share: (cpu.user + cpu.system) / 1000 / wallMs, wallMs }
}

/** A terminal that takes what Ink writes and counts it (and shows each write to `onWrite`'s listener). */
function countingTerminal() {
  let bytes = 0
  let listener: ((chunk: string) => void) | null = null
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      bytes += chunk.length
      listener?.(chunk.toString())
      done()
    },
  }) as Writable & { columns: number; rows: number; isTTY: boolean }
  stream.columns = terminal.columns
  stream.rows = terminal.rows
  stream.isTTY = true
  return { stream, bytes: () => bytes, onWrite: (write: (chunk: string) => void) => (listener = write) }
}

export async function updatesCase(name: string, attach: () => Attached, screen: ScreenName, durationMs: number, extra: Record<string, number>): Promise<BenchResult> {
  const attached = attach()
  const out = countingTerminal()
  let frames = 0
  let renderMs = 0
  const instance = inkRender(h(ThemeContext.Provider, { value: { color: true } }, h(App, { model: attached.model, sim: attached.sim, readonly: false, initialScreen: screen })), {
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
  await new Promise((resolve) => setTimeout(resolve, measureLimits.warmupMs))
  const startFrames = frames
  const startRenderMs = renderMs
  const startBytes = out.bytes()
  const startUs = attached.virtualUs?.() ?? 0
  const { share, wallMs } = await cpuShare(durationMs)
  const updates = frames - startFrames
  const virtualMs = ((attached.virtualUs?.() ?? 0) - startUs) / 1000
  instance.unmount()
  attached.close()
  return {
    case: name,
    opsPerSecond: round(updates / (wallMs / 1000), 1),
    cpuShareOfCore: round(share),
    ...Object.fromEntries(Object.entries(extra).map(([key, value]) => [key, round(value)])),
    renderMsMean: round((renderMs - startRenderMs) / Math.max(1, updates), 2),
    ...(attached.virtualUs === null ? {} : { virtualSpeed: round(virtualMs / wallMs, 2) }),
    bytesPerSecond: Math.round((out.bytes() - startBytes) / (wallMs / 1000)),
  }
}

/** A terminal's input that the bench types into (what Ink reads of stdin: ink-testing-library's stand-in, as a TTY). */
class TypedStdin extends EventEmitter {
  readonly isTTY = true
  private data: string | null = null
  type(data: string): void {
    this.data = data
    this.emit('readable')
    this.emit('data', data)
  }
  read = (): string | null => {
    const { data } = this
    this.data = null
    return data
  }
  setEncoding(): void {}
  setRawMode(): void {}
  resume(): void {}
  pause(): void {}
  ref(): void {}
  unref(): void {}
}

/**
 * From a key typed to the terminal's input to the terminal receiving the frame that shows it (the view's
 * title in the header line), with the app rendered as `dwcp tui` renders it (Ink's frame cap included).
 */
export async function keystrokeCase(name: string, attach: () => Attached, count: number): Promise<BenchResult> {
  const attached = attach()
  const out = countingTerminal()
  const stdin = new TypedStdin()
  let waitingFor: string | null = null
  let shownAt = 0
  out.onWrite((chunk) => {
    if (waitingFor !== null && chunk.includes(waitingFor)) {
      waitingFor = null
      shownAt = performance.now()
    }
  })
  const instance = inkRender(h(ThemeContext.Provider, { value: { color: true } }, h(App, { model: attached.model, sim: attached.sim, readonly: false })), {
    stdout: out.stream as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    maxFps: tuiLimits.maxFps,
    incrementalRendering: true,
    interactive: true,
    patchConsole: false,
    exitOnCtrlC: false,
  })
  await new Promise((resolve) => setTimeout(resolve, measureLimits.warmupMs))
  const latencies: number[] = []
  // Incremental rendering rewrites a line from its first changed column: the title's word is what arrives.
  const titles: Record<string, string> = { '1': 'Overview', '2': 'Members' }
  const started = performance.now()
  for (let index = 0; index < count; index++) {
    const key = index % 2 === 0 ? '2' : '1'
    waitingFor = titles[key]!
    const sentAt = performance.now()
    stdin.type(key)
    while (waitingFor !== null) {
      await new Promise((resolve) => setImmediate(resolve))
      if (performance.now() - sentAt > measureLimits.keyShownMsMax) throw new Error(`tui bench: key ${key} not shown within ${measureLimits.keyShownMsMax} ms`)
    }
    latencies.push(shownAt - sentAt)
    await new Promise((resolve) => setTimeout(resolve, measureLimits.keyGapMs))
  }
  const wallMs = performance.now() - started
  instance.unmount()
  attached.close()
  latencies.sort((a, b) => a - b)
  return { case: name, opsPerSecond: round(count / (wallMs / 1000), 1), p50Ms: round(percentile(latencies, 0.5), 2), p99Ms: round(percentile(latencies, 0.99), 2), maxMs: round(latencies[latencies.length - 1]!, 2) }
}
