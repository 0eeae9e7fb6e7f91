/**
 * A local `wrangler dev` of the edge Worker (wrangler.toml at the repo root)
 * for benches and tests: the installed wrangler run by this Node (no npx, no
 * network), in its own process group (a SIGTERM to wrangler alone does not
 * reach its workerd children: DESIGN §9), state in a fresh temporary
 * --persist-to dir unless one is given. `startWranglerDev` resolves once the
 * Worker answers GET /v1/version; `stop` ends the whole group it started and
 * waits until no process of it is left.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './freePort.ts'

const repoRoot = join(import.meta.dirname, '..')
const wranglerBin = join(repoRoot, 'node_modules/wrangler/bin/wrangler.js')
/** The tail of wrangler's output kept for error messages. */
const logCharsMax = 8_000
const pollMs = 250

export interface WranglerDevOptions {
  /** Port on 127.0.0.1; a free one when absent. */
  readonly port?: number
  /** `--var NAME:VALUE` each (e.g. DWCP_CLUSTER_SECRET, REGIONS), over wrangler.toml's [vars]. */
  readonly vars?: Readonly<Record<string, string>>
  /** State dir (kept on stop); a fresh temporary one (removed on stop) when absent. */
  readonly persistTo?: string
  /** How long to wait for the Worker to answer; 60 s when absent. */
  readonly startTimeoutMs?: number
  /** How long `stop` waits after SIGTERM before SIGKILL to the group; 10 s when absent. */
  readonly stopTimeoutMs?: number
}

export interface WranglerDev {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly base: string
  readonly port: number
  /** wrangler's pid, which is also its process group's id. */
  readonly pid: number
  readonly persistTo: string
  /** The last lines wrangler printed (stdout and stderr). */
  log(): string
  /** Ends wrangler's process group (wrangler, workerd) and waits until it is gone; idempotent. */
  stop(): Promise<void>
}

export async function startWranglerDev(options: WranglerDevOptions = {}): Promise<WranglerDev> {
  const port = options.port ?? (await freePort())
  const base = `http://127.0.0.1:${port}`
  const ownsPersistDir = options.persistTo === undefined
  const persistTo = options.persistTo ?? mkdtempSync(join(tmpdir(), 'dwcp-wrangler-dev-'))
  const varArgs = Object.entries(options.vars ?? {}).flatMap(([name, value]) => ['--var', `${name}:${value}`])
  const child = spawn(process.execPath, [wranglerBin, 'dev', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', persistTo, ...varArgs], {
    cwd: repoRoot,
    // Its own process group (setsid), so stop() can end workerd too.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
  })
  let log = ''
  const append = (chunk: Buffer) => (log = (log + chunk.toString()).slice(-logCharsMax))
  child.stdout!.on('data', append)
  child.stderr!.on('data', append)
  let exited = false
  child.on('exit', () => (exited = true))
  const pid = child.pid
  if (pid === undefined) throw new Error(`wrangler dev did not start (${wranglerBin})`)

  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await endGroup(pid, options.stopTimeoutMs ?? 10_000)
      if (ownsPersistDir) rmSync(persistTo, { recursive: true, force: true })
    })()
    return stopping
  }
  const dev: WranglerDev = { base, port, pid, persistTo, log: () => log, stop }
  try {
    await untilTrue(
      `wrangler dev answering on ${base}`,
      async () => {
        if (exited) throw new WranglerExited(`wrangler dev exited before answering on ${base}. It said:\n${log}`)
        return (await fetch(`${base}/v1/version`)).ok
      },
      options.startTimeoutMs ?? 60_000,
      () => log,
    )
  } catch (error) {
    await stop()
    throw error
  }
  return dev
}

/** Thrown by a probe to end `untilTrue` at once. */
class WranglerExited extends Error {}

/**
 * Polls `probe` until it resolves true; a probe that throws counts as not
 * yet (the server is still starting), except WranglerExited. Throws after
 * `timeoutMs` with what wrangler said.
 */
export async function untilTrue(what: string, probe: () => Promise<boolean>, timeoutMs: number, log: () => string = () => ''): Promise<void> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    try {
      if (await probe()) return
    } catch (error) {
      if (error instanceof WranglerExited) throw error
    }
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms. wrangler dev said:\n${log()}`)
    await new Promise((resolve) => setTimeout(resolve, pollMs))
  }
}

/** SIGTERM to the group, then SIGKILL after `timeoutMs` if any of it is left; resolves when none is. */
async function endGroup(groupId: number, timeoutMs: number): Promise<void> {
  signalGroup(groupId, 'SIGTERM')
  const deadline = performance.now() + timeoutMs
  while (groupAlive(groupId)) {
    if (performance.now() > deadline) {
      signalGroup(groupId, 'SIGKILL')
      break
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const killDeadline = performance.now() + 5_000
  while (groupAlive(groupId) && performance.now() < killDeadline) await new Promise((resolve) => setTimeout(resolve, 50))
}

function signalGroup(groupId: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-groupId, signal)
  } catch {
    // The group is gone already.
  }
}

/** Whether a live (not zombie) process is left in the group: an unreaped zombie would keep `kill(-g, 0)` succeeding. */
export function groupAlive(groupId: number): boolean {
  return groupProcesses(groupId).length > 0
}

/** The live processes of process group `groupId` (zombies left out), from ps: pid, command name, command line. */
export function groupProcesses(groupId: number): { pid: number; comm: string; args: string }[] {
  const listed = spawnSync('ps', ['-e', '-o', 'pid=,pgid=,stat=,comm=,args='], { encoding: 'utf8' })
  return listed.stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length >= 4 && Number(fields[1]) === groupId && !fields[2]!.startsWith('Z'))
    .map((fields) => ({ pid: Number(fields[0]), comm: fields[3]!, args: fields.slice(4).join(' ') }))
}
