/**
 * `dwcp tui` as a user runs it without a terminal (piped output, CI): one
 * plain snapshot — of a simulation, or of live nodes over the real API —
 * and its usage errors.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createApi } from '../../api/app.ts'
import { startHttpServer, type HttpServer } from '../../node/httpServer.ts'
import { hostedCluster, hostedNodePolicies } from '../support/hostedCluster.ts'

const bin = join(import.meta.dirname, '../../bin/dwcp.js')
/** Any ANSI escape: the plain snapshot has none. */
const escape = /\u001b\[/

function dwcp(args: readonly string[], env: Record<string, string> = {}) {
  const run = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } })
  return { code: run.status, stdout: run.stdout, stderr: run.stderr }
}

const running: (() => unknown)[] = []
afterEach(async () => {
  for (const stop of running.splice(0).reverse()) await stop()
})

describe('dwcp tui without a terminal', () => {
  it('prints one plain snapshot of a simulation at the virtual time asked for, and exits', () => {
    const run = dwcp(['tui', '--sim', 'mixed', '--seed', '1', '--at', '4'], { CI: 'true' })
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/❚❚ paused 4\.0s\/22\.0s ×1 · mixed seed 1, 6 nodes/)
    expect(run.stdout).toMatch(/6 nodes, \d up · leader n\d term \d/)
    expect(run.stdout).toMatch(/as seen by n1 · 6 members/)
    expect(run.stdout).not.toMatch(escape)
  })

  it('prints live nodes once they answered', async () => {
    const cluster = hostedCluster(4, hostedNodePolicies)
    cluster.advance(3_000)
    const timer = setInterval(() => cluster.advance(10), 10)
    running.push(() => clearInterval(timer))
    const servers: HttpServer[] = []
    for (const node of cluster.nodes) {
      const server = await startHttpServer({ createApp: (ports) => createApi({ backend: { host: node.host, faults: null, frames: node.frames }, tokens: { write: null, read: null }, ...ports }) })
      running.push(() => server.close())
      servers.push(server)
    }
    // Asynchronously: the nodes live in this process and must keep answering while the child waits.
    const child = spawn(process.execPath, [bin, 'tui', ...servers.map((server) => server.url)], { env: { ...process.env, NO_COLOR: '1' } })
    running.push(() => child.kill())
    let stdout = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')))
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    expect(code).toBe(0)
    expect(stdout).toContain('live 3/3')
    const leader = cluster.nodes.find((node) => node.host.replica.raft?.role === 'leader')!.id
    expect(stdout).toContain(`3 nodes, 3 up · leader ${leader} term`)
    expect(stdout).not.toMatch(escape)
  })

  it('refuses what it cannot show, as usage errors', () => {
    const nowhere = dwcp(['tui', '--data', mkdtempSync(join(tmpdir(), 'dwcp-tui-'))])
    expect(nowhere.code).toBe(2)
    expect(nowhere.stderr).toMatch(/no cluster running under .*dwcp up/)
    const unknown = dwcp(['tui', '--sim', 'smoke'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/unknown scenario 'smoke'; the TUI shows: .*raft.*mixed.*churn/)
    expect(dwcp(['tui', '--sim', 'raft', '--nodes', '9']).stderr).toMatch(/--nodes must be an integer from 3 to 7/)
    expect(dwcp(['tui', '--sim', 'mixed', '--nodes', '64']).stderr).toMatch(/--nodes must be an integer from 4 to 9/)
    expect(dwcp(['tui', 'ftp://x']).stderr).toMatch(/expected node URLs as http\(s\):\/\/HOST:PORT/)
    expect(dwcp(['tui', '--context', 'prod']).stderr).toMatch(/--context: expected NAME=URL\[,URL…\]/)
    expect(dwcp(['tui', '--context', 'a=http://127.0.0.1:1', '--context', 'a=http://127.0.0.1:2']).stderr).toMatch(/two contexts named a/)
  })
})
