/**
 * A cluster of real `dwcp node` processes on 127.0.0.1, for end-to-end tests
 * and benches: laid out with the code `dwcp up` uses (cli/up/clusterLayout.ts:
 * a data dir per node under one tmp dir, cluster.json with the nodes' public
 * keys), each node a child process (process.execPath + bin/dwcp.js) that this
 * module controls one by one: kill -9 one or all, SIGTERM, restart from the
 * same data dir. Every wait is bounded; only the processes started here are
 * signalled, by their own pid.
 *
 * Each child reads its stdin from us (`--exit-with-stdin`): if the test
 * runner dies, the nodes stop with it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { prepareLayout, type ClusterLayout } from '../../cli/up/clusterLayout.ts'
import { logTail, nodeLogName } from '../../cli/up/nodeProcesses.ts'
import { clusterReadiness, type ClusterReadiness } from '../../cli/up/readiness.ts'
import { nodeDataDir } from '../../cli/upFile.ts'
import type { ClusterMember } from '../../node/clusterConfig.ts'
import { portOfUrl } from '../../node/clusterFile.ts'

export const processClusterLimits = {
  /** Nodes one test cluster runs (each is a Node process on a shared machine). */
  nodesMax: 7,
  /** A leader elected and every member alive, from the start of the processes. */
  readyTimeoutMs: 60_000,
  /** A killed process gone (its exit seen). */
  exitTimeoutMs: 15_000,
  /** A SIGTERMed node's shutdown: node/main.ts bounds its own at 15 s. */
  gracefulExitTimeoutMs: 25_000,
  /** Pause between two readiness polls. */
  pollMs: 100,
  /** Ports tried when looking for a free run of consecutive ones. */
  portAttemptsMax: 200,
  /** Ports are taken below Linux's ephemeral range (32768+), so a peer link's outgoing socket never holds one. */
  portLow: 25_000,
  portHigh: 32_000,
} as const

const binPath = join(import.meta.dirname, '../../bin/dwcp.js')

export interface ProcessClusterOptions {
  readonly nodes: number
  readonly regions?: readonly string[]
  /** --dev on every node: POST /v1/admin/faults. */
  readonly dev?: boolean
  /** The write token (a random one by default; null: none). */
  readonly token?: string | null
  /** A read-only viewer token (none by default). */
  readonly viewerToken?: string | null
  /** Raft voters wanted per region, written into the cluster file (joined learners are promoted toward it). */
  readonly voterTargets?: Record<string, number>
  /** --dead-voter-remove on every node (autopilot's removal of an unreachable voter), e.g. '4s'. */
  readonly deadVoterRemove?: string
  /** The cluster secret (DWCP_CLUSTER_SECRET on every node, joiners included); none by default. */
  readonly secret?: string | null
}

/** A node started with --join: not in the cluster file; its data dir is under the cluster's root like the others. */
export interface JoinerSpec {
  readonly id: string
  readonly region: string
  /** Members to join through, in order. */
  readonly join: readonly string[]
}

export interface NodeExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

interface RunningNode {
  readonly child: ChildProcess
  exit: NodeExit | null
  readonly exited: Promise<NodeExit>
}

export class ProcessCluster {
  /** The tmp dir holding cluster.json and a data dir per node; removed by close(). */
  readonly root: string
  readonly layout: ClusterLayout
  readonly token: string | null
  readonly viewerToken: string | null
  private readonly dev: boolean
  private readonly deadVoterRemove: string | null
  readonly secret: string | null
  /** Nodes started with --join, by id: where they listen and what they join through. */
  private readonly joiners = new Map<string, ClusterMember & { readonly join: readonly string[] }>()
  private readonly processes = new Map<string, RunningNode>()
  /** Every exit seen, in order: a test can check that none was unexpected. */
  readonly exits: { id: string; pid: number; exit: NodeExit }[] = []
  private closed = false

  private constructor(root: string, layout: ClusterLayout, options: ProcessClusterOptions) {
    this.root = root
    this.layout = layout
    this.dev = options.dev ?? false
    this.token = options.token === undefined ? randomBytes(16).toString('hex') : options.token
    this.viewerToken = options.viewerToken ?? null
    this.deadVoterRemove = options.deadVoterRemove ?? null
    this.secret = options.secret ?? null
  }

  /** Lays the cluster out in a new tmp dir, starts every node, and waits until it is ready. */
  static async start(options: ProcessClusterOptions): Promise<ProcessCluster> {
    if (!Number.isSafeInteger(options.nodes) || options.nodes < 1 || options.nodes > processClusterLimits.nodesMax) throw new RangeError(`nodes must be 1..${processClusterLimits.nodesMax}`)
    const root = mkdtempSync(join(tmpdir(), 'dwcp-e2e-'))
    let cluster: ProcessCluster | null = null
    try {
      const basePort = await freeBasePort(options.nodes)
      const layout = prepareLayout(root, { nodes: options.nodes, basePort, regions: options.regions === undefined ? undefined : [...options.regions], voterTargets: options.voterTargets })
      cluster = new ProcessCluster(root, layout, options)
      for (const id of cluster.ids) cluster.spawn(id)
      await cluster.waitReady()
      return cluster
    } catch (error) {
      if (cluster !== null) await cluster.close()
      else rmSync(root, { recursive: true, force: true })
      throw error
    }
  }

  /** The cluster file's members, then the joiners started so far. */
  get members(): readonly ClusterMember[] {
    return [...this.layout.cluster.members, ...this.joiners.values()]
  }

  get ids(): string[] {
    return this.members.map((member) => member.id)
  }

  member(id: string): ClusterMember {
    const member = this.members.find((candidate) => candidate.id === id)
    if (member === undefined) throw new Error(`no node ${id} in this cluster (${this.ids.join(', ')})`)
    return member
  }

  url(id: string): string {
    return this.member(id).url
  }

  /** Whether the process of `id` is running (started and not yet seen to exit). */
  running(id: string): boolean {
    const node = this.processes.get(id)
    return node !== undefined && node.exit === null
  }

  runningIds(): string[] {
    return this.ids.filter((id) => this.running(id))
  }

  pid(id: string): number | null {
    return this.running(id) ? (this.processes.get(id)!.child.pid ?? null) : null
  }

  logPath(id: string): string {
    return join(nodeDataDir(this.root, id), nodeLogName)
  }

  /** The end of every node's log, for a failure message. */
  logs(): string {
    return this.ids.map((id) => `--- ${id} (${this.running(id) ? `pid ${this.pid(id)}` : 'stopped'}), ${this.logPath(id)}:\n${logTail(this.logPath(id))}`).join('\n')
  }

  /**
   * Starts a new node with `dwcp node --join` on a free port (its data dir
   * made by the node itself); it is one of this cluster's nodes from then on
   * (spawn restarts it with the same command, as an operator would).
   */
  async spawnJoiner(spec: JoinerSpec): Promise<ClusterMember> {
    if (this.members.some((member) => member.id === spec.id)) throw new Error(`${spec.id} is a node of this cluster already`)
    if (this.members.length >= processClusterLimits.nodesMax) throw new RangeError(`at most ${processClusterLimits.nodesMax} nodes`)
    const port = await freeBasePort(1)
    const member = { id: spec.id, region: spec.region, url: `http://127.0.0.1:${port}`, publicKey: new Uint8Array(0), join: [...spec.join] }
    this.joiners.set(spec.id, member)
    this.spawn(spec.id)
    return member
  }

  /** Starts node `id` from its data dir (the first start, or a restart after it exited). */
  spawn(id: string): void {
    if (this.closed) throw new Error('the cluster is closed')
    if (this.running(id)) throw new Error(`${id} is running already (pid ${this.pid(id)})`)
    const member = this.member(id)
    const dir = nodeDataDir(this.root, id)
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const log = openSync(this.logPath(id), 'a')
    writeSync(log, `--- test starts ${id} at ${new Date().toISOString()}\n`)
    const joiner = this.joiners.get(id)
    const args = ['--disable-warning=ExperimentalWarning', binPath, 'node', '--id', member.id, '--data', dir, '--exit-with-stdin']
    if (joiner === undefined) args.push('--cluster', this.layout.clusterPath)
    else args.push('--region', joiner.region, '--port', String(portOfUrl(joiner.url)), '--join', joiner.join.join(','))
    if (this.dev) args.push('--dev')
    if (this.deadVoterRemove !== null) args.push('--dead-voter-remove', this.deadVoterRemove)
    const env: NodeJS.ProcessEnv = { ...process.env }
    for (const name of Object.keys(env)) if (name.startsWith('DWCP_')) delete env[name]
    // Tokens and the secret in the environment, never on the command line.
    if (this.token !== null) env.DWCP_TOKEN = this.token
    if (this.viewerToken !== null) env.DWCP_VIEWER_TOKEN = this.viewerToken
    if (this.secret !== null) env.DWCP_CLUSTER_SECRET = this.secret
    let child: ChildProcess
    try {
      child = spawn(process.execPath, args, { stdio: ['pipe', log, log], env })
    } finally {
      closeSync(log)
    }
    let resolveExited!: (exit: NodeExit) => void
    const node: RunningNode = { child, exit: null, exited: new Promise((resolve) => (resolveExited = resolve)) }
    child.stdin?.on('error', () => {})
    const onGone = (exit: NodeExit) => {
      if (node.exit !== null) return
      node.exit = exit
      this.exits.push({ id, pid: child.pid ?? -1, exit })
      resolveExited(exit)
    }
    child.on('exit', (code, signal) => onGone({ code, signal }))
    child.on('error', () => onGone({ code: null, signal: null }))
    this.processes.set(id, node)
  }

  /** kill -9 of node `id`; resolves once its exit is seen. */
  async kill(id: string): Promise<NodeExit> {
    return this.signal(id, 'SIGKILL', processClusterLimits.exitTimeoutMs)
  }

  /** kill -9 of every running node at once (the signals first, then the waits). */
  async killAll(): Promise<void> {
    const running = this.runningIds()
    for (const id of running) this.send(id, 'SIGKILL')
    await Promise.all(running.map((id) => this.waitExit(id, processClusterLimits.exitTimeoutMs)))
  }

  /** SIGTERM to node `id` (a graceful stop); resolves with how it exited. */
  async terminate(id: string): Promise<NodeExit> {
    return this.signal(id, 'SIGTERM', processClusterLimits.gracefulExitTimeoutMs)
  }

  /** Waits for node `id` to exit on its own (a node that left the cluster stops); resolves with how it exited. */
  async waitStopped(id: string): Promise<NodeExit> {
    if (!this.processes.has(id)) throw new Error(`${id} was never started`)
    return this.waitExit(id, processClusterLimits.gracefulExitTimeoutMs)
  }

  /** Restarts node `id` (kill -9 first when it still runs). */
  async restart(id: string): Promise<void> {
    if (this.running(id)) await this.kill(id)
    this.spawn(id)
  }

  private async signal(id: string, name: NodeJS.Signals, timeoutMs: number): Promise<NodeExit> {
    if (!this.running(id)) throw new Error(`${id} is not running`)
    this.send(id, name)
    return this.waitExit(id, timeoutMs)
  }

  private send(id: string, name: NodeJS.Signals): void {
    const node = this.processes.get(id)!
    // By pid: ChildProcess.kill signals exactly the process we started.
    node.child.kill(name)
  }

  private async waitExit(id: string, timeoutMs: number): Promise<NodeExit> {
    const node = this.processes.get(id)!
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${id} (pid ${node.child.pid}) did not exit within ${timeoutMs} ms`)), timeoutMs)))
    try {
      return await Promise.race([node.exited, late])
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * Waits until every running node answers, they all name the same leader,
   * the leader is one of them, and each sees every running node alive (nodes
   * that are down are not asked about). Resolves with the leader.
   */
  async waitReady(timeoutMs: number = processClusterLimits.readyTimeoutMs): Promise<string> {
    const deadline = performance.now() + timeoutMs
    let last: ClusterReadiness | null = null
    for (;;) {
      const running = this.members.filter((member) => this.running(member.id))
      if (running.length === 0) throw new Error('no node is running')
      last = await clusterReadiness(running, this.token)
      if (last.ready && last.leader !== null && this.running(last.leader)) return last.leader
      const exited = this.exits.filter((entry) => entry.exit.code !== null && entry.exit.code !== 0 && entry.exit.signal === null)
      if (exited.length > 0) throw new Error(`a node exited on its own while waiting for the cluster: ${exited.map((entry) => `${entry.id} code ${entry.exit.code}`).join(', ')}\n${this.logs()}`)
      if (performance.now() >= deadline) {
        const problems = last.nodes.map((node) => `  ${node.id}: ${node.problem ?? `ready, leader ${node.leader}`}`).join('\n')
        throw new Error(`cluster not ready within ${timeoutMs} ms (a leader among the running nodes, each seeing the others alive):\n${problems}\n${this.logs()}`)
      }
      await new Promise((resolve) => setTimeout(resolve, processClusterLimits.pollMs))
    }
  }

  /** Kills every node still running and removes the tmp dir (kept, and named on stderr, when `keep`). */
  async close(options: { keep?: boolean } = {}): Promise<void> {
    if (this.closed) return
    this.closed = true
    const running = [...this.processes.keys()].filter((id) => this.running(id))
    for (const id of running) this.send(id, 'SIGKILL')
    await Promise.all(running.map((id) => this.waitExit(id, processClusterLimits.exitTimeoutMs).catch(() => null)))
    if (options.keep === true) process.stderr.write(`processCluster: kept ${this.root}\n`)
    else rmSync(this.root, { recursive: true, force: true })
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/** The first of `count` free consecutive ports, from a random start (test files run side by side). */
export async function freeBasePort(count: number): Promise<number> {
  const { portLow, portHigh, portAttemptsMax } = processClusterLimits
  for (let attempt = 0; attempt < portAttemptsMax; attempt++) {
    const base = randomInt(portLow, portHigh - count)
    let free = true
    for (let port = base; port < base + count && free; port++) free = await portFree(port)
    if (free) return base
  }
  throw new Error(`no ${count} free consecutive ports in ${portLow}..${portHigh} after ${portAttemptsMax} attempts`)
}
