/**
 * dwcp up: a local cluster of `dwcp node` processes. The first run makes
 * `<data>/<id>/` per node and `<data>/cluster.json`; later runs start the
 * same cluster from the same data dirs. Waits until a leader is elected and
 * every member is alive on every node, prints the endpoints and a summary,
 * then, on a terminal, opens the terminal UI on the cluster (unless
 * --no-tui); leaving it asks whether to stop the cluster. Without the UI (or
 * after answering no) it stays in the foreground until Ctrl-C (or SIGTERM),
 * which stops every node and exits 0. While it runs, `<data>/up.json` tells
 * the client commands where the nodes are.
 */
import { resolve } from 'node:path'
import type { Argv, CommandModule } from 'yargs'
import { parseDurationMs } from '../../node/config.ts'
import { exitCodes, UsageError } from '../exitCodes.ts'
import { defaultDataDir } from '../client/targets.ts'
import type { ClusterLayout } from '../up/clusterLayout.ts'
import { describeExit, killNodes, logTail, spawnNode, stopNodes, type NodeProcess } from '../up/nodeProcesses.ts'
import { readinessLimits, waitUntilReady } from '../up/readiness.ts'
import { processAlive, readUpFile, removeUpFile, writeUpFile } from '../upFile.ts'
import { formatTable } from '../client/table.ts'
import { nodeConfigLimits } from '../../node/config.ts'
import { configurationLimits } from '../../core/replica/clusterConfiguration.ts'

interface UpArgs {
  nodes?: number
  regions?: string
  data: string
  basePort?: number
  wanLatency?: string
  tui?: boolean
  token?: string
  dev: boolean
  readyTimeout: number
  voterTargets?: string
}

export const upCommand: CommandModule<object, UpArgs> = {
  command: 'up',
  describe: 'Run a local cluster of node processes (made on first use, the same one again after)',
  builder: (yargs) =>
    yargs
      .option('nodes', { type: 'number', describe: 'nodes in a new cluster (default 5; an existing one keeps its own)' })
      .option('regions', { type: 'string', describe: 'regions of a new cluster, nodes spread round-robin (default eu,us,ap)' })
      .option('data', { type: 'string', default: defaultDataDir, describe: 'where the cluster lives: a data dir per node, cluster.json, up.json' })
      .option('base-port', { type: 'number', describe: 'port of n1; n2 gets the next, and so on (default 7701)' })
      .option('wan-latency', { type: 'string', describe: 'delay added to links between regions, e.g. 80ms (default none)' })
      .option('tui', { type: 'boolean', describe: 'open the terminal UI once the cluster is ready (default on a terminal; --no-tui: plain output)' })
      .option('token', { type: 'string', describe: 'require this bearer token for writes on every node (default: env DWCP_TOKEN; none)' })
      .option('dev', { type: 'boolean', default: false, describe: 'enable the dev fault switch (POST /v1/admin/faults) on every node' })
      .option('voter-targets', { type: 'string', describe: 'Raft voters wanted per region in a new cluster, e.g. eu=3,us=1 (nodes that join later are promoted toward it; default: the voters each region starts with)' })
      .option('ready-timeout', { type: 'number', default: readinessLimits.readyTimeoutMs, describe: 'milliseconds to wait for a leader and every member alive' })
      .example('$0 up', '5 nodes over eu, us and ap on ports 7701-7705, data in .dwcp/')
      .example('$0 up --nodes 3 --wan-latency 80ms', 'three nodes, inter-region links 80 ms slower') as unknown as Argv<UpArgs>,
  handler: async (args) => {
    const startedMs = performance.now()
    const tui = args.tui !== false && onTerminal()
    if (args.tui === true && !tui) process.stderr.write('dwcp up: no terminal (stdin and stdout must both be one): running without the UI\n')
    const wanLatency = args.wanLatency ?? null
    if (wanLatency !== null) {
      const ms = parseDurationMs(wanLatency)
      if (ms === null || ms < 0 || ms > nodeConfigLimits.wanLatencyMsMax) throw new UsageError(`--wan-latency: expected a duration such as 80ms or 0.5s (0..${nodeConfigLimits.wanLatencyMsMax} ms), got ${JSON.stringify(wanLatency)}`)
    }
    if (!Number.isSafeInteger(args.readyTimeout) || args.readyTimeout < 1) throw new UsageError(`--ready-timeout: expected milliseconds, got ${String(args.readyTimeout)}`)
    const regions = args.regions === undefined ? undefined : args.regions.split(',').map((region) => region.trim())
    const token = args.token ?? (process.env.DWCP_TOKEN === undefined || process.env.DWCP_TOKEN === '' ? null : process.env.DWCP_TOKEN)
    const dataDir = resolve(args.data)

    const running = readUpFile(dataDir)
    if (running !== null && running.pid !== process.pid && processAlive(running.pid)) {
      throw new UsageError(`a cluster is already running from ${dataDir} (dwcp up, pid ${running.pid}); stop it first`)
    }
    // Loaded here, not at the top: it opens SQLite, which no other command of this CLI process needs.
    const { prepareLayout } = await import('../up/clusterLayout.ts')
    const voterTargets = args.voterTargets === undefined ? undefined : parseVoterTargets(args.voterTargets)
    const layout = prepareLayout(dataDir, { nodes: args.nodes, regions, basePort: args.basePort, voterTargets })
    process.exitCode = await runCluster(layout, { wanLatency, token, dev: args.dev, readyTimeoutMs: args.readyTimeout, startedMs, tui })
  },
}

/** `eu=3,us=1` → { eu: 3, us: 1 }. */
export function parseVoterTargets(text: string): Record<string, number> {
  const targets: Record<string, number> = {}
  for (const part of text.split(',')) {
    const match = /^\s*([A-Za-z0-9._-]{1,64})=(\d)\s*$/.exec(part)
    if (match === null || Number(match[2]) > configurationLimits.votersMax) throw new UsageError(`--voter-targets: expected REGION=N,… with N in 0..${configurationLimits.votersMax}, got ${JSON.stringify(part)}`)
    if (match[1]! in targets) throw new UsageError(`--voter-targets: region ${match[1]} is named twice`)
    targets[match[1]!] = Number(match[2])
  }
  return targets
}

interface RunOptions {
  wanLatency: string | null
  token: string | null
  dev: boolean
  readyTimeoutMs: number
  startedMs: number
  /** Open the terminal UI once ready (a terminal, not --no-tui). */
  tui: boolean
}

/** Both ends are a terminal: the UI can draw and read keys, and the question after it can be answered. */
function onTerminal(): boolean {
  const ci = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== '0' && process.env.CI !== 'false'
  return process.stdout.isTTY === true && process.stdin.isTTY === true && !ci
}

/** Runs the cluster until a signal; resolves with the exit code. */
async function runCluster(layout: ClusterLayout, options: RunOptions): Promise<number> {
  const { cluster, dataDir } = layout
  let stopping = false
  let ready = false
  let stopSignal: () => void = () => {}
  const stopRequested = new Promise<void>((resolve) => (stopSignal = resolve))

  const onExit = (node: NodeProcess) => {
    if (stopping) return
    if (!ready) return // the start-up wait reports it, with the log
    process.stderr.write(`dwcp up: ${node.member.id} ${describeExit(node)}; the others carry on (log: ${node.logPath})\n`)
    if (nodes.every((other) => other.exit !== null)) {
      process.stderr.write('dwcp up: every node has stopped\n')
      stopSignal()
    }
  }
  const onSignal = (name: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`dwcp up: ${name} again: killing every node now\n`)
      killNodes(nodes)
      return
    }
    stopSignal()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  process.on('SIGHUP', onSignal)

  const nodes = cluster.members.map((member) => spawnNode(member, { dataDir, clusterPath: layout.clusterPath, wanLatency: options.wanLatency, dev: options.dev, token: options.token, onExit }))
  writeUpFile(dataDir, { pid: process.pid, startedAt: new Date().toISOString(), nodes: nodes.map((node) => ({ id: node.member.id, region: node.member.region, url: node.member.url, pid: node.child.pid ?? null })) })

  let exitCode: number = exitCodes.ok
  const stopWaiting = () => stopping || nodes.some((node) => node.exit !== null)
  let signalled = false
  void stopRequested.then(() => (signalled = true))
  const readiness = await waitUntilReady(cluster.members, options.token, () => signalled || stopWaiting(), options.readyTimeoutMs)
  const failed = nodes.filter((node) => node.exit !== null)
  if (signalled) {
    // Ctrl-C during the start: stop quietly.
  } else if (failed.length > 0) {
    const lines = failed.map((node) => `  ${node.member.id} ${describeExit(node)} while starting; the end of ${node.logPath}:\n${logTail(node.logPath)}`)
    process.stderr.write(`dwcp up: the cluster did not start:\n${lines.join('\n')}\n`)
    exitCode = failed.some((node) => node.exit?.code === exitCodes.usage) ? exitCodes.usage : exitCodes.unavailable
  } else if (!readiness.ready) {
    const lines = readiness.nodes.filter((node) => node.problem !== null).map((node) => `  ${node.id}: ${node.problem}`)
    process.stderr.write(`dwcp up: not ready after ${(options.readyTimeoutMs / 1000).toFixed(1)} s (readyTimeoutMs): a leader and every member alive on every node:\n${lines.join('\n')}\nLogs: ${dataDir}/<id>/node.log\n`)
    exitCode = exitCodes.unavailable
  } else {
    ready = true
    process.stdout.write(summary(layout, nodes, readiness.leader!, performance.now() - options.startedMs, options.tui))
    if (options.tui) {
      if (await runUi(layout, options.token, stopRequested)) stopSignal()
      else if (!signalled) process.stdout.write(`dwcp up: the nodes keep running; Ctrl-C here (or kill -TERM ${process.pid}) stops them; dwcp tui --data ${dataDir} opens the UI again\n`)
    }
    await stopRequested
  }

  stopping = true
  if (nodes.some((node) => node.exit === null)) {
    if (ready) process.stdout.write('dwcp up: stopping every node…\n')
    const killed = await stopNodes(nodes)
    if (killed.length > 0) process.stderr.write(`dwcp up: ${killed.join(', ')} did not stop within the grace period and were killed\n`)
  }
  removeUpFile(dataDir)
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
  process.off('SIGHUP', onSignal)
  if (ready) process.stdout.write('dwcp up: stopped\n')
  return exitCode
}

/**
 * The terminal UI on the cluster until the user leaves it (or the cluster
 * stops under it); then asks whether to stop the cluster. Resolves true for
 * yes (or Ctrl-C at the question), false to keep the nodes running.
 */
async function runUi(layout: ClusterLayout, token: string | null, stopRequested: Promise<void>): Promise<boolean> {
  // React's production build (the development one checks every render: several times the CPU); loaded only now, after the nodes are up.
  process.env.NODE_ENV ??= 'production'
  const { runTui } = await import('../../tui/main.ts')
  const closeUi = new AbortController()
  let stopped = false
  void stopRequested.then(() => {
    stopped = true
    closeUi.abort()
  })
  await runTui({
    target: { kind: 'live', contexts: [{ name: 'up', clusterId: layout.cluster.clusterId, urls: layout.cluster.members.map((member) => member.url) }], token },
    readonly: false,
    stdout: process.stdout,
    stdin: process.stdin,
    env: process.env,
    signal: closeUi.signal,
  })
  if (stopped) return true
  return askStop(stopRequested)
}

/** Asks on the terminal whether to stop the cluster: y stops it; n, Enter or end of input keep it running. */
async function askStop(stopRequested: Promise<void>): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises')
  const prompt = createInterface({ input: process.stdin, output: process.stdout })
  const closed = new AbortController()
  // The terminal is in raw mode while readline reads: Ctrl-C arrives here, not as a signal.
  prompt.on('SIGINT', () => closed.abort('interrupt'))
  try {
    const answer = await Promise.race([
      prompt.question('dwcp up: stop the cluster? [y/N] ', { signal: closed.signal }).catch(() => (closed.signal.reason === 'interrupt' ? 'y' : 'n')),
      stopRequested.then(() => 'y'),
      new Promise<string>((resolve) => prompt.once('close', () => resolve('n'))),
    ])
    return /^\s*y(es)?\s*$/i.test(answer)
  } finally {
    prompt.close()
  }
}

function summary(layout: ClusterLayout, nodes: readonly NodeProcess[], leader: string, tookMs: number, tui: boolean): string {
  const { cluster, dataDir } = layout
  const byRegion = new Map<string, string[]>()
  for (const member of cluster.members) byRegion.set(member.region, [...(byRegion.get(member.region) ?? []), member.id])
  const regions = [...byRegion].map(([region, ids]) => `${region} (${ids.join(', ')})`).join(', ')
  const table = formatTable(
    ['NODE', 'REGION', 'URL', 'PID'],
    nodes.map((node) => [node.member.id === leader ? `${node.member.id}*` : node.member.id, node.member.region, node.member.url, String(node.child.pid ?? '-')]),
  )
  return [
    `dwcp up: ${cluster.members.length} node${cluster.members.length === 1 ? '' : 's'} ready in ${(tookMs / 1000).toFixed(1)} s, leader ${leader} (cluster ${cluster.clusterId}, ${layout.created ? 'new' : 'restarted'})`,
    table.trimEnd().replace(/^/gm, '  '),
    `  regions: ${regions}`,
    `  data: ${dataDir} (logs: <id>/node.log)`,
    `try: npx dwcp kv put cfg/greeting hello · npx dwcp kv get cfg/greeting · npx dwcp members`,
    tui ? 'Opening the terminal UI (q leaves it).' : 'Ctrl-C stops the cluster.',
    '',
  ].join('\n')
}
