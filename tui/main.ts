/**
 * `dwcp tui`: builds the sources (a simulation, or one live feed per node
 * URL), the cluster model over them, and either the full-screen app on a
 * terminal or, without one (or in CI), one plain snapshot.
 */
import { render } from 'ink'
import { createElement as h } from 'react'
import { App } from './app/App.ts'
import type { ScreenName } from './app/screens.ts'
import { ClusterModel } from './data/clusterModel.ts'
import type { ClusterSource, FaultTarget } from './data/clusterSource.ts'
import { ContextSet, type ContextSpec } from './data/contexts.ts'
import { LiveFaults } from './data/live/liveFaults.ts'
import { LiveNodeSource } from './data/live/liveNodeSource.ts'
import { SimSource } from './data/sim/simSource.ts'
import type { SimWorldKind } from './data/sim/simWorld.ts'
import { noColorFromEnv, ThemeContext } from './components/theme.ts'
import { plainSnapshot } from './plain.ts'

export const tuiLimits = {
  /** Without a terminal: how long to wait for live nodes' first snapshots before printing what there is. */
  plainWaitMs: 5_000,
  /**
   * Ink's frame cap: well above the 20 snapshots a second the data layer publishes (clusterModelLimits),
   * which is what bounds the frames; the cap only delays a frame that comes right after another, such as a
   * keystroke's: at 30 up to 33 ms, at 60 up to 17 (bench tui: keystroke p50 about halved). At 20 Ink's
   * throttle let through only every other snapshot (10 frames a second).
   */
  maxFps: 60,
} as const

export type TuiTarget =
  /** Live clusters: the first context is on screen at the start, the others a `:ctx` away. */
  | { readonly kind: 'live'; readonly contexts: readonly ContextSpec[]; readonly token: string | null }
  | { readonly kind: 'sim'; readonly world: SimWorldKind; readonly seed: number; readonly nodes?: number; readonly speed: number; readonly atUs: number }

export interface TuiOptions {
  readonly target: TuiTarget
  readonly readonly: boolean
  readonly screen?: ScreenName
  readonly stdout: NodeJS.WriteStream
  readonly stdin: NodeJS.ReadStream
  readonly env: Readonly<Record<string, string | undefined>>
  /** Closes the UI from outside (dwcp up: its cluster stopped under it). */
  readonly signal?: AbortSignal
}

/** Whether to draw the full-screen UI: a terminal, not CI (Ink draws nothing until exit in CI). */
export function interactive(stdout: { readonly isTTY?: boolean }, env: Readonly<Record<string, string | undefined>>): boolean {
  const ci = env['CI'] !== undefined && env['CI'] !== '' && env['CI'] !== '0' && env['CI'] !== 'false'
  return stdout.isTTY === true && !ci
}

export function buildModel(target: TuiTarget, readonly: boolean, play: boolean): { model: ClusterModel; sim: SimSource | null; contexts: ContextSet | null } {
  if (target.kind === 'sim') {
    const sim = new SimSource({ kind: target.world, seed: target.seed, nodes: target.nodes, speed: target.speed, play })
    if (target.atUs > 0) sim.seek(target.atUs)
    return { model: new ClusterModel({ sources: [sim], faults: readonly ? null : sim }), sim, contexts: null }
  }
  const contexts = new ContextSet(target.contexts.map((spec) => ({ spec, model: liveModel(spec.urls, target.token, readonly) })))
  return { model: contexts.getSnapshot().model, sim: null, contexts }
}

/** One live cluster: a feed per node, and (unless readonly) the --dev fault switch of its nodes. */
export function liveModel(urls: readonly string[], token: string | null, readonly: boolean): ClusterModel {
  const sources = urls.map((url) => new LiveNodeSource({ url, token }))
  const faults: FaultTarget | null = readonly ? null : new LiveFaults(sources)
  return new ClusterModel({ sources: sources as ClusterSource[], faults })
}

export async function runTui(options: TuiOptions): Promise<void> {
  if (!interactive(options.stdout, options.env)) return printPlain(options)
  const { model, sim, contexts } = buildModel(options.target, options.readonly, true)
  const color = !noColorFromEnv(options.env)
  const instance = render(h(ThemeContext.Provider, { value: { color } }, h(App, { model, sim, contexts, readonly: options.readonly, initialScreen: options.screen })), {
    stdout: options.stdout,
    stdin: options.stdin,
    maxFps: tuiLimits.maxFps,
    incrementalRendering: true,
    alternateScreen: true,
    patchConsole: true,
  })
  const close = () => instance.unmount()
  options.signal?.addEventListener('abort', close, { once: true })
  if (options.signal?.aborted === true) close()
  try {
    await instance.waitUntilExit()
  } finally {
    options.signal?.removeEventListener('abort', close)
    if (contexts !== null) contexts.close()
    else model.close()
  }
}

/** One plain snapshot: a simulation at its starting point (`--at`), live nodes once they answered (or the wait ran out). */
async function printPlain(options: TuiOptions): Promise<void> {
  const { model, sim, contexts } = buildModel(options.target, true, false)
  try {
    if (sim !== null) {
      const target = options.target.kind === 'sim' ? options.target.atUs : 0
      while (sim.getSnapshot().sim!.nowUs < target && sim.getSnapshot().sim!.stopped === null) sim.frame()
    } else {
      const deadline = Date.now() + tuiLimits.plainWaitMs
      while (Date.now() < deadline && model.getSnapshot().sources.some((source) => source.connection.kind !== 'live' || source.nodes[0]?.snapshot === null)) {
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    model.refresh()
    options.stdout.write(`${plainSnapshot(model.getSnapshot(), options.stdout.columns || 100, Date.now())}\n`)
  } finally {
    if (contexts !== null) contexts.close()
    else model.close()
  }
}
