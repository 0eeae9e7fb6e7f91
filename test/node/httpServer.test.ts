import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket, WebSocketServer } from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { createApi } from '../../api/app.ts'
import type { ApiTokens } from '../../api/auth.ts'
import { apiLimits, feedMessageSchema, type FeedMessage } from '../../api/contract.ts'
import { limits } from '../../core/lib/limits.ts'
import { startHttpServer, type HttpServer, type HttpServerTls } from '../../node/httpServer.ts'
import { hostedCluster, hostedNodePolicies, type HostedNode } from '../support/hostedCluster.ts'
import { parsePrometheusText } from '../support/promText.ts'

/**
 * Real sockets on 127.0.0.1: each hosted node behind its own server, the
 * cluster's clock driven from a timer (10 virtual ms every 10 ms). Waits poll
 * a condition (never a fixed sleep) and give up after `waitMsMax`.
 */
const waitMsMax = 20_000
const running: (() => Promise<void> | void)[] = []

afterEach(async () => {
  for (const stop of running.splice(0).reverse()) await stop()
})

interface ServedCluster {
  readonly nodes: readonly HostedNode[]
  readonly servers: readonly HttpServer[]
}

async function served(seed: number, tokens: (index: number) => ApiTokens = () => ({ write: null, read: null }), tls: HttpServerTls | null = null): Promise<ServedCluster> {
  const cluster = hostedCluster(seed, hostedNodePolicies)
  cluster.advance(3_000)
  const timer = setInterval(() => cluster.advance(10), 10)
  running.push(() => clearInterval(timer))
  const servers: HttpServer[] = []
  for (const [index, node] of cluster.nodes.entries()) {
    const server = await startHttpServer({
      tls,
      createApp: (ports) => createApi({ backend: { host: node.host, faults: null, frames: node.frames }, tokens: tokens(index), ...ports }),
    })
    running.push(() => server.close())
    servers.push(server)
  }
  return { nodes: cluster.nodes, servers }
}

async function until(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  const startMs = Date.now()
  while (!(await condition())) {
    if (Date.now() - startMs > waitMsMax) throw new Error(`waited ${waitMsMax} ms for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function wsUrl(server: HttpServer, path: string): string {
  return server.url.replace(/^http/, 'ws') + path
}

/** A viewer of /v1/events collecting every feed message. */
async function viewer(server: HttpServer, query = ''): Promise<{ socket: WebSocket; messages: FeedMessage[] }> {
  const socket = new WebSocket(wsUrl(server, `/v1/events${query}`))
  running.push(() => socket.close())
  const messages: FeedMessage[] = []
  socket.on('message', (data) => messages.push(feedMessageSchema.parse(JSON.parse(String(data))) as FeedMessage))
  await new Promise((resolve, reject) => {
    socket.once('open', resolve)
    socket.once('error', reject)
  })
  return { socket, messages }
}

function seqsOf(messages: readonly FeedMessage[]): number[] {
  return messages.flatMap((message) => (message.kind === 'event' ? [message.seq] : []))
}

async function put(server: HttpServer, key: string, value: string): Promise<number> {
  return (await fetch(`${server.url}/v1/kv/${key}`, { method: 'PUT', body: JSON.stringify({ value }), headers: { 'content-type': 'application/json' } })).status
}

describe('node HTTP server: events', () => {
  it('sends a snapshot, then numbered events; a viewer that reconnects with since resumes after its last event', async () => {
    const { servers } = await served(41)
    const server = servers[0]!
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const first = await viewer(server)
    await until('the snapshot', () => first.messages.length > 0)
    const snapshot = first.messages[0]!
    if (snapshot.kind !== 'snapshot') throw new Error(`first message is ${snapshot.kind}`)
    expect(snapshot.snapshot.node.id).toBe('n1')
    const epoch = snapshot.snapshot.events.epoch
    expect(await put(server, 'reg/a', '1')).toBe(200)
    await until('events', () => seqsOf(first.messages).length >= 1)
    const seqs = seqsOf(first.messages)
    expect(seqs[0]).toBe(snapshot.snapshot.events.lastSeq + 1)
    expect(seqs).toEqual(seqs.map((_, index) => seqs[0]! + index))
    first.socket.close()
    const lastSeen = seqs.at(-1)!
    // Events happen while the viewer is away; it comes back with the last number it saw.
    expect(await put(server, 'reg/b', '2')).toBe(200)
    const second = await viewer(server, `?since=${encodeURIComponent(`${epoch}:${lastSeen}`)}`)
    expect(await put(server, 'reg/c', '3')).toBe(200)
    await until('resumed events', () => seqsOf(second.messages).length >= 2)
    expect(second.messages[0]!.kind).toBe('snapshot')
    const resumed = seqsOf(second.messages)
    expect(resumed[0]).toBe(lastSeen + 1)
    expect(resumed).toEqual(resumed.map((_, index) => lastSeen + 1 + index))
    expect(second.messages.some((message) => message.kind === 'gap')).toBe(false)
  })

  it('tells a viewer from another incarnation that it missed events (a gap), and refuses a since ahead of the log', async () => {
    const { servers } = await served(42)
    const stale = await viewer(servers[1]!, `?since=${encodeURIComponent('n2:999:5')}`)
    await until('the gap', () => stale.messages.length >= 2)
    expect(stale.messages[1]).toMatchObject({ kind: 'gap', reason: 'epoch' })
    const ahead = await viewer(servers[1]!, '?since=' + encodeURIComponent('n2:1:99999'))
    const closed = await new Promise<number>((resolve) => ahead.socket.once('close', resolve))
    expect(closed).toBe(4400)
    expect(ahead.messages[0]).toMatchObject({ kind: 'error', error: { code: 'invalidSeq' } })
  })
})

describe('node HTTP server: Yjs documents', () => {
  it('a stock y-websocket client edits a document on one node; a client on another node sees the edit and its presence; a read-only client is refused', async () => {
    const { nodes, servers } = await served(43, (index) => (index === 2 ? { write: 'w-token', read: 'r-token' } : { write: null, read: null }))
    const docA = new Y.Doc()
    const docB = new Y.Doc()
    const docC = new Y.Doc()
    const options = { WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket, disableBc: true }
    const a = new WebsocketProvider(wsUrl(servers[0]!, '/v1/docs'), 'notes', docA, options)
    const b = new WebsocketProvider(wsUrl(servers[1]!, '/v1/docs'), 'notes', docB, options)
    // Node 3 wants tokens: the read token in the URL makes a read-only connection.
    const c = new WebsocketProvider(wsUrl(servers[2]!, '/v1/docs'), 'notes', docC, { ...options, params: { access_token: 'r-token' } })
    running.push(() => {
      for (const provider of [a, b, c]) provider.destroy()
      for (const doc of [docA, docB, docC]) doc.destroy()
    })
    await until('all three synced', () => a.synced && b.synced && c.synced)
    a.awareness.setLocalStateField('user', { name: 'ada' })
    docA.getText('text').insert(0, 'hello')
    await until('the edit on node 2', () => docB.getText('text').toString() === 'hello')
    await until('the presence on node 2', () => b.awareness.getStates().get(docA.clientID)?.user?.name === 'ada')
    await until('the edit on the read-only client of node 3', () => docC.getText('text').toString() === 'hello')
    // B edits back; A sees it.
    docB.getText('text').insert(5, ' world')
    await until('the edit back on node 1', () => docA.getText('text').toString() === 'hello world')
    // The read-only client's edit goes nowhere.
    docC.getText('text').insert(0, 'VANDAL ')
    await until('the refusal counted', async () => {
      const metrics = parsePrometheusText(await (await fetch(`${servers[2]!.url}/metrics`, { headers: { authorization: 'Bearer r-token' } })).text())
      return (metrics.families.get('dwcp_doc_updates_refused_total')?.samples[0]?.value ?? 0) >= 1
    })
    docA.getText('text').insert(11, '!')
    await until('a later edit on node 2', () => docB.getText('text').toString() === 'hello world!')
    expect(docA.getText('text').toString()).toBe('hello world!')
    // Every replica holds the document, without the read-only client's edit.
    await until('the document on every replica', () => nodes.every((node) => node.host.replica.crdt.read('doc/notes') === 'hello world!'))
    // A leaves: its presence goes from node 2 too.
    a.destroy()
    await until('the presence gone from node 2', () => !b.awareness.getStates().has(docA.clientID))
  })

  it('refuses a document upgrade without a token, and one outside the doc namespace', async () => {
    const { servers } = await served(44, () => ({ write: 'w', read: 'r' }))
    const refused = (url: string) =>
      new Promise<number>((resolve) => {
        const socket = new WebSocket(url)
        socket.on('unexpected-response', (_request, response) => {
          resolve(response.statusCode ?? 0)
          socket.terminate()
        })
        socket.on('open', () => resolve(101))
        socket.on('error', () => {})
      })
    expect(await refused(wsUrl(servers[0]!, '/v1/docs/notes'))).toBe(401)
    expect(await refused(wsUrl(servers[0]!, '/v1/docs/notes?access_token=wrong'))).toBe(401)
    expect(await refused(wsUrl(servers[0]!, '/v1/docs/bad%20name?access_token=w'))).toBe(400)
    expect(await refused(wsUrl(servers[0]!, '/v1/events?access_token=r'))).toBe(101)
  })
})

describe('node HTTP server: the port', () => {
  it('hands /v1/peer upgrades to the peer links, and refuses them without', async () => {
    const cluster = hostedCluster(45, hostedNodePolicies)
    const peers = new WebSocketServer({ noServer: true })
    running.push(() => peers.close())
    peers.on('connection', (socket) => socket.on('message', (data) => socket.send(`echo ${String(data)}`)))
    const withPeers = await startHttpServer({
      createApp: (ports) => createApi({ backend: { host: cluster.nodes[0]!.host, faults: null }, tokens: { write: null, read: null }, ...ports }),
      onPeerUpgrade: (request, socket, head) => peers.handleUpgrade(request, socket, head, (ws) => peers.emit('connection', ws, request)),
    })
    running.push(() => withPeers.close())
    const link = new WebSocket(wsUrl(withPeers, '/v1/peer'))
    running.push(() => link.terminate())
    const echoed = await new Promise<string>((resolve, reject) => {
      link.once('open', () => link.send('hello'))
      link.once('message', (data) => resolve(String(data)))
      link.once('error', reject)
    })
    expect(echoed).toBe('echo hello')
    const without = await startHttpServer({ createApp: (ports) => createApi({ backend: { host: cluster.nodes[1]!.host, faults: null }, tokens: { write: null, read: null }, ...ports }) })
    running.push(() => without.close())
    const refused = await new Promise<number>((resolve) => {
      const socket = new WebSocket(wsUrl(without, '/v1/peer'))
      socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0))
      socket.on('error', () => resolve(-1))
    })
    expect(refused).toBe(404)
    // close() ends open WebSockets too.
    const closedCode = new Promise<number>((resolve) => link.once('close', resolve))
    await withPeers.close()
    expect(await closedCode).toBeGreaterThan(0)
  })

  it('a request refused before its body was read (413 over the body limit) closes its connection, so the next request on a keep-alive client is answered', async () => {
    const { servers } = await served(47)
    const url = `${servers[0]!.url}/v1/kv/cfg/x?consistency=strong`
    const headers = { 'content-type': 'application/json' }
    const outcomes: string[] = []
    // fetch keeps connections alive: after an early 413 the client may still be sending that body, so the connection must not carry the next request.
    for (let round = 0; round < 3; round++) {
      for (const [what, body] of [
        ['over the body limit', JSON.stringify({ value: 'x'.repeat(apiLimits.requestBytesMax) })],
        ['a value over valueBytesMax', JSON.stringify({ value: 'x'.repeat(limits.valueBytesMax + 1) })],
      ] as const) {
        const response = await fetch(url, { method: 'PUT', headers, body })
        outcomes.push(`${what}: ${response.status} ${response.headers.get('connection')}`)
        await response.text()
      }
      for (let index = 0; index < 2; index++) {
        const status = await fetch(`${servers[0]!.url}/v1/status`).then(
          (response) => response.text().then(() => String(response.status)),
          (error: Error & { cause?: Error }) => `${error.message}: ${error.cause?.message}`,
        )
        outcomes.push(`status: ${status}`)
      }
    }
    expect(outcomes).toEqual(Array.from({ length: 3 }, () => ['over the body limit: 413 close', 'a value over valueBytesMax: 413 keep-alive', 'status: 200', 'status: 200']).flat())
  })

  it('serves HTTPS with a certificate and key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dwcp-tls-'))
    running.push(() => rmSync(dir, { recursive: true, force: true }))
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      { stdio: 'ignore' },
    )
    const cert = readFileSync(join(dir, 'cert.pem'))
    const { servers } = await served(46, () => ({ write: null, read: null }), { cert, key: readFileSync(join(dir, 'key.pem')) })
    expect(servers[0]!.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
    const { request } = await import('node:https')
    const status = await new Promise<{ code: number; body: string }>((resolve, reject) => {
      request(`${servers[0]!.url}/v1/status`, { ca: cert }, (response) => {
        let body = ''
        response.on('data', (chunk) => (body += chunk))
        response.on('end', () => resolve({ code: response.statusCode ?? 0, body }))
      })
        .on('error', reject)
        .end()
    })
    expect(status.code).toBe(200)
    expect(JSON.parse(status.body)).toMatchObject({ node: 'n1' })
    const secure = new WebSocket(wsUrl(servers[0]!, '/v1/events'), { ca: cert })
    running.push(() => secure.terminate())
    const first = await new Promise<string>((resolve, reject) => {
      secure.once('message', (data) => resolve(String(data)))
      secure.once('error', reject)
    })
    expect(JSON.parse(first)).toMatchObject({ kind: 'snapshot' })
  })
})
