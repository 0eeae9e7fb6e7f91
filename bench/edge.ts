/**
 * edge: the edge Worker and its region objects in local workerd (`wrangler
 * dev` from the installed wrangler, no network; state in a fresh temporary
 * dir), the regions of wrangler.toml. CPU is the workerd processes' own
 * (user + system from /proc/<pid>/stat, Linux), since inside a Worker clocks
 * stand still while code runs.
 *
 * Cases:
 * - idle: no client for `idleMs` of real time (60 s; 10 s with --quick,
 *   scaled to a minute), after the cluster has settled. Per region and idle
 *   minute: alarms run (`wakesPerIdleMinute`), peer deliveries taken, and the
 *   workerd CPU over the regions (`cpuMsPerIdleMinute`, an even share). The
 *   target: at most one alarm per probe interval (`wakesTarget`).
 *   `cpuMsPerPeerMessage` is the idle CPU over the peer messages stepped: the
 *   idle cluster does nothing else (alarms aside), so this is the cost of a
 *   peer message in a region object, runtime (RPC, storage) included.
 * - idle-with-node: the same idle window once a real `dwcp node` process has
 *   joined through the Worker (`--join <base>`) and holds a peer socket to
 *   every region object: `nodeMessagesPerIdleMinute` is what one idle node
 *   costs each region object in WebSocket messages (each a wake of a
 *   sleeping object). Run last, so the node does not weigh on the others.
 * - writes-eventual, writes-auto: closed-loop clients writing through one
 *   region for `writeMs` (counter increments on the CRDT path; auto register
 *   puts, on Raft while links are fast): `opsPerSecond` is that region object's writes/s,
 *   p50Ms/p99Ms the client's round trips; `cpuMsPerPeerMessage` here is all
 *   workerd CPU (client requests too) over the peer messages stepped, an upper
 *   bound. Target: at most 1 ms per peer message.
 * - reads, version: the same clients and region, as a floor for the write
 *   cases' `cpuMsPerRequest`: `reads` GETs a key through the region object
 *   (Worker, RPC to the object, the API app; no storage write, no peer
 *   message), `version` is answered by the Worker alone. What a write costs
 *   above `reads` is the object's write work; `reads` above `version` is the
 *   hop to the object; `version` itself is the local dev stack (wrangler's
 *   proxy worker, the entry worker, HTTP parsing), which a deployed Worker
 *   does not run in the object's isolate. `devProxyCpuMsPerRequest` is the
 *   part of `cpuMsPerRequest` spent in wrangler's dev proxy workerd alone.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './freePort.ts'
import { percentile, round, type Bench, type BenchOptions, type BenchResult } from './report.ts'
import { groupProcesses, startWranglerDev, untilTrue } from './wranglerDev.ts'

const cpuMsPerPeerMessageTarget = 1
const startTimeoutMs = 60_000
const writeClients = 16
const writeRegion = 'weur'
const clusterSecret = 'bench-edge-secret'
const dwcpBin = join(import.meta.dirname, '../bin/dwcp.js')

interface WakeCounters {
  readonly region: string
  readonly alarmsRun: number
  readonly deliveriesTaken: number
  readonly messagesStepped: number
  readonly ticksRun: number
  readonly nodeMessagesIn: number
}

export const edgeBench: Bench = {
  name: 'edge',
  summary: 'region objects in local workerd (wrangler dev): idle wakes and CPU per region and minute (alone, and with a joined dwcp node), CPU per peer message, writes/s per region object',
  run: (options) => runEdgeBench(options),
}

async function runEdgeBench(options: BenchOptions): Promise<BenchResult[]> {
  options.progress('starting wrangler dev')
  const dev = await startWranglerDev({ vars: { DWCP_CLUSTER_SECRET: clusterSecret }, startTimeoutMs })
  const { base, port, log } = dev
  options.progress(`wrangler dev answering on ${base}`)
  try {
    await untilTrue(
      'a Raft leader among the region objects',
      async () => {
        const status = (await (await fetch(`${base}/v1/status?region=${writeRegion}`)).json()) as { leader?: string | null }
        return typeof status.leader === 'string'
      },
      startTimeoutMs,
      log,
    )
    const workerd = workerdPids(dev.pid)
    if (workerd.length === 0) throw new Error('no workerd process under wrangler dev: CPU cannot be measured')
    const devProxy = devProxyPids(dev.pid, port)
    const { probeIntervalMs } = await wakeReport(base)
    // Settle: the first digests and probes of a new cluster are not idle; one write, then quiet.
    await put(base, 'edge/bench-settle', 'x')
    await sleep(5 * probeIntervalMs)

    const idleMs = options.quick ? 10_000 : 60_000
    options.progress(`idle for ${idleMs / 1000} s`)
    const results: BenchResult[] = [await idleCase('idle', base, workerd, idleMs, probeIntervalMs)]

    const writeMs = options.quick ? 3_000 : 10_000
    for (const kind of ['eventual', 'auto', 'reads', 'version'] as const) {
      options.progress(`${kind} through ${writeRegion} for ${writeMs / 1000} s, ${writeClients} clients`)
      results.push(await writeCase(base, workerd, devProxy, kind, writeMs, probeIntervalMs))
    }

    options.progress('a dwcp node joins through the Worker')
    const node = await joinNode(base, log)
    try {
      await sleep(5 * probeIntervalMs)
      options.progress(`idle with the node for ${idleMs / 1000} s`)
      results.push(await idleCase('idle-with-node', base, workerd, idleMs, probeIntervalMs))
    } finally {
      await node.stop()
    }
    return results
  } finally {
    await dev.stop()
  }
}

/** No client for `idleMs`: per region and idle minute, alarms (wakes), peer deliveries and messages, node socket messages, ticks and workerd CPU. */
async function idleCase(name: string, base: string, workerd: readonly number[], idleMs: number, probeIntervalMs: number): Promise<BenchResult> {
  const before = { wakes: await wakeCounters(base), cpuMs: cpuMsOf(workerd), atMs: performance.now() }
  await sleep(idleMs)
  const after = { wakes: await wakeCounters(base), cpuMs: cpuMsOf(workerd), atMs: performance.now() }
  const minutes = (after.atMs - before.atMs) / 60_000
  const regions = after.wakes.length
  const delta = deltas(before.wakes, after.wakes)
  const cpuMs = after.cpuMs - before.cpuMs
  const messages = sum(delta.map((region) => region.messagesStepped))
  const wakesPerMinute = delta.map((region) => region.alarmsRun / minutes)
  const perRegionMinute = (field: keyof Omit<WakeCounters, 'region'>) => round(sum(delta.map((region) => region[field])) / regions / minutes, 1)
  return {
    case: name,
    opsPerSecond: 0,
    idleSeconds: round((after.atMs - before.atMs) / 1000, 1),
    timeKind: 'real time',
    regions,
    probeIntervalMs,
    wakesPerIdleMinute: round(Math.max(...wakesPerMinute), 1),
    wakesPerIdleMinuteByRegion: delta.map((region, index) => `${region.region}=${round(wakesPerMinute[index]!, 1)}`).join(' '),
    wakesTarget: 60_000 / probeIntervalMs,
    deliveriesPerIdleMinute: perRegionMinute('deliveriesTaken'),
    nodeMessagesPerIdleMinute: perRegionMinute('nodeMessagesIn'),
    peerMessagesPerIdleMinute: perRegionMinute('messagesStepped'),
    ticksPerIdleMinute: perRegionMinute('ticksRun'),
    cpuMsPerIdleMinute: round(cpuMs / regions / minutes, 1),
    cpuMsPerPeerMessage: round(messages === 0 ? 0 : cpuMs / messages, 4),
    cpuMsPerPeerMessageTarget,
  }
}

/** A `dwcp node` (region dc, fresh data dir) joined through the Worker at `base`, once every region object holds its peer socket. */
async function joinNode(base: string, log: () => string): Promise<{ stop(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dwcp-bench-edge-node-'))
  const args = ['--disable-warning=ExperimentalWarning', dwcpBin, 'node', '--id', 'bench-node', '--region', 'dc', '--port', String(await freePort()), '--data', dataDir, '--join', base, '--exit-with-stdin']
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'ignore', 'ignore'], env: { ...process.env, DWCP_CLUSTER_SECRET: clusterSecret } })
  child.stdin.on('error', () => {})
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async () => {
    child.kill('SIGKILL')
    await exited
    rmSync(dataDir, { recursive: true, force: true })
  }
  try {
    await untilTrue('the node holds a peer socket to every region object', async () => (await wakeReport(base)).regions.every((region) => region.nodePeers.includes('bench-node')), startTimeoutMs, log)
  } catch (error) {
    await stop()
    throw error
  }
  return { stop }
}

/**
 * Closed-loop clients through one region: `eventual` increments counters
 * (cnt/, the CRDT path), `auto` puts registers (edge/, Raft while the links
 * are datacenter-fast, as in local workerd); `reads` and `version` are the
 * floor (see the file comment).
 */
async function writeCase(base: string, workerd: readonly number[], devProxy: readonly number[], kind: 'eventual' | 'auto' | 'reads' | 'version', writeMs: number, probeIntervalMs: number): Promise<BenchResult> {
  const before = { wakes: await wakeCounters(base), cpuMs: cpuMsOf(workerd), devProxyCpuMs: cpuMsOf(devProxy) }
  pathsTaken.clear()
  const latenciesMs: number[] = []
  const startedMs = performance.now()
  const endMs = startedMs + writeMs
  let failed = 0
  await Promise.all(
    Array.from({ length: writeClients }, async (_, client) => {
      for (let index = 0; performance.now() < endMs; index++) {
        const sentMs = performance.now()
        const ok = await requestOf(kind, base, client, index)
        if (ok) latenciesMs.push(performance.now() - sentMs)
        else failed++
      }
    }),
  )
  const elapsedS = (performance.now() - startedMs) / 1000
  // Let the writes reach the other regions before counting their messages.
  await sleep(2 * probeIntervalMs)
  const after = { wakes: await wakeCounters(base), cpuMs: cpuMsOf(workerd), devProxyCpuMs: cpuMsOf(devProxy) }
  const messages = sum(deltas(before.wakes, after.wakes).map((delta) => delta.messagesStepped))
  const cpuMs = after.cpuMs - before.cpuMs
  latenciesMs.sort((a, b) => a - b)
  return {
    case: kind === 'eventual' || kind === 'auto' ? `writes-${kind}` : kind,
    opsPerSecond: round(latenciesMs.length / elapsedS, 1),
    p50Ms: round(percentile(latenciesMs, 0.5), 2),
    p99Ms: round(percentile(latenciesMs, 0.99), 2),
    region: writeRegion,
    clients: writeClients,
    failed,
    paths: [...pathsTaken].map(([path, count]) => `${path}=${count}`).join(' '),
    peerMessages: messages,
    cpuMsPerRequest: round(latenciesMs.length === 0 ? 0 : cpuMs / latenciesMs.length, 4),
    devProxyCpuMsPerRequest: round(latenciesMs.length === 0 ? 0 : (after.devProxyCpuMs - before.devProxyCpuMs) / latenciesMs.length, 4),
    cpuMsPerPeerMessage: round(messages === 0 ? 0 : cpuMs / messages, 4),
    cpuMsPerPeerMessageTarget,
  }
}

function requestOf(kind: 'eventual' | 'auto' | 'reads' | 'version', base: string, client: number, index: number): Promise<boolean> {
  if (kind === 'eventual') return increment(base, `cnt/bench-c${client}`)
  if (kind === 'auto') return put(base, `edge/bench-c${client}-${index % 64}`, `v${index}`)
  if (kind === 'reads') return read(base, 'edge/bench-settle')
  return fetchOk(`${base}/v1/version`)
}

async function read(base: string, key: string): Promise<boolean> {
  return fetchOk(`${base}/v1/kv/${key}?region=${writeRegion}`)
}

async function fetchOk(url: string): Promise<boolean> {
  const response = await fetch(url)
  await response.arrayBuffer()
  return response.ok
}

async function increment(base: string, key: string): Promise<boolean> {
  const response = await fetch(`${base}/v1/crdt/${key}?region=${writeRegion}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ op: 'inc' }) })
  return countPath(response)
}

/** Write paths the answers named (crdt, raft, ...), counted. */
const pathsTaken = new Map<string, number>()

async function put(base: string, key: string, value: string): Promise<boolean> {
  const response = await fetch(`${base}/v1/kv/${key}?region=${writeRegion}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value }) })
  return countPath(response)
}

async function countPath(response: Response): Promise<boolean> {
  const body = (await response.json()) as { path?: string }
  if (response.ok) pathsTaken.set(body.path ?? 'unknown', (pathsTaken.get(body.path ?? 'unknown') ?? 0) + 1)
  return response.ok
}

/** Every region's counters, and the probe interval of the edge config (the idle wake target: one alarm per interval). */
async function wakeReport(base: string): Promise<{ readonly probeIntervalMs: number; readonly regions: (WakeCounters & { readonly nodePeers: readonly string[] })[] }> {
  const response = await fetch(`${base}/v1/edge/wakes`)
  if (!response.ok) throw new Error(`GET /v1/edge/wakes answered ${response.status}: ${await response.text()}`)
  return (await response.json()) as { probeIntervalMs: number; regions: (WakeCounters & { nodePeers: string[] })[] }
}

async function wakeCounters(base: string): Promise<WakeCounters[]> {
  return (await wakeReport(base)).regions
}

function deltas(before: readonly WakeCounters[], after: readonly WakeCounters[]): WakeCounters[] {
  return after.map((counters, index) => {
    const earlier = before[index]!
    // A region object restarted in between (its counters start again): count from zero.
    const restarted = counters.ticksRun < earlier.ticksRun
    const minus = (name: keyof Omit<WakeCounters, 'region'>) => counters[name] - (restarted ? 0 : earlier[name])
    return { region: counters.region, alarmsRun: minus('alarmsRun'), deliveriesTaken: minus('deliveriesTaken'), messagesStepped: minus('messagesStepped'), ticksRun: minus('ticksRun'), nodeMessagesIn: minus('nodeMessagesIn') }
  })
}

/** The workerd processes in wrangler dev's process group. */
function workerdPids(groupId: number): number[] {
  return groupProcesses(groupId)
    .filter((process) => process.comm === 'workerd')
    .map((process) => process.pid)
}

/**
 * The workerd of wrangler's dev proxy, which listens on the port clients
 * use and forwards to the Worker's workerd: counted in `cpuMsPerRequest`
 * (it is workerd) and also alone, since a deployed Worker has no such hop.
 */
function devProxyPids(groupId: number, port: number): number[] {
  return groupProcesses(groupId)
    .filter((process) => process.args.includes('workerd serve') && process.args.includes(`entry=127.0.0.1:${port}`))
    .map((process) => process.pid)
}

/** User + system CPU of `pids`, in ms (clock ticks of 10 ms). */
function cpuMsOf(pids: readonly number[]): number {
  let ticks = 0
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    ticks += Number(fields[11]) + Number(fields[12])
  }
  const clockTicksPerSecond = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100
  return (ticks * 1000) / clockTicksPerSecond
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0)
}
