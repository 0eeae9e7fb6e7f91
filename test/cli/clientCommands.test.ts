/**
 * The client commands against a scripted HTTP server (real sockets, the real
 * dwcp process): what they send, how they print, which exit code each kind of
 * answer gives, failover over the nodes of up.json, redirects that keep the token.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const bin = join(import.meta.dirname, '../../bin/dwcp.js')
const commandMs = 30_000

interface Seen {
  method: string
  url: string
  authorization: string | null
  region: string | null
  body: string
}

type Handler = (request: Seen, response: ServerResponse) => void

function listen(handler: () => Handler, seen: Seen[]): Promise<Server> {
  const server = createServer((request: IncomingMessage, response) => {
    let body = ''
    request.on('data', (chunk) => (body += chunk))
    request.on('end', () => {
      const entry = { method: request.method!, url: request.url!, authorization: request.headers.authorization ?? null, region: (request.headers['x-dwcp-region'] as string | undefined) ?? null, body }
      seen.push(entry)
      handler()(entry, response)
    })
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`

function json(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  response.writeHead(status, { 'content-type': 'application/json', ...headers })
  response.end(JSON.stringify(body))
}

function dwcp(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--disable-warning=ExperimentalWarning', bin, ...args], { timeout: commandMs, encoding: 'utf8', env: { ...process.env, DWCP_TOKEN: '', ...env } }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr }),
    )
  })
}

const seen: Seen[] = []
let answer: Handler = (_, response) => json(response, 500, {})
let server: Server
let other: Server
const otherSeen: Seen[] = []

beforeAll(async () => {
  server = await listen(() => answer, seen)
  other = await listen(() => (_, response) => json(response, 200, { key: 'cfg/a', path: 'raft', position: { kind: 'raft', index: 9, version: 1 } }), otherSeen)
})

afterAll(() => {
  server.close()
  other.close()
})

const position = { kind: 'raft', index: 12, version: 3 }

describe('dwcp client commands', () => {
  it('kv put sends the value, the consistency and the token; prints the position, or the JSON with --json', async () => {
    seen.length = 0
    answer = (_, response) => json(response, 200, { key: 'cfg/a b', path: 'raft', position })
    const run = await dwcp(['kv', 'put', 'cfg/a b', 'v 1', '--consistency', 'strong', '--url', urlOf(server)], { DWCP_TOKEN: 'tok' })
    expect(run).toMatchObject({ code: 0, stdout: 'put cfg/a b: raft index 12\n' })
    expect(seen).toEqual([{ method: 'PUT', url: '/v1/kv/cfg/a%20b?consistency=strong', authorization: 'Bearer tok', region: null, body: '{"value":"v 1"}' }])
    const asJson = await dwcp(['kv', 'put', 'cfg/a', 'v', '--url', urlOf(server), '--json', '--token', 'flag'])
    expect(JSON.parse(asJson.stdout)).toEqual({ key: 'cfg/a b', path: 'raft', position })
    expect(seen[1]!.authorization).toBe('Bearer flag')
  })

  it('kv get prints the value alone', async () => {
    answer = (_, response) => json(response, 200, { key: 'cfg/a', value: 'hello', path: 'raft', position })
    expect(await dwcp(['kv', 'get', 'cfg/a', '--url', urlOf(server)])).toMatchObject({ code: 0, stdout: 'hello\n' })
  })

  it('an edge Worker region: --region sends x-dwcp-region; ?region= in --url stays on the path; a bad region id is a usage error', async () => {
    answer = (_, response) => json(response, 200, { key: 'edge/a', value: 'v', path: 'local', position: { kind: 'crdt', timestamp: null, replica: null } })
    seen.length = 0
    expect(await dwcp(['kv', 'get', 'edge/a', '--url', urlOf(server), '--region', 'apac'])).toMatchObject({ code: 0, stdout: 'v\n' })
    expect(seen.at(-1)).toMatchObject({ url: '/v1/kv/edge/a', region: 'apac' })
    expect(await dwcp(['kv', 'get', 'edge/a', '--url', `${urlOf(server)}/?region=weur`, '--consistency', 'eventual'])).toMatchObject({ code: 0, stdout: 'v\n' })
    expect(seen.at(-1)).toMatchObject({ url: '/v1/kv/edge/a?consistency=eventual&region=weur', region: null })
    expect(await dwcp(['kv', 'get', 'edge/a', '--url', urlOf(server), '--region', 'a b'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--region: expected a region id') })
  })

  it('retries a noLeader answer (never proposed) after its Retry-After until a leader takes it; other 503s are not retried', async () => {
    let noLeaderAnswers = 2
    answer = (_, response) => {
      if (noLeaderAnswers-- > 0) return json(response, 503, { error: { code: 'noLeader', message: 'no Raft leader is known; retry shortly' } }, { 'retry-after': '0.1', 'x-dwcp-region': 'weur' })
      json(response, 200, { key: 'cfg/a', path: 'raft', position })
    }
    seen.length = 0
    expect(await dwcp(['kv', 'put', 'cfg/a', 'v', '--url', urlOf(server)])).toMatchObject({ code: 0, stdout: 'put cfg/a: raft index 12\n' })
    expect(seen.map((request) => request.method)).toEqual(['PUT', 'PUT', 'PUT'])
    answer = (_, response) => json(response, 503, { error: { code: 'overloaded', message: 'too many requests in flight' } }, { 'retry-after': '0.1', 'x-dwcp-region': 'weur' })
    seen.length = 0
    const overloaded = await dwcp(['kv', 'put', 'cfg/a', 'v', '--url', urlOf(server)])
    expect(overloaded).toMatchObject({ code: 7, stderr: expect.stringContaining('overloaded: too many requests in flight [HTTP 503 from http://127.0.0.1:') })
    expect(overloaded.stderr).toContain(', region weur]')
    expect(seen).toHaveLength(1)
  })

  it('exits 1 on not found, 6 on a refusal, 7 on unavailable, printing the API error code and message', async () => {
    const cases = [
      [404, 'notFound', 1],
      [409, 'consistencyMismatch', 6],
      [401, 'unauthorized', 6],
      [413, 'oversized', 6],
      [503, 'noLeader', 7],
      [504, 'timeout', 7],
    ] as const
    for (const [status, code, exit] of cases) {
      answer = (_, response) => json(response, status, { error: { code, message: `the ${code} message` } })
      const run = await dwcp(['kv', 'get', 'cfg/a', '--url', urlOf(server)])
      expect(run.code, `${status}`).toBe(exit)
      expect(run.stderr).toContain(`dwcp: ${code}: the ${code} message`)
    }
    const asJson = await dwcp(['kv', 'get', 'cfg/a', '--url', urlOf(server), '--json'])
    expect(asJson.code).toBe(7)
    expect(JSON.parse(asJson.stdout)).toEqual({ error: { code: 'timeout', message: 'the timeout message', leader: null } })
  })

  it('refuses an answer that does not fit the API contract (exit 7)', async () => {
    answer = (_, response) => json(response, 200, { key: 'cfg/a', value: 'v', path: 'somewhere', position })
    const run = await dwcp(['kv', 'get', 'cfg/a', '--url', urlOf(server)])
    expect(run.code).toBe(7)
    expect(run.stderr).toMatch(/an answer that does not fit the API contract \(path: /)
  })

  it('finds the nodes in up.json under --data and goes on past a node that refuses the connection; none reachable exits 7', async () => {
    const data = mkdtempSync(join(tmpdir(), 'dwcp-client-'))
    const closed = await listen(() => answer, [])
    const closedUrl = urlOf(closed)
    await new Promise((resolve) => closed.close(resolve))
    writeFileSync(
      join(data, 'up.json'),
      JSON.stringify({
        pid: 1,
        startedAt: '',
        nodes: [
          { id: 'n1', region: 'eu', url: closedUrl, pid: null },
          { id: 'n2', region: 'us', url: urlOf(server), pid: null },
        ],
      }),
    )
    seen.length = 0
    answer = (_, response) => json(response, 200, { key: 'cnt/c', path: 'crdt', position: { kind: 'crdt', timestamp: null, replica: null }, value: 3 })
    const run = await dwcp(['crdt', 'inc', 'cnt/c', '3', '--data', data])
    expect(run).toMatchObject({ code: 0, stdout: 'cnt/c = 3  (crdt)\n' })
    expect(seen.map((entry) => [entry.method, entry.url, entry.body])).toEqual([['POST', '/v1/crdt/cnt/c', '{"op":"inc","by":3}']])
    writeFileSync(join(data, 'up.json'), JSON.stringify({ pid: 1, startedAt: '', nodes: [{ id: 'n1', region: 'eu', url: closedUrl, pid: null }] }))
    const none = await dwcp(['status', '--data', data])
    expect(none.code).toBe(7)
    expect(none.stderr).toMatch(/no node reachable: .*ECONNREFUSED/)
    const nothing = await dwcp(['status', '--data', join(data, 'empty')])
    expect(nothing.code).toBe(2)
    expect(nothing.stderr).toMatch(/no cluster found under .*: start one with 'dwcp up'/)
  })

  it('follows a redirect to the leader with the token still on', async () => {
    otherSeen.length = 0
    answer = (_, response) => json(response, 307, { error: { code: 'notLeader', message: 'ask the leader' } }, { location: `${urlOf(other)}/v1/kv/cfg/a` })
    const run = await dwcp(['kv', 'put', 'cfg/a', 'v', '--url', urlOf(server), '--token', 'sekret'])
    expect(run).toMatchObject({ code: 0, stdout: 'put cfg/a: raft index 9\n' })
    expect(otherSeen).toEqual([{ method: 'PUT', url: '/v1/kv/cfg/a', authorization: 'Bearer sekret', region: null, body: '{"value":"v"}' }])
  })

  it('prints members, status and policies as tables', async () => {
    answer = (request, response) => {
      if (request.url === '/v1/members') {
        json(response, 200, {
          members: [
            { id: 'n1', region: 'eu', state: 'alive', incarnation: 0, link: null },
            {
              id: 'n2',
              region: 'us',
              state: 'suspect',
              incarnation: 2,
              meta: { region: 'us', address: 'http://127.0.0.1:7702', tags: { dc: 'fra1', rack: '4' } },
              link: { mode: 'internet', rttMsP50: 81.2, rttMsP99: 90, lossRate: 0.01, bandwidthBitsPerSecond: null, samples: 10 },
            },
            { id: 'n3', region: 'ap', state: 'left', incarnation: 1, link: null },
          ],
          configuration: {
            version: 4,
            members: [
              { id: 'n1', region: 'eu', url: 'http://127.0.0.1:7701', publicKey: '', tags: {} },
              { id: 'n2', region: 'us', url: 'http://127.0.0.1:7702', publicKey: '', tags: {} },
              { id: 'n9', region: 'us', url: 'http://127.0.0.1:7709', publicKey: '', tags: { owner: 'team-storage-and-replication-east' } },
            ],
            raftVoters: ['n1', 'n2'],
            raftLearners: ['n9'],
            pbftReplicas: [],
            voterTargets: { eu: 1, us: 1 },
          },
        })
      } else if (request.url === '/v1/status') {
        json(response, 200, {
          clusterId: 'local-0a1b2c3d',
          node: 'n1',
          region: 'eu',
          boot: 2,
          mode: 'datacenter',
          role: 'leader',
          term: 4,
          leader: 'n1',
          commit: 17,
          peers: 2,
          members: 3,
          events: { epoch: 'n1:2', lastSeq: 40 },
          configuration: { version: 4, voters: ['n1', 'n2'], learners: ['n9'], pbft: [] },
        })
      } else {
        json(response, 200, { policies: [{ namespace: 'cfg', policy: { consistency: 'strong', valueType: 'register', home: null } }] })
      }
    }
    const members = await dwcp(['members', '--url', urlOf(server)])
    expect(members.stdout.split('\n').slice(0, 6)).toEqual([
      'configuration version 4: voters n1,n2; learners n9; pbft -',
      'ID  REGION  URL                    RAFT     PBFT  STATE    INC  MODE         RTT P50  RTT P99  LOSS  TAGS',
      'n1  eu      http://127.0.0.1:7701  voter    -     alive    0    (this node)  -        -        -     -',
      'n2  us      http://127.0.0.1:7702  voter    -     suspect  2    internet     81 ms    90 ms    1.0%  dc=fra1,rack=4',
      'n3  ap      -                      removed  -     left     1    -            -        -        -     -',
      'n9  us      http://127.0.0.1:7709  learner  -     -        -    -            -        -        -     owner=team-storage-and-replicat…',
    ])
    const status = await dwcp(['status', '--url', urlOf(server)])
    expect(status.stdout).toContain('node:   n1 (eu) in cluster local-0a1b2c3d, boot 2')
    expect(status.stdout).toContain('leader: n1')
    expect(status.stdout).toContain('peers:  2 connected of 3 members')
    expect(status.stdout).toContain('config: version 4: voters n1,n2; learners n9; pbft -')
    const policies = await dwcp(['policy', 'get', '--url', urlOf(server)])
    expect(policies.stdout).toBe('NAMESPACE  CONSISTENCY  TYPE      HOME\ncfg        strong       register  -\n')
  })

  it('policy set sends only what is given; usage errors exit 2', async () => {
    seen.length = 0
    answer = (_, response) => json(response, 200, { namespace: 'ev', policy: { consistency: 'eventual', valueType: 'register', home: null } })
    expect((await dwcp(['policy', 'set', 'ev', '--consistency', 'eventual', '--home', 'none', '--url', urlOf(server)])).code).toBe(0)
    expect(seen.map((entry) => [entry.method, entry.url, JSON.parse(entry.body)])).toEqual([['PUT', '/v1/policies/ev', { consistency: 'eventual', home: null }]])
    expect((await dwcp(['policy', 'set', 'ev', '--url', urlOf(server)])).code).toBe(2)
    expect((await dwcp(['kv', 'put', 'cfg/a', '--url', urlOf(server)])).code).toBe(2)
    expect((await dwcp(['kv', 'get', 'cfg/a', '--consistency', 'sometimes', '--url', urlOf(server)])).code).toBe(2)
    expect((await dwcp(['crdt', 'inc', 'cnt/a', '-2', '--url', urlOf(server)])).code).toBe(2)
  })
})
