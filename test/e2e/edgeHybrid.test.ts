/**
 * A hybrid cluster: real `dwcp node` processes join a local `wrangler dev` of
 * the edge Worker (`dwcp node --join http://127.0.0.1:PORT`, the Worker's
 * URL), peer with every region object over the WebSockets they dial, and
 * converge with them both ways: strong writes through the region objects'
 * Raft group, CRDT writes from a node. The same engines decide modes across
 * the boundary: with `--wan-latency` on the nodes (a frame between regions
 * waits that long, as on the internet) the nodes see each other as
 * datacenter and the region objects as internet, and a region object sees the
 * nodes as internet. A node killed with -9 comes back from its data dir (no
 * second join); every region object restarting at once (wrangler dev stopped
 * and started on its persisted state) finds the nodes again. A node removed
 * through the Worker loses its sockets and stops itself. A node that joins
 * through another node learns the Worker URL from the join answer.
 *
 * Every wait polls with a bound; only processes this file started are signalled.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../bench/freePort.ts'
import { startWranglerDev, untilTrue, type WranglerDev } from '../../bench/wranglerDev.ts'

const bin = join(import.meta.dirname, '../../bin/dwcp.js')
const secret = 'edge-hybrid-test-secret-of-16-bytes'
const regionMembers = ['region-weur', 'region-enam', 'region-apac', 'region-wnam']

/** Bounds of every wait below. */
const limits = {
  devStartMs: 90_000,
  leaderMs: 60_000,
  joinedMs: 60_000,
  convergedMs: 30_000,
  modesMs: 60_000,
  nodeExitMs: 15_000,
} as const

interface NodeProcess {
  readonly id: string
  readonly url: string
  readonly logPath: string
  child: ChildProcess
}

const root = mkdtempSync(join(tmpdir(), 'dwcp-edge-hybrid-'))
let dev: WranglerDev | undefined
const nodes: NodeProcess[] = []

/** Starts (or restarts from its data dir) `dwcp node --join <worker>` with the cluster secret in its environment. */
function startNode(id: string, port: number, joinUrl: string = dev!.base): NodeProcess {
  const logPath = join(root, `${id}.log`)
  const log = openSync(logPath, 'a')
  const env: NodeJS.ProcessEnv = { ...process.env, DWCP_CLUSTER_SECRET: secret }
  for (const name of ['DWCP_TOKEN', 'DWCP_VIEWER_TOKEN']) delete env[name]
  const args = ['--disable-warning=ExperimentalWarning', bin, 'node', '--id', id, '--region', 'dc', '--port', String(port), '--data', join(root, id), '--join', joinUrl, '--wan-latency', '80ms', '--exit-with-stdin']
  const child = spawn(process.execPath, args, { stdio: ['pipe', log, log], env })
  closeSync(log)
  child.stdin?.on('error', () => {})
  return { id, url: `http://127.0.0.1:${port}`, logPath, child }
}

async function stopNode(node: NodeProcess, signal: NodeJS.Signals): Promise<void> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => node.child.once('exit', () => resolve()))
  node.child.kill(signal)
  await Promise.race([exited, new Promise((_, reject) => setTimeout(() => reject(new Error(`${node.id} did not exit within ${limits.nodeExitMs} ms`)), limits.nodeExitMs))])
}

function logs(): string {
  return [dev?.log() ?? '', ...nodes.map((node) => `--- ${node.id}\n${readFileSync(node.logPath, 'utf8').slice(-4_000)}`)].join('\n')
}

async function json(url: string, init?: RequestInit): Promise<any> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) })
  return { status: response.status, body: await response.json() }
}

const edge = (path: string, region: string) => `${dev!.base}${path}${path.includes('?') ? '&' : '?'}region=${region}`

/** Polls until GET `url` answers 200 with `value` for the key. */
async function readsValue(url: string, value: unknown): Promise<void> {
  await untilTrue(`${url} reads ${JSON.stringify(value)}`, async () => (await json(url)).body.value === value, limits.convergedMs, logs)
}

beforeAll(
  async () => {
    // State in a dir of this file's: it outlives the restart of wrangler dev below.
    dev = await startWranglerDev({ persistTo: join(root, 'edge-state'), vars: { DWCP_CLUSTER_SECRET: secret }, startTimeoutMs: limits.devStartMs })
    await untilTrue('a Raft leader among the region objects', async () => typeof (await json(edge('/v1/status', 'weur'))).body.leader === 'string', limits.leaderMs, logs)
    for (const id of ['dc1', 'dc2']) nodes.push(startNode(id, await freePort()))
    // Each node joined (a learner of the configuration it applied) and hears the Raft leader.
    for (const node of nodes) {
      await untilTrue(
        `${node.id} joined the edge cluster`,
        async () => {
          const status = (await json(`${node.url}/v1/status`)).body
          return status.configuration?.learners?.includes(node.id) === true && regionMembers.includes(status.leader)
        },
        limits.joinedMs,
        logs,
      )
    }
  },
  limits.devStartMs + limits.leaderMs + 2 * limits.joinedMs + 10_000,
)

afterAll(async () => {
  for (const node of nodes) await stopNode(node, 'SIGKILL').catch(() => {})
  await dev?.stop()
  rmSync(root, { recursive: true, force: true })
})

describe('node processes in the edge cluster (wrangler dev)', () => {
  it('every region object holds a peer socket from each node, and writes converge both ways', async () => {
    await untilTrue(
      'every region object lists dc1 and dc2 as node peers',
      async () => {
        const wakes = (await json(`${dev!.base}/v1/edge/wakes`)).body
        return wakes.regions.every((region: { nodePeers: string[] }) => region.nodePeers.includes('dc1') && region.nodePeers.includes('dc2'))
      },
      limits.joinedMs,
      logs,
    )
    // Strong through one region object; the nodes (Raft learners) apply it.
    const strong = await json(edge('/v1/kv/cfg/hybrid?consistency=strong', 'weur'), { method: 'PUT', body: JSON.stringify({ value: 'from-weur' }) })
    expect(strong.status).toBe(200)
    for (const node of nodes) await readsValue(`${node.url}/v1/kv/cfg/hybrid?consistency=eventual`, 'from-weur')
    // Strong from a node: forwarded to the Raft leader among the region objects.
    const fromNode = await json(`${nodes[0]!.url}/v1/kv/cfg/from-node?consistency=strong`, { method: 'PUT', body: JSON.stringify({ value: 'dc1-strong' }) })
    expect(fromNode.status).toBe(200)
    await readsValue(edge('/v1/kv/cfg/from-node?consistency=strong', 'apac'), 'dc1-strong')
    // A CRDT counter from each side adds up everywhere.
    expect((await json(`${nodes[1]!.url}/v1/crdt/cnt/hybrid`, { method: 'POST', body: JSON.stringify({ op: 'inc', by: 2 }) })).status).toBe(200)
    expect((await json(edge('/v1/crdt/cnt/hybrid', 'enam'), { method: 'POST', body: JSON.stringify({ op: 'inc', by: 3 }) })).status).toBe(200)
    for (const url of [...nodes.map((node) => `${node.url}/v1/kv/cnt/hybrid`), ...['weur', 'enam', 'apac', 'wnam'].map((region) => edge('/v1/kv/cnt/hybrid', region))]) await readsValue(url, 5)
  })

  it('the links across the boundary measure as internet, the link within the datacenter as datacenter', async () => {
    const linkModes = async (url: string) => new Map<string, string | undefined>((await json(url)).body.members.map((member: { id: string; link: { mode: string } | null }) => [member.id, member.link?.mode]))
    await untilTrue(
      'dc1: dc2 datacenter, every region object internet',
      async () => {
        const modes = await linkModes(`${nodes[0]!.url}/v1/members`)
        return modes.get('dc2') === 'datacenter' && regionMembers.every((member) => modes.get(member) === 'internet')
      },
      limits.modesMs,
      logs,
    )
    await untilTrue(
      'region-enam: dc1 and dc2 internet',
      async () => {
        const modes = await linkModes(edge('/v1/members', 'enam'))
        return modes.get('dc1') === 'internet' && modes.get('dc2') === 'internet'
      },
      limits.modesMs,
      logs,
    )
  })

  it('a node killed with -9 restarts from its data dir and catches up; every region object restarting at once finds the nodes again', async () => {
    const dc1 = nodes[0]!
    await stopNode(dc1, 'SIGKILL')
    expect((await json(edge('/v1/kv/cfg/while-down?consistency=strong', 'wnam'), { method: 'PUT', body: JSON.stringify({ value: 'missed' }) })).status).toBe(200)
    dc1.child = startNode(dc1.id, Number(new URL(dc1.url).port)).child
    await readsValue(`${dc1.url}/v1/kv/cfg/while-down?consistency=eventual`, 'missed')
    expect(readFileSync(dc1.logPath, 'utf8')).toMatch(/--join is not used again/)

    // Every region object at once: wrangler dev stops and starts again on the same port and persisted state.
    const { port, persistTo } = dev!
    await dev!.stop()
    dev = await startWranglerDev({ port, persistTo, vars: { DWCP_CLUSTER_SECRET: secret }, startTimeoutMs: limits.devStartMs })
    await untilTrue('a Raft leader after the restart', async () => typeof (await json(edge('/v1/status', 'enam'))).body.leader === 'string', limits.leaderMs, logs)
    // What was acknowledged before survived in the objects' SQLite.
    await readsValue(edge('/v1/kv/cfg/hybrid?consistency=strong', 'enam'), 'from-weur')
    expect((await json(edge('/v1/kv/cfg/after-restart?consistency=strong', 'apac'), { method: 'PUT', body: JSON.stringify({ value: 'again' }) })).status).toBe(200)
    for (const node of nodes) await readsValue(`${node.url}/v1/kv/cfg/after-restart?consistency=eventual`, 'again')
  })

  it('a node removed through the Worker loses its peer sockets and stops itself', async () => {
    const dc2 = nodes[1]!
    const exited = new Promise<number | null>((resolve) => dc2.child.once('exit', (code) => resolve(code)))
    const removed = await json(edge('/v1/members/dc2', 'wnam'), { method: 'DELETE' })
    expect(removed.status).toBe(200)
    expect(removed.body.configuration.members.map((member: { id: string }) => member.id)).not.toContain('dc2')
    await Promise.race([exited, new Promise((_, reject) => setTimeout(() => reject(new Error(`dc2 did not stop within ${limits.nodeExitMs} ms\n${logs()}`)), limits.nodeExitMs))])
    expect(readFileSync(dc2.logPath, 'utf8')).toMatch(/removed from the cluster by configuration version/)
    await untilTrue(
      'no region object lists dc2',
      async () => (await json(`${dev!.base}/v1/edge/wakes`)).body.regions.every((region: { nodePeers: string[] }) => !region.nodePeers.includes('dc2') && region.nodePeers.includes('dc1')),
      limits.convergedMs,
      logs,
    )
  })

  it('a node joining through another node learns the Worker URL from the join answer and peers with every region object', async () => {
    const dc3 = startNode('dc3', await freePort(), nodes[0]!.url)
    nodes.push(dc3)
    await untilTrue('every region object lists dc3 as a node peer', async () => (await json(`${dev!.base}/v1/edge/wakes`)).body.regions.every((region: { nodePeers: string[] }) => region.nodePeers.includes('dc3')), limits.joinedMs, logs)
    expect(JSON.parse(readFileSync(join(root, 'dc3', 'joined.json'), 'utf8'))).toMatchObject({ joinedVia: nodes[0]!.url, edgeUrl: dev!.base })
    await readsValue(`${dc3.url}/v1/kv/cfg/after-restart?consistency=eventual`, 'again')
  })
})
