/**
 * tui: the terminal UI attached to a 1,000-node simulation (`churn`, at ×1)
 * and to a 5-node live cluster of `dwcp node` processes (bench/tuiLive.ts):
 *
 * - overview-1000 / members-1000: screen updates per second and CPU (user +
 *   system, as a share of one core) with the app rendered as `dwcp tui` does
 *   (Ink, interactive, incremental, maxFps) into a 120×40 terminal that only
 *   counts what it is sent; `simCpuShare` is the same simulation attached to
 *   nothing, so the screen's own share is the difference;
 * - keystroke-1000: from a key typed to the terminal's input to the write
 *   that brings the view's new title to the terminal (the app rendered as
 *   above, Ink's frame cap included), p50 and p99, while the simulation runs
 *   and renders;
 * - overview-live-5 / members-live-5 / keystroke-live-5: the same on the live
 *   cluster under a light write load; `attachedCpuShare` is the cluster model
 *   attached and nothing rendered (the load's client included).
 * Targets (issue 17): at least 10 updates/s at no more than 50% of one core;
 * keystroke p99 at most 100 ms. Benchmarks report; they never fail on a time.
 */
import type { Bench } from './report.ts'

export const tuiBench: Bench = {
  name: 'tui',
  summary: 'terminal UI on a 1,000-node simulation and a 5-node live cluster: screen updates/s, CPU, keystroke-to-frame latency',
  run: async (options) => {
    // As `dwcp tui` runs it: React's production build (this must precede React's first import).
    process.env['NODE_ENV'] ??= 'production'
    return (await import('./tuiCases.ts')).runTuiBench(options)
  },
}
