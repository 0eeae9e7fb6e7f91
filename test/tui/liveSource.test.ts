/**
 * Live nodes: the TUI's feed client against the real API (api/app.ts on
 * node/httpServer.ts, over replicas hosted in process) on 127.0.0.1 — the
 * snapshot, events, fresh snapshots, a node lost and found again with the
 * feed resumed after the last event seen, tokens, the dev fault switch —
 * and against a scripted node for what a real one rarely does on cue (a
 * restart under the viewer, a gap, a malformed message). Waits poll a
 * condition and give up after waitMsMax; nothing asserts on time.
 */
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createApi } from '../../api/app.ts'
import type { ApiTokens } from '../../api/auth.ts'
import { noFaults, type FaultChange, type FaultControl, type FaultState } from '../../host/faults.ts'
import { startHttpServer, type HttpServer } from '../../node/httpServer.ts'
import { ClusterModel } from '../../tui/data/clusterModel.ts'
import { LiveFaults } from '../../tui/data/live/liveFaults.ts'
import { LiveNodeSource, type FeedSocket } from '../../tui/data/live/liveNodeSource.ts'
import { reconnectDelayMs, reconnectLimits } from '../../tui/data/live/backoff.ts'
import { apiUrl, eventsUrl } from '../../tui/data/live/nodeHttp.ts'
import { replicaOf } from '../../tui/data/nodeSnapshot.ts'
import { overviewRows, clusterLeader } from '../../tui/data/views/overview.ts'
import { hostedCluster, hostedNodePolicies, type HostedNode } from '../support/hostedCluster.ts'
import { waitFor } from '../support/loopback.ts'

const running: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const stop of running.splice(0).reverse()) await stop()
})

class RecordingFaults implements FaultControl {
  current: FaultState = noFaults
  readonly changes: FaultChange[] = []
  state(): FaultState {
    return this.current
  }
  set(change: FaultChange): FaultState {
    this.changes.push(change)
    this.current = { ...this.current, ...change }
    return this.current
  }
}

async function serve(node: HostedNode, tokens: ApiTokens, faults: FaultControl | null, port = 0): Promise<HttpServer> {
  const server = await startHttpServer({ port, createApp: (ports) => createApi({ backend: { host: node.host, faults, frames: node.frames }, tokens, ...ports }) })
  running.push(() => server.close())
  return server
}

/** Three hosted nodes, each behind its own server, their clock driven from a timer (10 virtual ms every 10 ms). */
async function servedCluster(tokens: ApiTokens = { write: null, read: null }) {
  const cluster = hostedCluster(3, hostedNodePolicies)
  cluster.advance(3_000)
  const timer = setInterval(() => cluster.advance(10), 10)
  running.push(() => clearInterval(timer))
  const faults = cluster.nodes.map(() => new RecordingFaults())
  const servers: HttpServer[] = []
  for (const [index, node] of cluster.nodes.entries()) servers.push(await serve(node, tokens, faults[index]!))
  return { cluster, servers, faults }
}

/** Sources that record every URL they open (to see where the feed resumed from). */
function liveSource(url: string, token: string | null = null) {
  const opened: string[] = []
  const source = new LiveNodeSource({
    url,
    token,
    openSocket: (target, headers) => {
      opened.push(target)
      return new WebSocket(target, { headers }) as FeedSocket
    },
  })
  running.push(() => source.close())
  return { source, opened }
}

describe('tui live source against the real API', () => {
  it('shows every node live with the leader, its events and fresh snapshots', async () => {
    const { cluster, servers } = await servedCluster()
    const sources = servers.map((server) => liveSource(server.url).source)
    const model = new ClusterModel({ sources, publishIntervalMs: 0 })
    await waitFor('three live nodes with snapshots', () => model.getSnapshot().nodes.every((node) => node.up && node.snapshot !== null))
    expect(model.getSnapshot().nodes.map((node) => node.id)).toEqual(['n1', 'n2', 'n3'])
    const leader = cluster.nodes.find((node) => node.host.replica.raft?.role === 'leader')!
    expect(clusterLeader(overviewRows(model.getSnapshot().nodes)).leader).toBe(leader.id)
    const commitBefore = replicaOf(model.getSnapshot().nodes[0]!.snapshot)!.raft!.commit
    await leader.host.call({ type: 'crdt', op: { type: 'counter', key: 'cnt/live', amount: 5 } })
    await leader.host.call({ type: 'put', key: 'cfg/mode', value: 'on' })
    await waitFor('the write events', () => model.getSnapshot().events.some((event) => event.kind === 'keyChanged' && event.text.startsWith('cnt/live')))
    await waitFor('a fresh snapshot with the new commit', () => (replicaOf(model.getSnapshot().nodes[0]!.snapshot)?.raft?.commit ?? 0) > commitBefore)
    expect(await model.readKey('n2', 'cnt/live')).toEqual({ ok: true, value: 5 })
    expect(await model.readKey('n2', 'cnt/absent')).toEqual({ ok: true, value: undefined })
    model.close()
  })

  it('shows a lost node as disconnected with its next retry, and resumes its feed after the last event seen', async () => {
    const { cluster, servers } = await servedCluster()
    const { source, opened } = liveSource(servers[2]!.url)
    await waitFor('n3 live', () => source.getSnapshot().connection.kind === 'live')
    await cluster.nodes[0]!.host.call({ type: 'crdt', op: { type: 'counter', key: 'cnt/a', amount: 1 } })
    await waitFor('an event from n3', () => source.getSnapshot().events.some((event) => event.seq !== null))
    const port = servers[2]!.port
    await servers[2]!.close()
    await waitFor('n3 disconnected', () => source.getSnapshot().connection.kind === 'disconnected')
    const lost = source.getSnapshot()
    if (lost.connection.kind !== 'disconnected') throw new Error('not disconnected')
    expect(lost.connection.retryAtMs).toBeGreaterThan(Date.now() - 1_000)
    expect(lost.nodes[0]!.up).toBe(false)
    expect(lost.nodes[0]!.snapshot).not.toBeNull()
    const lastSeq = Math.max(...lost.events.flatMap((event) => (event.seq === null ? [] : [event.seq])))
    // Events happen while the viewer is away; the node comes back on the same port.
    await cluster.nodes[0]!.host.call({ type: 'crdt', op: { type: 'counter', key: 'cnt/b', amount: 2 } })
    await serve(cluster.nodes[2]!, { write: null, read: null }, null, port)
    await waitFor('n3 live again', () => source.getSnapshot().connection.kind === 'live')
    const epoch = cluster.nodes[2]!.host.snapshot().events.epoch
    expect(opened[0]).not.toContain('since=')
    expect(decodeURIComponent(opened[opened.length - 1]!)).toContain(`since=${epoch}:${lastSeq}`)
    await waitFor('the event missed while away', () => source.getSnapshot().events.some((event) => event.text.startsWith('cnt/b')))
    const seqs = source.getSnapshot().events.flatMap((event) => (event.seq === null ? [] : [event.seq]))
    expect(new Set(seqs).size).toBe(seqs.length)
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
  })

  it('sends the bearer token; without it the node refuses and the reason shows', async () => {
    const { servers } = await servedCluster({ write: 'w', read: 'r' })
    const refused = liveSource(servers[0]!.url).source
    await waitFor('refused', () => refused.getSnapshot().connection.kind === 'disconnected')
    const connection = refused.getSnapshot().connection
    expect(connection.kind === 'disconnected' && connection.reason).toMatch(/401/)
    const allowed = liveSource(servers[0]!.url, 'r').source
    await waitFor('live with the read token', () => allowed.getSnapshot().connection.kind === 'live')
  })

  it("fault hotkeys reach each node's dev fault switch", async () => {
    const { servers, faults } = await servedCluster({ write: 'w', read: null })
    const sources = servers.map((server) => liveSource(server.url, 'w').source)
    await waitFor('ids known', () => sources.every((source) => source.nodeId.startsWith('n')))
    const live = new LiveFaults(sources)
    expect(await live.inject({ kind: 'partition', node: 'n2' })).toBe('partitioned n2 from n1, n3')
    expect(await live.inject({ kind: 'kill', node: 'n3' })).toBe('paused n3: no peer frames in or out')
    expect(await live.inject({ kind: 'latency', node: 'n1', rttMs: 200 })).toBe('200 ms added to every frame n1 sends')
    expect(await live.inject({ kind: 'heal' })).toBe('healed 3 nodes')
    expect(faults.map((control) => control.changes)).toEqual([
      [{ latencyMs: 200 }, { partition: null, latencyMs: null, loss: null, pause: false }],
      [{ partition: ['n1', 'n3'] }, { partition: null, latencyMs: null, loss: null, pause: false }],
      [{ pause: true }, { partition: null, latencyMs: null, loss: null, pause: false }],
    ])
    await expect(live.inject({ kind: 'kill', node: 'n9' })).rejects.toThrow('no node n9')
  })
})

/** A node that says what the test scripts: each connection gets `script(url)`'s messages; GET /v1/snapshot answers the last snapshot sent. */
async function scriptedNode(script: (url: string, connection: number) => readonly unknown[]): Promise<{ url: string; server: Server }> {
  let lastSnapshot: unknown = null
  const server = createServer((request, response) => {
    if (request.url === '/v1/snapshot' && lastSnapshot !== null) response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(lastSnapshot))
    else response.writeHead(404).end()
  })
  const wss = new WebSocketServer({ server })
  let connections = 0
  wss.on('connection', (socket, request) => {
    for (const message of script(request.url ?? '', connections++)) {
      if (typeof message === 'object' && message !== null && (message as { kind?: string }).kind === 'snapshot') lastSnapshot = (message as { snapshot: unknown }).snapshot
      socket.send(typeof message === 'string' ? message : JSON.stringify(message))
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  running.push(
    () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate()
        server.close(() => resolve())
      }),
  )
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}

function snapshotOf(epoch: string, lastSeq: number) {
  const recorded = hostedCluster(5).nodes[0]!.host.snapshot()
  return { ...recorded, events: { epoch, lastSeq } }
}

const event = (seq: number) => ({ kind: 'event', seq, event: { source: 'raft', event: { kind: 'commit', index: seq, applied: seq, term: 1 } } })

describe('tui live source against a scripted node', () => {
  it('a restarted node (another epoch) is read afresh and noted; a malformed message resets the link', async () => {
    const urls: string[] = []
    const node = await scriptedNode((url, connection) => {
      urls.push(url)
      if (connection === 0) return [{ kind: 'snapshot', snapshot: snapshotOf('n1:1', 7) }, event(8), event(9), 'not json']
      return [{ kind: 'snapshot', snapshot: snapshotOf('n1:2', 2) }, { kind: 'gap', reason: 'epoch', fromSeq: 1, toSeq: 0 }, event(1), event(2)]
    })
    const { source } = liveSource(node.url)
    await waitFor('second life seen', () => source.getSnapshot().events.some((item) => item.kind === 'restart'))
    await waitFor('its events', () => source.getSnapshot().events.filter((item) => item.seq !== null).length === 4)
    expect(urls[0]).toBe('/v1/events')
    expect(decodeURIComponent(urls[1]!)).toBe('/v1/events?since=n1:1:9')
    const notes = source.getSnapshot().events.map((item) => `${item.kind}:${item.seq ?? ''}`)
    expect(notes).toEqual(['commit:8', 'commit:9', 'disconnected:', 'restart:', 'gap:', 'commit:1', 'commit:2'])
    expect(source.getSnapshot().events.find((item) => item.kind === 'disconnected')!.text).toContain('malformed message: not JSON')
  })

  it('backs off between attempts, with jitter, within its limits', () => {
    const delays = Array.from({ length: 12 }, (_, index) => reconnectDelayMs(index + 1, () => 0.5))
    expect(delays[0]).toBe(Math.round(reconnectLimits.delayMsMin * 0.75))
    expect(delays.every((delay, index) => index === 0 || delay >= delays[index - 1]!)).toBe(true)
    expect(Math.max(...delays)).toBe(reconnectLimits.delayMsMax * 0.75)
    expect(reconnectDelayMs(3, () => 0)).toBe(reconnectLimits.delayMsMin * 2)
    expect(reconnectDelayMs(3, () => 0.999)).toBeLessThanOrEqual(reconnectLimits.delayMsMin * 4)
  })
})

describe('tui live source addresses', () => {
  it("keeps the node URL's own query (an edge region) on every request", () => {
    expect(eventsUrl('https://edge.example/?region=eu', { epoch: 'region:eu:3', seq: 7 })).toBe('wss://edge.example/v1/events?region=eu&since=region%3Aeu%3A3%3A7')
    expect(eventsUrl('http://127.0.0.1:7701', null)).toBe('ws://127.0.0.1:7701/v1/events')
    expect(apiUrl('http://127.0.0.1:7701?region=us', '/v1/kv/cnt/a').toString()).toBe('http://127.0.0.1:7701/v1/kv/cnt/a?region=us')
  })
})
