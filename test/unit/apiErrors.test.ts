import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { accessOf, bearerOf, sameToken } from '../../api/auth.ts'
import { apiLimits, errorBodySchema, faultStateSchema } from '../../api/contract.ts'
import { apiCodes, apiError, isMappedCode, peerOnlyCodes, replicaCodes, statusOf } from '../../api/errors.ts'
import { isLoopback } from '../../api/adminRoutes.ts'
import { limits } from '../../core/lib/limits.ts'
import { FaultSwitch } from '../../node/peer/faultSwitch.ts'
import { createApi } from '../../api/app.ts'
import { apiOf, ask, noUpgrade, type Answer } from '../support/apiHarness.ts'
import { hostedCluster, hostedNodePolicies } from '../support/hostedCluster.ts'

function elected(seed: number) {
  const cluster = hostedCluster(seed, hostedNodePolicies)
  cluster.advance(3_000)
  return { ...cluster, api: apiOf(cluster.nodes[0]!) }
}

function expectError(answer: Answer, status: number, code: string): void {
  expect(answer.status, answer.text).toBe(status)
  expect(errorBodySchema.parse(answer.json).error.code).toBe(code)
}

/** Every code the core's sources can refuse or fail with (`code: 'x'`, `refuse('x'`, `fail('x'`, `fail(pending, 'x'`). */
function coreCodes(): Set<string> {
  const codes = new Set<string>()
  const visit = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) visit(path)
      else if (name.endsWith('.ts')) {
        const text = readFileSync(path, 'utf8')
        for (const match of text.matchAll(/code: '([A-Za-z]+)'|\b(?:refuse|fail)\((?:pending, )?'([A-Za-z]+)'/g)) codes.add(match[1] ?? match[2]!)
      }
    }
  }
  visit(join(import.meta.dirname, '../../core'))
  visit(join(import.meta.dirname, '../../host'))
  return codes
}

describe('API errors: the code table', () => {
  it('maps every code of the core to a status, or lists it as one no client call meets', () => {
    const codes = coreCodes()
    expect(codes.size).toBeGreaterThan(50)
    const unmapped = [...codes].filter((code) => !isMappedCode(code) && !peerOnlyCodes.includes(code))
    expect(unmapped, 'codes of core/ or host/ without a row in api/errors.ts').toEqual([])
    const both = peerOnlyCodes.filter((code) => isMappedCode(code))
    expect(both, 'codes both mapped and listed as peer-only').toEqual([])
    const stale = peerOnlyCodes.filter((code) => !codes.has(code))
    expect(stale, 'peer-only codes the core no longer has').toEqual([])
  })

  it('gives the statuses of the contract', () => {
    expect(statusOf('consistencyMismatch')).toBe(409)
    expect(statusOf('typeMismatch')).toBe(409)
    expect(statusOf('tooLarge')).toBe(413)
    expect(statusOf('oversized')).toBe(413)
    expect(statusOf('noLeader')).toBe(503)
    // A stopping node (node/main.ts) answers from the table too: 503 with Retry-After.
    expect(statusOf('shuttingDown')).toBe(503)
    expect(apiError('shuttingDown', 'n1 is shutting down')).toEqual({ status: 503, body: { error: { code: 'shuttingDown', message: 'n1 is shutting down' } }, headers: { 'retry-after': '1' } })
    expect(statusOf('timeout')).toBe(504)
    expect(statusOf('invalidKey')).toBe(400)
    expect(statusOf('notFound')).toBe(404)
    expect(statusOf('no such code')).toBe(500)
    expect(Object.keys(apiCodes).filter((code) => code in replicaCodes)).toEqual([])
  })
})

describe('API errors: malformed requests', () => {
  it('refuses bad JSON, bad bodies, bad keys and unknown consistency levels with 400', async () => {
    const { api, advance } = elected(21)
    expectError(await ask(api, advance, 'PUT', '/v1/kv/cfg/a', { raw: '{"value": ' }), 400, 'malformedJson')
    expectError(await ask(api, advance, 'PUT', '/v1/kv/cfg/a', { raw: '' }), 400, 'malformedJson')
    expectError(await ask(api, advance, 'PUT', '/v1/kv/cfg/a', { body: { val: 'x' } }), 400, 'invalidBody')
    expectError(await ask(api, advance, 'PUT', '/v1/kv/cfg/a', { body: { value: 7 } }), 400, 'invalidBody')
    expectError(await ask(api, advance, 'POST', '/v1/crdt/cnt/a', { body: { op: 'explode' } }), 400, 'invalidBody')
    expectError(await ask(api, advance, 'POST', '/v1/crdt/cnt/a', { body: { op: 'inc', by: 0 } }), 400, 'invalidBody')
    expectError(await ask(api, advance, 'PUT', '/v1/kv/bad%20ns/a', { body: { value: 'x' } }), 400, 'invalidKey')
    expectError(await ask(api, advance, 'GET', `/v1/kv/cfg/${'k'.repeat(200)}`), 400, 'invalidKey')
    expectError(await ask(api, advance, 'PUT', '/v1/kv/cfg/a?consistency=linearizable', { body: { value: 'x' } }), 400, 'invalidConsistency')
    expectError(await ask(api, advance, 'GET', '/v1/kv/cfg/a?consistency=STRONG'), 400, 'invalidConsistency')
    expectError(await ask(api, advance, 'PUT', '/v1/policies/bad!ns', { body: { consistency: 'strong' } }), 400, 'invalidNamespace')
    expectError(await ask(api, advance, 'PUT', '/v1/policies/ctr', { body: { consistency: 'strong', valueType: 'counter' } }), 400, 'invalidPolicy')
    expectError(await ask(api, advance, 'POST', '/v1/crdt/doc/d', { body: { op: 'delete', index: 5, count: 1 } }), 400, 'outOfRange')
    expectError(await ask(api, advance, 'GET', '/v1/events?since=nonsense', { headers: { upgrade: 'websocket' } }), 400, 'invalidQuery')
  })

  it('refuses values and bodies over their limits with 413', async () => {
    const { api, advance } = elected(22)
    // A value over valueBytesMax in a body under requestBytesMax: the replica's limit.
    const value = 'v'.repeat(limits.valueBytesMax + 1)
    expect(JSON.stringify({ value }).length).toBeLessThan(apiLimits.requestBytesMax)
    expectError(await ask(api, advance, 'PUT', '/v1/kv/reg/big', { body: { value } }), 413, 'tooLarge')
    expectError(await ask(api, advance, 'PUT', '/v1/kv/cfg/big', { body: { value } }), 413, 'tooLarge')
    // A body over requestBytesMax: the API's limit, whether Content-Length says so or the stream shows it.
    const huge = JSON.stringify({ value: 'v'.repeat(apiLimits.requestBytesMax) })
    expectError(await ask(api, advance, 'PUT', '/v1/kv/reg/big', { raw: huge, headers: { 'content-length': String(huge.length) } }), 413, 'bodyTooLarge')
    expectError(await ask(api, advance, 'PUT', '/v1/kv/reg/big', { raw: huge }), 413, 'bodyTooLarge')
    // A value at the limit is taken.
    expect((await ask(api, advance, 'PUT', '/v1/kv/reg/big', { body: { value: 'v'.repeat(limits.valueBytesMax) } })).status).toBe(200)
  })

  it('refuses a consistency or a value type the namespace does not have with 409', async () => {
    const { api, advance } = elected(23)
    expectError(await ask(api, advance, 'PUT', '/v1/kv/cfg/a?consistency=eventual', { body: { value: 'x' } }), 409, 'consistencyMismatch')
    expectError(await ask(api, advance, 'GET', '/v1/kv/reg/a?consistency=strong'), 409, 'consistencyMismatch')
    expectError(await ask(api, advance, 'POST', '/v1/crdt/cfg/a', { body: { op: 'inc' } }), 409, 'consistencyMismatch')
    expectError(await ask(api, advance, 'PUT', '/v1/kv/cnt/a', { body: { value: 'x' } }), 409, 'typeMismatch')
    expectError(await ask(api, advance, 'POST', '/v1/crdt/set/a', { body: { op: 'inc' } }), 409, 'typeMismatch')
  })

  it('answers unknown routes and methods with 404, and plain GETs of WebSocket routes with 426', async () => {
    const { api, advance } = elected(24)
    expectError(await ask(api, advance, 'GET', '/v2/status'), 404, 'unknownRoute')
    expectError(await ask(api, advance, 'POST', '/v1/status'), 404, 'unknownRoute')
    expectError(await ask(api, advance, 'GET', '/v1/kv'), 404, 'unknownRoute')
    expectError(await ask(api, advance, 'GET', '/v1/kv/reg/absent'), 404, 'notFound')
    expectError(await ask(api, advance, 'GET', '/v1/events'), 426, 'upgradeRequired')
    expectError(await ask(api, advance, 'GET', '/v1/docs/notes'), 426, 'upgradeRequired')
    expectError(await ask(api, advance, 'GET', '/v1/docs/bad%20name', { headers: { upgrade: 'websocket' } }), 400, 'invalidKey')
  })
})

describe('API errors: bugs', () => {
  it('answers 500 without details when a handler throws, and hands the error to the host', async () => {
    const { nodes, advance } = elected(30)
    const host = nodes[0]!.host
    const broken = Object.assign(Object.create(host) as typeof host, {
      snapshot: () => {
        throw new Error('secret detail')
      },
    })
    const seen: Error[] = []
    const api = createApi({ backend: { host: broken, faults: null }, tokens: { write: null, read: null }, upgradeWebSocket: noUpgrade, onInternalError: (error) => seen.push(error) })
    const answer = await ask(api, advance, 'GET', '/v1/status')
    expectError(answer, 500, 'internal')
    expect(answer.text).not.toContain('secret')
    expect(seen.map((error) => error.message)).toEqual(['secret detail'])
  })
})

describe('API errors: the cluster cannot serve', () => {
  it('503 with Retry-After while no leader is known; 421 for a byzantine write on a cluster without a PBFT group', async () => {
    const cluster = hostedCluster(25, hostedNodePolicies)
    const api = apiOf(cluster.nodes[0]!)
    const noLeader = await ask(api, () => {}, 'PUT', '/v1/kv/cfg/a', { body: { value: 'x' } })
    expectError(noLeader, 503, 'noLeader')
    expect(noLeader.headers.get('retry-after')).toBe('1')
    cluster.advance(3_000)
    expectError(await ask(api, cluster.advance, 'PUT', '/v1/kv/bft/a', { body: { value: 'x' } }), 421, 'notInGroup')
  })

  it('504 when the leader never answers (the outcome is unknown)', async () => {
    const { nodes, advance, wire } = hostedCluster(26, hostedNodePolicies)
    advance(3_000)
    const follower = nodes.find((node) => node.host.snapshot().raft?.role === 'follower')!
    // Every frame is lost from now on: the forward reaches nobody.
    const lossy = (ms: number): void => {
      wire.length = 0
      advance(ms)
    }
    const answer = await ask(apiOf(follower), lossy, 'PUT', '/v1/kv/cfg/a', { body: { value: 'x' } })
    expectError(answer, 504, 'timeout')
  })
})

describe('API errors: tokens', () => {
  it('401 without or with a bad token, 403 for the read token on a write, and every class with its token', async () => {
    const { nodes, advance } = elected(27)
    const api = apiOf(nodes[0]!, { tokens: { write: 'w-secret', read: 'r-secret' } })
    const missing = await ask(api, advance, 'GET', '/v1/status')
    expectError(missing, 401, 'unauthorized')
    expect(missing.headers.get('www-authenticate')).toBe('Bearer')
    expect(missing.text).not.toContain('secret')
    expectError(await ask(api, advance, 'GET', '/v1/status', { token: 'r-secreT' }), 401, 'unauthorized')
    expectError(await ask(api, advance, 'GET', '/v1/status', { headers: { authorization: 'Basic r-secret' } }), 401, 'unauthorized')
    expect((await ask(api, advance, 'GET', '/v1/status', { token: 'r-secret' })).status).toBe(200)
    expect((await ask(api, advance, 'GET', '/metrics', { token: 'r-secret' })).status).toBe(200)
    expect((await ask(api, advance, 'GET', '/v1/status', { token: 'w-secret' })).status).toBe(200)
    expectError(await ask(api, advance, 'PUT', '/v1/kv/reg/a', { body: { value: 'x' }, token: 'r-secret' }), 403, 'forbidden')
    expectError(await ask(api, advance, 'PUT', '/v1/kv/reg/a', { body: { value: 'x' } }), 401, 'unauthorized')
    expectError(await ask(api, advance, 'DELETE', '/v1/kv/reg/a', { token: 'nope' }), 401, 'unauthorized')
    expect((await ask(api, advance, 'PUT', '/v1/kv/reg/a', { body: { value: 'x' }, token: 'w-secret' })).status).toBe(200)
    // Tokens are checked before anything else: an unauthorised request learns nothing of the route.
    expectError(await ask(api, advance, 'PUT', '/v1/kv/bad%20key', { raw: '{', token: 'r-secret' }), 403, 'forbidden')
  })

  it('protects only the classes that have a token', async () => {
    const { nodes, advance } = elected(28)
    const writesOnly = apiOf(nodes[0]!, { tokens: { write: 'w', read: null } })
    expect((await ask(writesOnly, advance, 'GET', '/v1/status')).status).toBe(200)
    expectError(await ask(writesOnly, advance, 'PUT', '/v1/kv/reg/a', { body: { value: 'x' } }), 401, 'unauthorized')
    expect((await ask(writesOnly, advance, 'PUT', '/v1/kv/reg/a', { body: { value: 'x' }, token: 'w' })).status).toBe(200)
    expect(() => apiOf(nodes[0]!, { tokens: { write: '', read: null } })).toThrow(/empty/)
  })

  it('compares tokens by value, whatever their lengths', () => {
    expect(sameToken('abc', 'abc')).toBe(true)
    expect(sameToken('abd', 'abc')).toBe(false)
    expect(sameToken('ab', 'abc')).toBe(false)
    expect(sameToken('abcabc', 'abc')).toBe(false)
    expect(sameToken('', 'abc')).toBe(false)
    expect(sameToken('ünï', 'ünï')).toBe(true)
    expect(bearerOf('Bearer  t0k.en ')).toBe('t0k.en')
    expect(bearerOf('bearer x')).toBe('x')
    expect(bearerOf('Basic x')).toBe('')
    expect(bearerOf(undefined)).toBeNull()
    expect(accessOf({ write: 'w', read: 'r' }, '')).toMatchObject({ kind: 'denied' })
    expect(accessOf({ write: null, read: null }, 'anything')).toEqual({ kind: 'write' })
  })
})

describe('API: the dev fault switch', () => {
  it('is 404 without --dev, and serves the write token from loopback only', async () => {
    const { nodes, advance } = elected(29)
    expectError(await ask(apiOf(nodes[0]!), advance, 'POST', '/v1/admin/faults', { body: { pause: true } }), 404, 'unknownRoute')
    const faults = new FaultSwitch(() => 0.5)
    const remote = apiOf(nodes[0]!, { faults, clientAddress: '10.0.0.7', tokens: { write: 'w', read: null } })
    expectError(await ask(remote, advance, 'POST', '/v1/admin/faults', { body: { pause: true }, token: 'w' }), 403, 'forbidden')
    const local = apiOf(nodes[0]!, { faults, clientAddress: '::ffff:127.0.0.1', tokens: { write: 'w', read: null } })
    expectError(await ask(local, advance, 'POST', '/v1/admin/faults', { body: { pause: true } }), 401, 'unauthorized')
    expectError(await ask(local, advance, 'POST', '/v1/admin/faults', { body: { loss: 2 }, token: 'w' }), 400, 'invalidBody')
    expectError(await ask(local, advance, 'POST', '/v1/admin/faults', { body: { latencyMs: 10 ** 6 }, token: 'w' }), 400, 'invalidBody')
    const applied = await ask(local, advance, 'POST', '/v1/admin/faults', { body: { partition: ['n3', 'n2'], latencyMs: 80 }, token: 'w' })
    expect(applied.status).toBe(200)
    expect(faultStateSchema.parse(applied.json)).toEqual({ partition: ['n2', 'n3'], latencyMs: 80, loss: null, pause: false })
    expect(faults.isCutFrom('n2')).toBe(true)
    const cleared = await ask(local, advance, 'POST', '/v1/admin/faults', { body: { partition: null }, token: 'w' })
    expect(cleared.json).toEqual({ partition: null, latencyMs: 80, loss: null, pause: false })
  })

  it('knows loopback addresses', () => {
    expect(['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1'].every(isLoopback)).toBe(true)
    expect(['10.0.0.1', '::ffff:10.0.0.1', '1270.0.0.1', '::2', ''].some(isLoopback)).toBe(false)
    expect(isLoopback(null)).toBe(false)
  })
})
