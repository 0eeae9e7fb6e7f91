/**
 * End to end, with real processes on loopback: `dwcp up --nodes 3` as a
 * child process, client commands at every consistency level against it,
 * Ctrl-C (SIGINT) stops every node, and a second `dwcp up` on the same data
 * dir serves what the first one acknowledged. Every wait is bounded; only
 * processes this test started are signalled.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

const bin = join(import.meta.dirname, '../../bin/dwcp.js')
const nodeArgs = ['--disable-warning=ExperimentalWarning', bin]

/** Bounds of every wait below. */
const limits = {
  upReadyMs: 60_000,
  upStopMs: 30_000,
  commandMs: 30_000,
  childGoneMs: 10_000,
} as const

const started: ChildProcess[] = []
const dataDir = mkdtempSync(join(tmpdir(), 'dwcp-e2e-'))

afterAll(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  rmSync(dataDir, { recursive: true, force: true })
})

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/** A base port with `count` free consecutive ports, away from the default 7701 that a developer's own cluster uses. */
async function freeBasePort(count: number): Promise<number> {
  for (let base = 21_000 + (process.pid % 400) * 10; base < 60_000; base += 97) {
    let free = true
    for (let port = base; port < base + count && free; port++) free = await portFree(port)
    if (free) return base
  }
  throw new Error('no free ports')
}

interface Up {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exited: Promise<{ code: number | null; signal: string | null }>
}

function startUp(args: string[]): Up {
  const child = spawn(process.execPath, [...nodeArgs, 'up', '--data', dataDir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  started.push(child)
  let out = ''
  let err = ''
  child.stdout!.on('data', (chunk) => (out += chunk))
  child.stderr!.on('data', (chunk) => (err += chunk))
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  return { child, stdout: () => out, stderr: () => err, exited }
}

async function waitFor<T>(what: string, up: Up, check: () => T | null, ms: number): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const found = check()
    if (found !== null) return found
    if (up.child.exitCode !== null || up.child.signalCode !== null) throw new Error(`dwcp up exited (${up.child.exitCode ?? up.child.signalCode}) before ${what}:\n${up.stdout()}\n${up.stderr()}`)
    if (Date.now() > deadline) throw new Error(`no ${what} within ${ms} ms:\n${up.stdout()}\n${up.stderr()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function untilReady(up: Up): Promise<string> {
  return waitFor('ready line', up, () => /nodes ready in .* leader (\S+)/.exec(up.stdout())?.[1] ?? null, limits.upReadyMs)
}

function dwcp(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...nodeArgs, ...args, '--data', dataDir], { timeout: limits.commandMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr })
    })
  })
}

async function ok(...args: string[]): Promise<string> {
  const run = await dwcp(...args)
  expect(run.code, `dwcp ${args.join(' ')}: ${run.stderr}`).toBe(0)
  return run.stdout
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function stop(up: Up): Promise<void> {
  const { pid } = up.child
  const nodePids = (JSON.parse(readFileSync(join(dataDir, 'up.json'), 'utf8')) as { nodes: { pid: number }[] }).nodes.map((node) => node.pid)
  expect(nodePids.every(alive)).toBe(true)
  up.child.kill('SIGINT')
  let timer: NodeJS.Timeout | undefined
  const result = await Promise.race([up.exited, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`dwcp up (pid ${pid}) still running ${limits.upStopMs} ms after SIGINT`)), limits.upStopMs)))])
  clearTimeout(timer)
  expect(result, up.stderr()).toEqual({ code: 0, signal: null })
  expect(up.stdout()).toContain('dwcp up: stopped')
  // Every node process has exited (dwcp up waits for them; check it did).
  const deadline = Date.now() + limits.childGoneMs
  while (nodePids.some(alive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  expect(nodePids.filter(alive)).toEqual([])
  expect(() => readFileSync(join(dataDir, 'up.json'))).toThrow()
}

describe('dwcp up, end to end', () => {
  it('runs 3 nodes, serves every consistency level, stops on SIGINT and starts again with nothing lost', { timeout: 240_000 }, async () => {
    const basePort = await freeBasePort(3)
    const first = startUp(['--nodes', '3', '--base-port', String(basePort)])
    const leader = await untilReady(first)
    expect(['n1', 'n2', 'n3']).toContain(leader)
    expect(first.stdout()).toContain(`http://127.0.0.1:${basePort}`)

    // strong (cfg is a strong namespace), auto (edge), eventual (a namespace made eventual here)
    expect(await ok('kv', 'put', 'cfg/greeting', 'hello', '--consistency', 'strong')).toMatch(/put cfg\/greeting: raft index \d+/)
    expect(await ok('kv', 'get', 'cfg/greeting', '--consistency', 'strong')).toBe('hello\n')
    expect(JSON.parse(await ok('kv', 'put', 'edge/x', 'auto-value', '--consistency', 'auto', '--json'))).toMatchObject({ key: 'edge/x', auto: { reason: expect.any(String) } })
    expect(await ok('kv', 'get', 'edge/x', '--consistency', 'auto')).toBe('auto-value\n')
    expect(JSON.parse(await ok('policy', 'set', 'ev', '--consistency', 'eventual', '--json'))).toMatchObject({ namespace: 'ev', policy: { consistency: 'eventual', valueType: 'register' } })
    expect(JSON.parse(await ok('kv', 'put', 'ev/y', 'eventual-value', '--consistency', 'eventual', '--json'))).toMatchObject({ key: 'ev/y', path: 'crdt' })
    expect(await ok('kv', 'get', 'ev/y', '--consistency', 'eventual')).toBe('eventual-value\n')
    expect(JSON.parse(await ok('crdt', 'inc', 'cnt/visits', '5', '--json'))).toMatchObject({ value: 5 })

    // errors: not found exits 1, a consistency mismatch is refused (6)
    const missing = await dwcp('kv', 'get', 'cfg/none')
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/notFound/)
    const mismatch = await dwcp('kv', 'put', 'cfg/greeting', 'x', '--consistency', 'eventual')
    expect(mismatch.code).toBe(6)

    const members = JSON.parse(await ok('members', '--json')) as { members: { id: string; state: string; region: string }[] }
    expect(members.members.map((member) => [member.id, member.state]).sort()).toEqual([
      ['n1', 'alive'],
      ['n2', 'alive'],
      ['n3', 'alive'],
    ])
    const status = JSON.parse(await ok('status', '--json'))
    expect(status).toMatchObject({ node: expect.any(String), leader, members: 3 })
    expect(await ok('members')).toMatch(/^configuration version 1: voters n1,n2,n3; learners -; pbft -\nID\s+REGION\s+URL\s+RAFT\s+PBFT\s+STATE/)

    await stop(first)

    // The same cluster again from the same data dir: same keys, same data.
    const again = startUp([])
    await untilReady(again)
    expect(again.stdout()).toContain('restarted')
    expect(await ok('kv', 'get', 'cfg/greeting', '--consistency', 'strong')).toBe('hello\n')
    expect(await ok('kv', 'get', 'edge/x')).toBe('auto-value\n')
    expect(await ok('kv', 'get', 'ev/y', '--consistency', 'eventual')).toBe('eventual-value\n')
    expect(JSON.parse(await ok('kv', 'get', 'cnt/visits', '--json'))).toMatchObject({ value: 5 })
    await stop(again)

    // A different --nodes than the cluster there: a clear error, exit 2, nothing started.
    const wrong = startUp(['--nodes', '5'])
    const result = await wrong.exited
    expect(result.code).toBe(2)
    expect(wrong.stderr()).toMatch(/--nodes 5: the cluster in .* has 3 nodes/)
  })
})
