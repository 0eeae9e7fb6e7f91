import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { faultStateSchema, kvGetReplySchema, kvPutReplySchema, statusReplySchema } from '../../api/contract.ts'
import { peerEndpointOf } from '../../node/peerLinks.ts'
import { refusalCloseCodes } from '../../node/peer/refusals.ts'
import { writeBatch } from '../../node/peer/wire.ts'
import { jsonOrUndefined } from '../support/apiCall.ts'
import { fakePeer, waitFor } from '../support/loopback.ts'
import { parsePrometheusText } from '../support/promText.ts'
import { startServedCluster, type ServedNode } from '../support/servedCluster.ts'

/**
 * The API of real nodes (NodeRuntime: SQLite data dirs, peer links) on one
 * port each, as `dwcp node` composes them: peer links arrive through the
 * HTTP server's /v1/peer upgrades. Four nodes, so there is a PBFT group.
 */
let root: string
const stops: (() => Promise<void> | void)[] = []

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'dwcp-api-runtime-'))
})

afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop()
  rmSync(root, { recursive: true, force: true })
})

/** Servers first (their URLs go into the cluster file), then one runtime per node behind its server. */
function start(ids: readonly string[], tokens = { write: 'w-token', read: null as string | null }): Promise<ServedNode[]> {
  return startServedCluster({ root, ids, clusterId: 'api-test', tokens, stops })
}

async function call(node: ServedNode, method: string, path: string, body?: unknown, token: string | null = 'w-token'): Promise<{ status: number; json: any; text: string }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (token !== null) headers.authorization = `Bearer ${token}`
  const response = await fetch(`${node.server.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await response.text()
  return { status: response.status, json: jsonOrUndefined(text), text }
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

  it('counts refused peer sockets (garbage, frames before the hello) in /metrics, by reason', async () => {
    const nodes = await start(['n1', 'n2'])
    const endpoint = peerEndpointOf(nodes[0]!.server.url)
    expect((await fakePeer(endpoint, null, Uint8Array.of(0x99, 1, 2, 3))).code).toBe(refusalCloseCodes.malformed)
    expect((await fakePeer(endpoint, null, writeBatch([Uint8Array.of(1, 2, 3)]))).code).toBe(refusalCloseCodes.unauthenticated)
    const metrics = parsePrometheusText((await call(nodes[0]!, 'GET', '/metrics')).text)
    expect(metrics.problems).toEqual([])
    const refused = new Map(metrics.families.get('dwcp_peer_sockets_refused_total')?.samples.map((sample) => [sample.labels.reason, sample.value]))
    expect([refused.get('malformed'), refused.get('unauthenticated'), refused.get('badSignature')]).toEqual([1, 1, 0])
  })
})
