/**
 * The edge edition as a new user meets it: one local `wrangler dev` of the
 * edge Worker for the whole file (bench/wranglerDev.ts: the installed
 * wrangler, fresh state, a port of its own, its process group ended after),
 * and the real CLI against the Worker's URL: a write through region weur is
 * read back from region apac once it has converged, `dwcp status` names the
 * region and a leader, `dwcp members` lists the four region objects, and
 * `dwcp tui URL` in a real terminal (tmux) shows every region. Every wait
 * polls with a bound; only processes this file started are signalled.
 */
import { execFile, execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startWranglerDev, untilTrue, type WranglerDev } from '../../bench/wranglerDev.ts'

const bin = join(import.meta.dirname, '../../bin/dwcp.js')
const nodeArgs = ['--disable-warning=ExperimentalWarning', bin]
const tmux = '/usr/bin/tmux'
/** The regions of wrangler.toml, and their member ids. */
const regions = ['weur', 'enam', 'apac', 'wnam']
const regionMembers = regions.map((region) => `region-${region}`)

/** Bounds of every wait below. */
const limits = {
  devStartMs: 90_000,
  leaderMs: 60_000,
  convergedMs: 30_000,
  commandMs: 30_000,
  paneMs: 60_000,
} as const

let dev: WranglerDev | undefined
const tmuxSocket = `dwcp-edge-dev-test-${process.pid}`

beforeAll(
  async () => {
    dev = await startWranglerDev({ vars: { DWCP_CLUSTER_SECRET: 'edge-dev-test-secret-of-16-bytes-or-more' }, startTimeoutMs: limits.devStartMs })
    const { base, log } = dev
    await untilTrue(
      'a Raft leader among the region objects',
      async () => {
        const status = (await (await fetch(`${base}/v1/status?region=weur`)).json()) as { leader?: string | null }
        return typeof status.leader === 'string'
      },
      limits.leaderMs,
      log,
    )
  },
  limits.devStartMs + limits.leaderMs + 10_000,
)

afterAll(async () => {
  if (existsSync(tmux)) {
    try {
      execFileSync(tmux, ['-L', tmuxSocket, 'kill-server'], { stdio: 'ignore' })
    } catch {
      // No server was started, or it is gone.
    }
  }
  await dev?.stop()
}, 30_000)

function base(): string {
  if (dev === undefined) throw new Error('wrangler dev did not start')
  return dev.base
}

function dwcp(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...nodeArgs, ...args], { timeout: limits.commandMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr })
    })
  })
}

async function ok(...args: string[]): Promise<string> {
  const run = await dwcp(...args)
  expect(run.code, `dwcp ${args.join(' ')}: ${run.stderr}\nwrangler dev said:\n${dev?.log()}`).toBe(0)
  return run.stdout
}

describe('the edge Worker in wrangler dev, through the dwcp CLI', () => {
  it('a write through region weur is read back from region apac once converged', { timeout: limits.convergedMs + 4 * limits.commandMs }, async () => {
    const key = `edge/e2e-${process.pid}`
    const put = JSON.parse(await ok('kv', 'put', key, 'written in weur', '--url', base(), '--region', 'weur', '--json')) as { key: string }
    expect(put.key).toBe(key)
    // Read from apac until it has the write (eventual at the latest); the deadline bounds the wait, it is no assertion on time.
    let last = ''
    await untilTrue(
      `${key} read back from apac`,
      async () => {
        const run = await dwcp('kv', 'get', key, '--url', base(), '--region', 'apac')
        last = `${run.code} ${run.stdout}${run.stderr}`
        return run.code === 0 && run.stdout === 'written in weur\n'
      },
      limits.convergedMs,
      () => `last read: ${last}\n${dev?.log()}`,
    )
    // The region may be named in the URL too (?region=); the answer comes from apac's object.
    const read = JSON.parse(await ok('kv', 'get', key, '--url', `${base()}/?region=apac`, '--json')) as { value: unknown }
    expect(read.value).toBe('written in weur')
  })

  it('dwcp status names the region and a leader; dwcp members lists the four region objects', async () => {
    const status = JSON.parse(await ok('status', '--url', base(), '--region', 'apac', '--json')) as { node: string; region: string; leader: string | null; configuration: { voters: string[] } }
    expect(status.region).toBe('apac')
    expect(status.node).toBe('region-apac')
    expect(regionMembers).toContain(status.leader)
    expect([...status.configuration.voters].sort()).toEqual([...regionMembers].sort())
    // ?region= in --url is kept on the request path (new URL(path, base) alone drops it).
    const fromQuery = JSON.parse(await ok('status', '--url', `${base()}/?region=wnam`, '--json')) as { region: string }
    expect(fromQuery.region).toBe('wnam')

    const members = JSON.parse(await ok('members', '--url', base(), '--region', 'weur', '--json')) as { members: { id: string; region: string }[]; configuration: { members: { id: string; region: string }[] } }
    expect(members.configuration.members.map((member) => [member.id, member.region]).sort()).toEqual(regions.map((region) => [`region-${region}`, region]).sort())
    expect(members.members.map((member) => member.id).sort()).toEqual([...regionMembers].sort())

    const table = await ok('members', '--url', base())
    for (const id of regionMembers) expect(table).toMatch(new RegExp(`^${id}\\s+${id.slice('region-'.length)}\\s`, 'm'))
    // Without --region the nearest region answers; the table says which.
    expect(table).toMatch(new RegExp(`\\(as seen by ${base()}/v1/members: region (${regions.join('|')})\\)`))
  })

  it('dwcp tui URL shows every region object: roles, leader, members', { timeout: 2 * limits.paneMs + 10_000 }, async (context) => {
    if (!existsSync(tmux)) {
      console.log(`skipped: no ${tmux} (apt-get install tmux) to run dwcp tui in a real terminal`)
      context.skip()
    }
    const session = 'edge'
    const run = (...args: string[]) => execFileSync(tmux, ['-L', tmuxSocket, ...args], { encoding: 'utf8', timeout: 10_000 })
    const waitForPane = async (what: string, predicate: (screen: string) => boolean): Promise<string> => {
      const deadline = Date.now() + limits.paneMs
      for (;;) {
        const screen = run('capture-pane', '-p', '-t', session)
        if (predicate(screen)) return screen
        if (Date.now() > deadline) throw new Error(`waited ${limits.paneMs} ms for ${what}; the pane shows:\n${screen}`)
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    }
    const command = `env -u CI -u NO_COLOR TERM=xterm-256color '${process.execPath}' ${nodeArgs.map((arg) => `'${arg}'`).join(' ')} tui '${base()}'; echo "tui exited $?"; sleep 120`
    run('new-session', '-d', '-s', session, '-x', '120', '-y', '36', command)
    const overview = await waitForPane('four regions and a leader', (screen) => /4 nodes, 4 up · leader region-\w+ term \d+/.test(screen))
    for (const id of regionMembers) expect(overview).toMatch(new RegExp(`^${id}\\s+${id.slice('region-'.length)}\\s+ok\\s+(leader|follower)`, 'm'))

    run('send-keys', '-t', session, '2')
    const members = await waitForPane('the members', (screen) => /as seen by region-\w+ · 4 members/.test(screen))
    for (const id of regionMembers) expect(members).toMatch(new RegExp(`^${id}\\s+alive`, 'm'))

    run('send-keys', '-t', session, 'q')
    const ended = await waitForPane('the UI to exit', (screen) => screen.includes('tui exited'))
    expect(ended).toContain('tui exited 0')
  })
})
