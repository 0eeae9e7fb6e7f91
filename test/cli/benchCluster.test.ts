/**
 * `dwcp bench cluster --quick --json`: the JSON shape of every case, each
 * beside its anchor. Opt-in (DWCP_BENCH_CLUSTER=1): even the quick run starts
 * two clusters of node processes, etcd and the reference Yjs server, which
 * took 61 to 85 s on the shared 2-core machine (at or over the ~60 s a test may
 * take), and on a fresh machine it installs etcd (apt-get, as root) and
 * @y/websocket-server (npm) first. Figures are never checked, only that every
 * case ran and reports what it should.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const bin = join(import.meta.dirname, '../../bin/dwcp.js')
const runMs = 240_000

describe('dwcp bench cluster', () => {
  it.skipIf(process.env.DWCP_BENCH_CLUSTER !== '1')('prints every case beside its anchor, with ratios for the targets', { timeout: runMs + 10_000 }, () => {
    const run = spawnSync(process.execPath, ['--disable-warning=ExperimentalWarning', bin, 'bench', 'cluster', '--quick', '--json'], { encoding: 'utf8', timeout: runMs })
    expect(run.status, run.stderr).toBe(0)
    const report = JSON.parse(run.stdout)
    expect(report).toMatchObject({ bench: 'cluster', machine: { cpus: expect.any(Number) } })
    const byCase = new Map<string, Record<string, unknown>>(report.results.map((result: Record<string, unknown>) => [result.case, result]))
    const puts = ['strong', 'auto', 'eventual', 'byzantine'].flatMap((level) => [1, 64].map((clients) => `put-${level}-${clients}`))
    const expected = [...puts, 'etcd-put-1', 'etcd-put-64', 'transport-peer-links-256', 'transport-raw-ws-256', 'yjs-node-window-1', 'yjs-reference-window-1', 'yjs-node-window-32', 'yjs-reference-window-32']
    expect([...byCase.keys()].sort()).toEqual([...expected].sort())
    for (const result of byCase.values()) expect(result).toMatchObject({ opsPerSecond: expect.any(Number), loadAvg1m: expect.any(Number), unit: expect.any(String) })
    for (const name of [...puts, 'etcd-put-1', 'etcd-put-64']) {
      const clients = Number(name.split('-').at(-1))
      expect(byCase.get(name)).toMatchObject({ clients, valueBytes: 256, p50Ms: expect.any(Number), p99Ms: expect.any(Number), operations: expect.any(Number), errors: expect.any(Number) })
      expect(byCase.get(name)!.nodes).toBe(name.includes('byzantine') ? 4 : 3)
    }
    for (const clients of [1, 64]) {
      const strong = byCase.get(`put-strong-${clients}`)!
      const etcd = byCase.get(`etcd-put-${clients}`)!
      expect(strong).toMatchObject({ etcdOpsPerSecond: etcd.opsPerSecond, etcdP99Ms: etcd.p99Ms, ratio: expect.any(Number), p99Ratio: expect.any(Number), ratioTarget: 1, p99RatioMax: 1 })
    }
    const links = byCase.get('transport-peer-links-256')!
    expect(links).toMatchObject({ rawWsMessagesPerSecond: byCase.get('transport-raw-ws-256')!.opsPerSecond, ratioTarget: 0.7, dropped: 0 })
    expect(links.opsPerSecond).toBeGreaterThan(0)
    for (const window of [1, 32]) {
      const ours = byCase.get(`yjs-node-window-${window}`)!
      const reference = byCase.get(`yjs-reference-window-${window}`)!
      expect(ours).toMatchObject({ window, referenceUpdatesPerSecond: reference.opsPerSecond, ratioTarget: 0.8, p50Ms: expect.any(Number), p99Ms: expect.any(Number) })
      expect(ours.stalled).toBeUndefined()
      expect(reference.stalled).toBeUndefined()
      expect(reference.opsPerSecond).toBeGreaterThan(0)
    }
  })
})
