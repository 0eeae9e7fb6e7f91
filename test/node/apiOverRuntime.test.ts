import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hono } from 'hono'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { createApi } from '../../api/app.ts'
import { faultStateSchema, kvGetReplySchema, kvPutReplySchema, statusReplySchema } from '../../api/contract.ts'
import { readClusterFile } from '../../node/clusterConfig.ts'
import { openDataDir } from '../../node/dataDir.ts'
import { startHttpServer, type HttpServer } from '../../node/httpServer.ts'
import { NodeRuntime } from '../../node/nodeRuntime.ts'
import { waitFor } from '../support/loopback.ts'
import { parsePrometheusText } from '../support/promText.ts'

/**
 * The API of real nodes (NodeRuntime: SQLite data dirs, peer links) on one
 * port each, as `dwcp node` composes them: peer links arrive through the
 * HTTP server's /v1/peer upgrades. Four nodes, so there is a PBFT group.
 */
let root: string
const stops: (() => Promise<void>)[] = []

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'dwcp-api-runtime-'))
})

afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop()
  rmSync(root, { recursive: true, force: true })
})

interface ServedNode {
  readonly id: string
  readonly server: HttpServer
  runtime: NodeRuntime | null
}

/** Servers first (their URLs go into the cluster file), then one runtime per node behind its server. */
async function start(ids: readonly string[], tokens = { write: 'w-token', read: null as string | null }): Promise<ServedNode[]> {
  const nodes: ServedNode[] = []
  for (const id of ids) {
    const node = { runtime: null as NodeRuntime | null }
    let api: Hono | null = null
    const server = await startHttpServer({
      createApp: (ports) => {
        // The runtime opens once every URL is known: until then, the app answers 503.
        const app = new Hono()
        app.all('*', (c) => {
          if (node.runtime === null) return c.json({ error: { code: 'overloaded', message: 'starting' } }, 503)
          api ??= createApi({ backend: node.runtime, tokens, ...ports })
          return api.fetch(c.req.raw, c.env)
        })
        return app
      },
      onPeerUpgrade: (request, socket, head) => (node.runtime === null ? socket.destroy() : node.runtime.acceptPeer(request, socket, head)),
    })
    stops.push(() => server.close())
    nodes.push(Object.assign(node, { id, server }))
  }
  const regions = ['eu', 'us', 'ap']
  const members = nodes.map((node, index) => {
    const dataDir = openDataDir(join(root, node.id))
    dataDir.storage.close()
    return { id: node.id, region: regions[index % regions.length]!, url: node.server.url, publicKey: Buffer.from(dataDir.signer.publicKey).toString('base64url') }
  })
  const cluster = readClusterFile({ clusterId: 'api-test', members })
  for (const node of nodes) {
    node.runtime = NodeRuntime.open({ id: node.id, cluster, dataDir: join(root, node.id), secret: null, dev: true })
    stops.push(async () => {
      await node.runtime?.close()
      node.runtime = null
    })
  }
  return nodes
}

async function call(node: ServedNode, method: string, path: string, body?: unknown, token: string | null = 'w-token'): Promise<{ status: number; json: any; text: string }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (token !== null) headers.authorization = `Bearer ${token}`
  const response = await fetch(`${node.server.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await response.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: response.status, json, text }
}

describe('the API on real nodes', () => {
  it('serves every consistency level, tokens, metrics, events and the dev fault switch over one port per node', async () => {
    const nodes = await start(['n1', 'n2', 'n3', 'n4'])
    let leader: string | null = null
    await waitFor('a leader every node knows, over HTTP', () => {
      const seen = new Set(nodes.map((node) => node.runtime!.host.replica.leader))
      leader = seen.size === 1 ? [...seen][0]! : null
      return leader !== null
    })
    const status = statusReplySchema.parse((await call(nodes[0]!, 'GET', '/v1/status')).json)
    expect(status).toMatchObject({ node: 'n1', leader, members: 4 })
    const follower = nodes.find((node) => node.id !== leader)!
    // Writes need the write token; reads are open (no read token).
    expect((await call(follower, 'PUT', '/v1/kv/cfg/a', { value: 'one' }, null)).status).toBe(401)
    const strong = await call(follower, 'PUT', '/v1/kv/cfg/a?consistency=strong', { value: 'one' })
    expect(strong.status, strong.text).toBe(200)
    expect(kvPutReplySchema.parse(strong.json)).toMatchObject({ path: 'raft' })
    expect(kvGetReplySchema.parse((await call(nodes[3]!, 'GET', '/v1/kv/cfg/a', undefined, null)).json)).toMatchObject({ value: 'one', path: 'raft' })
    const byzantine = await call(nodes[2]!, 'PUT', '/v1/kv/bft/b', { value: 'two' })
    expect(byzantine.status, byzantine.text).toBe(200)
    expect(byzantine.json).toMatchObject({ path: 'pbft' })
    expect((await call(nodes[1]!, 'GET', '/v1/kv/bft/b?consistency=byzantine')).json).toMatchObject({ value: 'two', path: 'pbft' })
    const auto = await call(nodes[1]!, 'PUT', '/v1/kv/edge/c', { value: 'three' })
    expect(auto.status, auto.text).toBe(200)
    expect(auto.json.auto).toBeDefined()
    expect((await call(nodes[0]!, 'POST', '/v1/crdt/cnt/d', { op: 'inc', by: 2 })).json).toMatchObject({ value: 2 })
    await waitFor('the counter on every node', () => nodes.every((node) => node.runtime!.host.replica.crdt.read('cnt/d') === 2))
    // Metrics of a real node: peer frames counted, the exposition well-formed.
    const metrics = parsePrometheusText((await call(nodes[0]!, 'GET', '/metrics')).text)
    expect(metrics.problems).toEqual([])
    expect(metrics.families.get('dwcp_peer_frames_in_total')!.samples[0]!.value).toBeGreaterThan(0)
    // A viewer of the events of a real node.
    const viewer = new WebSocket(`${nodes[0]!.server.url.replace('http', 'ws')}/v1/events`)
    stops.push(async () => viewer.terminate())
    const first = await new Promise<string>((resolve, reject) => {
      viewer.once('message', (data) => resolve(String(data)))
      viewer.once('error', reject)
    })
    expect(JSON.parse(first)).toMatchObject({ kind: 'snapshot', snapshot: { node: { id: 'n1' } } })
    // The dev fault switch (loopback, write token): n1 cut from everyone, then healed.
    const others = nodes.slice(1).map((node) => node.id)
    const cut = await call(nodes[0]!, 'POST', '/v1/admin/faults', { partition: others })
    expect(cut.status, cut.text).toBe(200)
    expect(faultStateSchema.parse(cut.json).partition).toEqual(others)
    const healed = await call(nodes[0]!, 'POST', '/v1/admin/faults', { partition: null })
    expect(healed.json).toEqual({ partition: null, latencyMs: null, loss: null, pause: false })
  })
})
