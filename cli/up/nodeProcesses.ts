/**
 * The node processes of `dwcp up`: one `dwcp node` child per member, run by
 * the same Node that runs this CLI (process.execPath, so Node 22 even when
 * the shell's `node` is older), its output appended to `<data>/<id>/node.log`.
 * Each child reads its standard input from us and stops when it closes, so the
 * nodes go down with `dwcp up` even if it is killed outright. Stopping:
 * SIGTERM to each, then SIGKILL to those still running after `stopGraceMs`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readSync, statSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { ClusterMember } from '../../node/clusterConfig.ts'
import { nodeDataDir } from '../upFile.ts'

export const nodeProcessLimits = {
  /** How long stopped nodes get to finish in-flight calls and leave before SIGKILL. */
  stopGraceMs: 10_000,
  /** Lines of a node's log shown when it fails to start. */
  logTailLines: 12,
  /** Bytes read from the end of a log to find those lines. */
  logTailBytes: 16 * 1024,
} as const

export const nodeLogName = 'node.log'
const binPath = join(import.meta.dirname, '../../bin/dwcp.js')

export interface NodeProcess {
  readonly member: ClusterMember
  readonly child: ChildProcess
  readonly logPath: string
  /** Set once the process has exited: its code, or the signal that ended it. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | null
  readonly exited: Promise<void>
}

export interface SpawnOptions {
  dataDir: string
  clusterPath: string
  wanLatency: string | null
  dev: boolean
  /** Passed in the environment (never on the command line, where `ps` shows it). */
  token: string | null
  onExit: (node: NodeProcess) => void
}

export function spawnNode(member: ClusterMember, options: SpawnOptions): NodeProcess {
  const dir = nodeDataDir(options.dataDir, member.id)
  const logPath = join(dir, nodeLogName)
  const log = openSync(logPath, 'a')
  writeSync(log, `--- dwcp up starts ${member.id} at ${new Date().toISOString()}\n`)
  const args = ['--disable-warning=ExperimentalWarning', binPath, 'node', '--id', member.id, '--cluster', options.clusterPath, '--data', dir, '--exit-with-stdin']
  if (options.wanLatency !== null) args.push('--wan-latency', options.wanLatency)
  if (options.dev) args.push('--dev')
  const env: NodeJS.ProcessEnv = { ...process.env }
  // The children take their settings from the flags above, not from whatever DWCP_* the shell holds.
  for (const name of Object.keys(env)) if (name.startsWith('DWCP_')) delete env[name]
  if (options.token !== null) env.DWCP_TOKEN = options.token
  let child: ChildProcess
  try {
    // detached: Ctrl-C on the terminal reaches `dwcp up` alone, which stops the nodes in order.
    child = spawn(process.execPath, args, { stdio: ['pipe', log, log], env, detached: true })
  } finally {
    closeSync(log)
  }
  let resolveExited!: () => void
  const node: NodeProcess = { member, child, logPath, exit: null, exited: new Promise((resolve) => (resolveExited = resolve)) }
  child.stdin?.on('error', () => {})
  child.on('exit', (code, signal) => {
    node.exit = { code, signal }
    resolveExited()
    options.onExit(node)
  })
  child.on('error', (error) => {
    if (node.exit === null) {
      node.exit = { code: null, signal: null }
      writeLog(logPath, `dwcp up: cannot start: ${error.message}\n`)
      resolveExited()
      options.onExit(node)
    }
  })
  return node
}

function writeLog(path: string, text: string): void {
  try {
    const fd = openSync(path, 'a')
    writeSync(fd, text)
    closeSync(fd)
  } catch {
    // The log is for people; a failure to write it changes nothing.
  }
}

export function describeExit(node: NodeProcess): string {
  if (node.exit === null) return 'running'
  return node.exit.signal !== null ? `killed by ${node.exit.signal}` : `exited with code ${node.exit.code}`
}

/** The last lines of a node's log, indented, for an error message. */
export function logTail(path: string): string {
  try {
    const size = statSync(path).size
    const length = Math.min(size, nodeProcessLimits.logTailBytes)
    const buffer = Buffer.alloc(length)
    const fd = openSync(path, 'r')
    try {
      readSync(fd, buffer, 0, length, size - length)
    } finally {
      closeSync(fd)
    }
    return buffer
      .toString('utf8')
      .trimEnd()
      .split('\n')
      .slice(-nodeProcessLimits.logTailLines)
      .map((line) => `    ${line}`)
      .join('\n')
  } catch {
    return '    (no log)'
  }
}

/**
 * Stops every node still running: SIGTERM, then SIGKILL to the stragglers
 * after `graceMs`. Resolves when all have exited; returns the ids that had to be killed.
 */
export async function stopNodes(nodes: readonly NodeProcess[], graceMs: number = nodeProcessLimits.stopGraceMs): Promise<string[]> {
  const running = nodes.filter((node) => node.exit === null)
  for (const node of running) signal(node, 'SIGTERM')
  let timer: NodeJS.Timeout | undefined
  const graceOver = new Promise<'grace'>((resolve) => (timer = setTimeout(() => resolve('grace'), graceMs)))
  await Promise.race([Promise.all(running.map((node) => node.exited)), graceOver])
  clearTimeout(timer)
  const stragglers = running.filter((node) => node.exit === null)
  for (const node of stragglers) signal(node, 'SIGKILL')
  await Promise.all(stragglers.map((node) => node.exited))
  return stragglers.map((node) => node.member.id)
}

/** Kills every node at once (a second Ctrl-C). */
export function killNodes(nodes: readonly NodeProcess[]): void {
  for (const node of nodes) if (node.exit === null) signal(node, 'SIGKILL')
}

function signal(node: NodeProcess, name: NodeJS.Signals): void {
  try {
    node.child.kill(name)
  } catch {
    // Already gone: its exit event follows.
  }
}
