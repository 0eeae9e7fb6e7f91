/**
 * A local cluster of real `dwcp node` processes for the cluster bench, laid
 * out as `dwcp up` lays one out (a data dir per node whose key goes into the
 * cluster file) under a temporary dir, on free loopback ports, with the
 * shipped durability (SQLite, synchronous=FULL). The bench cannot import
 * cli/ (the CLI imports the benches), so the few steps of `dwcp up` it needs
 * are here. Each child is run by this process's Node, reads its stdin from
 * us (--exit-with-stdin: it goes down with the bench even if the bench is
 * killed) and logs to `<dir>/<id>/node.log`. Stopping: SIGTERM, then SIGKILL
 * after stopGraceMs; every wait is bounded.
 *
 * DWCP_BENCH_PROFILE_DIR=DIR runs every node with `--cpu-prof` into DIR
 * (each writes its profile, named by pid, when it stops), to see where a
 * node's time goes; the node log names its pid.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClusterConfig, ClusterMember } from '../../node/clusterConfig.ts'
import { writeClusterFile } from '../../node/clusterFile.ts'
import { openDataDir } from '../../node/dataDir.ts'
import type { Policy } from '../../core/replica/policy.ts'
import { freePort } from '../freePort.ts'

export const nodeProcessLimits = {
  /** A fresh cluster elects a leader and sees every member alive within this. */
  readyTimeoutMs: 60_000,
  /** Pause between two readiness polls. */
  pollMs: 100,
  /** One status request while waiting. */
  requestTimeoutMs: 1_000,
  /** SIGTERM'd nodes get this long to stop before SIGKILL. */
  stopGraceMs: 10_000,
  /** Characters of a node's log quoted when it fails. */
  logTailChars: 2_000,
} as const

const binPath = join(import.meta.dirname, '../../bin/dwcp.js')

export interface NodeCluster {
  readonly members: readonly ClusterMember[]
  readonly urls: readonly string[]
  /** Raft leader once ready. */
  readonly leader: string
  close(): Promise<void>
}

interface Child {
  readonly id: string
  readonly process: ChildProcess
  readonly logPath: string
  exited: boolean
  readonly exit: Promise<void>
}

/** Starts `nodes` node processes with `policies` and waits until they agree on a leader and see each other alive. */
export async function startNodeCluster(nodes: number, policies: Record<string, Policy>, pbft: boolean): Promise<NodeCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'dwcp-bench-cluster-'))
  const regions = ['eu', 'us', 'ap']
  const members: ClusterMember[] = []
  for (let index = 0; index < nodes; index++) {
    const id = `n${index + 1}`
    const dataDir = openDataDir(join(dir, id))
    dataDir.storage.close()
    members.push({ id, region: regions[index % regions.length]!, url: `http://127.0.0.1:${await freePort()}`, publicKey: dataDir.signer.publicKey })
  }
  const ids = members.map((member) => member.id)
  const cluster: ClusterConfig = { clusterId: 'bench', members, raftVoters: ids, pbft: pbft ? ids.slice(0, 4) : [], policies }
  const clusterPath = join(dir, 'cluster.json')
  writeClusterFile(clusterPath, cluster)
  const profileDir = process.env.DWCP_BENCH_PROFILE_DIR
  const children = members.map((member) => spawnNode(member.id, clusterPath, join(dir, member.id), profileDir ? profileDir : null))
  const close = async (): Promise<void> => {
    await stopChildren(children)
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const leader = await waitUntilReady(members, children)
    return { members, urls: members.map((member) => member.url), leader, close }
  } catch (error) {
    await close()
    throw error
  }
}

function spawnNode(id: string, clusterPath: string, dataDir: string, profileDir: string | null): Child {
  const logPath = join(dataDir, 'node.log')
  const log = openSync(logPath, 'a')
  const profile = profileDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]
  let child: ChildProcess
  try {
    child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', ...profile, binPath, 'node', '--id', id, '--cluster', clusterPath, '--data', dataDir, '--exit-with-stdin'], {
      stdio: ['pipe', log, log],
      env: withoutDwcpSettings(process.env),
    })
  } finally {
    closeSync(log)
  }
  child.stdin?.on('error', () => {})
  const entry: Child = { id, process: child, logPath, exited: false, exit: new Promise((resolve) => child.once('exit', () => resolve())) }
  void entry.exit.then(() => (entry.exited = true))
  return entry
}

/** The children take their settings from their flags, not from whatever DWCP_* the shell holds. */
function withoutDwcpSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy: NodeJS.ProcessEnv = { ...env }
  for (const name of Object.keys(copy)) if (name.startsWith('DWCP_')) delete copy[name]
  return copy
}

async function stopChildren(children: readonly Child[]): Promise<void> {
  const running = children.filter((child) => !child.exited)
  for (const child of running) child.process.kill('SIGTERM')
  let timer: ReturnType<typeof setTimeout> | undefined
  await Promise.race([Promise.all(running.map((child) => child.exit)), new Promise((resolve) => (timer = setTimeout(resolve, nodeProcessLimits.stopGraceMs)))])
  clearTimeout(timer)
  const stragglers = running.filter((child) => !child.exited)
  for (const child of stragglers) child.process.kill('SIGKILL')
  await Promise.all(stragglers.map((child) => child.exit))
}

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(nodeProcessLimits.requestTimeoutMs) })
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`)
  return response.json()
}

/** Polls every node until all name one leader and see every member alive; returns the leader. */
async function waitUntilReady(members: readonly ClusterMember[], children: readonly Child[]): Promise<string> {
  const deadline = performance.now() + nodeProcessLimits.readyTimeoutMs
  let problem = 'not polled yet'
  for (;;) {
    const dead = children.find((child) => child.exited)
    if (dead !== undefined) throw new Error(`bench node ${dead.id} exited while starting; its log ends:\n${logTail(dead.logPath)}`)
    try {
      const leaders = new Set<unknown>()
      for (const member of members) {
        const status = (await getJson(`${member.url}/v1/status`)) as { leader?: unknown }
        const view = (await getJson(`${member.url}/v1/members`)) as { members?: { id: string; state: string }[] }
        leaders.add(status.leader)
        const notAlive = members.filter((other) => !view.members?.some((seen) => seen.id === other.id && seen.state === 'alive'))
        if (notAlive.length > 0) throw new Error(`${member.id} does not see ${notAlive.map((other) => other.id).join(', ')} alive`)
      }
      const [leader] = [...leaders]
      if (leaders.size === 1 && typeof leader === 'string') return leader
      problem = `leaders named: ${[...leaders].map(String).join(', ')}`
    } catch (error) {
      problem = (error as Error).message
    }
    if (performance.now() > deadline) throw new Error(`bench cluster not ready within ${nodeProcessLimits.readyTimeoutMs} ms: ${problem}`)
    await new Promise((resolve) => setTimeout(resolve, nodeProcessLimits.pollMs))
  }
}

function logTail(path: string): string {
  try {
    return readFileSync(path, 'utf8').slice(-nodeProcessLimits.logTailChars)
  } catch {
    return '(no log)'
  }
}
