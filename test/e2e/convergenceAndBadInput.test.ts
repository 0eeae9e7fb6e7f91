/**
 * Real `dwcp node` processes (3 nodes, --dev, a write token and a viewer
 * token):
 * - eventual writes on different nodes converge: counters incremented and
 *   sets added on every node, one node cut off by a partition for part of
 *   the time, and every node ends with the same values;
 * - bad input is refused with the contract's status codes and breaks
 *   nothing: garbage bytes, frames before the hello and a forged hello on
 *   /v1/peer are refused and counted in /metrics; malformed JSON, an
 *   oversized value or body, an unknown consistency, missing, bad and
 *   read-only tokens get their 4xx; the cluster keeps serving.
 */
import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { limits as coreLimits } from '../../core/lib/limits.ts'
import { apiLimits } from '../../api/contract.ts'
import { ed25519SeedBytes, Ed25519Signer } from '../../node/ed25519Signer.ts'
import { peerEndpointOf } from '../../node/peerLinks.ts'
import { refusalCloseCodes } from '../../node/peer/refusals.ts'
import { writeBatch } from '../../node/peer/wire.ts'
import { apiCall, callUntilOk, describeOutcome, errorCodeOf, type ApiAnswer } from '../support/apiCall.ts'
import { fakePeer, newSession } from '../support/loopback.ts'
import { setPartition } from '../support/nemesis.ts'
import { ProcessCluster } from '../support/processCluster.ts'
import { parsePrometheusText } from '../support/promText.ts'

const limits = {
  /** Every node holding the same values. */
  convergeMs: 30_000,
  /** A write that waits for an election or a reconnect. */
  writeRetryMs: 20_000,
  /** A raw TCP exchange with a node. */
  rawSocketMs: 5_000,
} as const

const viewerToken = 'viewer-token-e2e'
let cluster: ProcessCluster
beforeAll(async () => {
  cluster = await ProcessCluster.start({ nodes: 3, dev: true, viewerToken })
}, 120_000)
afterAll(async () => cluster?.close())

/** Reads `path` on every node until all answer 200 with the same value and `check` holds; resolves with it. */
async function converged(path: string, check: (value: unknown) => boolean): Promise<unknown> {
  const deadline = performance.now() + limits.convergeMs
  for (;;) {
    const answers = await Promise.all(cluster.ids.map((id) => apiCall(cluster.url(id), 'GET', path, { token: cluster.token }).catch((error: unknown) => error)))
    const values = answers.map((answer) => ((answer as ApiAnswer).status === 200 ? (answer as ApiAnswer & { body: { value: unknown } }).body.value : undefined))
    const shown = answers.map((answer, index) => (values[index] !== undefined ? JSON.stringify(values[index]) : describeOutcome(answer)))
    if (values.every((value) => value !== undefined) && new Set(shown).size === 1 && check(values[0])) return values[0]
    if (performance.now() > deadline) throw new Error(`${path}: the nodes did not converge within ${limits.convergeMs} ms: ${cluster.ids.map((id, index) => `${id}: ${shown[index]}`).join(', ')}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

describe('eventual writes on different nodes, with real processes', () => {
  it('converge: counters and sets written on every node, one of them partitioned for a while, end equal everywhere', { timeout: 120_000 }, async () => {
    const c = cluster
    await c.waitReady()
    const token = c.token
    // Not retried: an increment whose answer was lost may have happened, and the count would then be off.
    const crdt = async (id: string, key: string, op: object) => {
      const answer = await apiCall(c.url(id), 'POST', `/v1/crdt/${key}`, { token, json: op })
      expect(answer.status, `${JSON.stringify(op)} on ${key} at ${id}: ${answer.text}`).toBe(200)
    }
    const rounds = 6
    const cut = c.ids[c.ids.length - 1]!
    let increments = 0
    for (let round = 0; round < rounds; round++) {
      // Rounds 2 and 3 are written while `cut` is partitioned from the others: its writes stay local until it heals.
      if (round === 2) for (const id of c.ids) expect(await setPartition(c, id, id === cut ? c.ids.filter((other) => other !== cut) : [cut])).toBe('ok')
      if (round === 4) for (const id of c.ids) expect(await setPartition(c, id, null)).toBe('ok')
      await Promise.all(
        c.ids.map(async (id, index) => {
          await crdt(id, 'cnt/e2e', { op: 'inc', by: index + 1 })
          await crdt(id, 'set/e2e', { op: 'add', element: `${id}-${round}` })
        }),
      )
      increments += c.ids.reduce((sum, _, index) => sum + index + 1, 0)
    }
    // A remove on one node, of an element it has seen, removes it everywhere.
    await crdt(c.ids[0]!, 'set/e2e', { op: 'remove', element: `${c.ids[0]}-0` })
    const expectedSet = c.ids
      .flatMap((id) => Array.from({ length: rounds }, (_, round) => `${id}-${round}`))
      .filter((element) => element !== `${c.ids[0]}-0`)
      .sort()
    expect(await converged('/v1/kv/cnt/e2e?consistency=eventual', (value) => value === increments)).toBe(increments)
    expect(await converged('/v1/kv/set/e2e?consistency=eventual', (value) => JSON.stringify(value) === JSON.stringify(expectedSet))).toEqual(expectedSet)
  })
})

/** Sends raw bytes over TCP to a node's port and resolves with what it answered before closing. */
function rawExchange(url: string, bytes: Uint8Array): Promise<string> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname)
    let answer = ''
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`${url}: the node neither answered nor closed within ${limits.rawSocketMs} ms`))
    }, limits.rawSocketMs)
    socket.on('connect', () => socket.write(bytes))
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')))
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(answer)
    })
  })
}

/** The first message of a WebSocket at `url` (bounded). */
function firstMessage(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url)
    const timer = setTimeout(() => {
      socket.terminate()
      reject(new Error(`${url}: no message within ${limits.rawSocketMs} ms`))
    }, limits.rawSocketMs)
    socket.once('message', (data: Buffer) => {
      clearTimeout(timer)
      socket.close()
      resolve(data.toString('utf8'))
    })
    socket.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
  })
}

describe('bad input against real processes', () => {
  it('refuses garbage and unauthenticated peer sockets, counts them in /metrics, and keeps serving', { timeout: 120_000 }, async () => {
    const c = cluster
    await c.waitReady()
    const [target, other] = c.ids as [string, string]
    const endpoint = peerEndpointOf(c.url(target))
    const publicKeys = new Map(c.members.map((member) => [member.id, member.publicKey]))
    const forged = {
      clusterId: c.layout.cluster.clusterId,
      self: other,
      // Not `other`'s key: its signature cannot verify with the public key the cluster file gives `other`.
      signer: new Ed25519Signer(new Uint8Array(randomBytes(ed25519SeedBytes))),
      secret: null,
      session: newSession(),
      publicKeyOf: (id: string) => publicKeys.get(id) ?? null,
    }

    expect(
      (
        await fakePeer(
          endpoint,
          null,
          new Uint8Array(randomBytes(64)).map((byte, index) => (index === 0 ? 0x99 : byte)),
        )
      ).code,
    ).toBe(refusalCloseCodes.malformed)
    expect((await fakePeer(endpoint, null, 'not a binary message')).code).toBe(refusalCloseCodes.malformed)
    expect((await fakePeer(endpoint, null, writeBatch([Uint8Array.of(1, 2, 3)]))).code).toBe(refusalCloseCodes.unauthenticated)
    expect((await fakePeer(endpoint, forged)).code).toBe(refusalCloseCodes.badSignature)
    expect((await fakePeer(endpoint, { ...forged, clusterId: 'another-cluster' })).code).toBe(refusalCloseCodes.wrongCluster)
    // Bytes that are not HTTP at all on the node's one port: a 400 and a closed socket.
    expect(
      await rawExchange(
        c.url(target),
        new Uint8Array(randomBytes(256)).map((byte, index) => (index === 0 ? 0x01 : byte)),
      ),
    ).toMatch(/^HTTP\/1\.1 400 /)

    const metrics = parsePrometheusText((await apiCall(c.url(target), 'GET', '/metrics', { token: c.token })).text)
    expect(metrics.problems).toEqual([])
    const refused = new Map((metrics.families.get('dwcp_peer_sockets_refused_total')?.samples ?? []).map((sample) => [sample.labels.reason, sample.value]))
    expect(Object.fromEntries(['malformed', 'unauthenticated', 'badSignature', 'wrongCluster'].map((reason) => [reason, refused.get(reason)]))).toEqual({ malformed: 2, unauthenticated: 1, badSignature: 1, wrongCluster: 1 })

    // The cluster kept serving: every node still sees every other alive, and strong writes go through the node that was attacked.
    expect(await c.waitReady()).toEqual(expect.any(String))
    const put = await callUntilOk(
      `a strong put through ${target}`,
      () => [c.url(target)],
      (url) => apiCall(url, 'PUT', '/v1/kv/cfg/after-garbage?consistency=strong', { token: c.token, json: { value: 'still here' } }),
      limits.writeRetryMs,
    )
    expect(put.body).toMatchObject({ path: 'raft' })
    for (const id of c.ids) expect((await apiCall(c.url(id), 'GET', '/v1/kv/cfg/after-garbage?consistency=strong', { token: c.token })).body).toMatchObject({ value: 'still here' })
    // A viewer's WebSocket on the same port still gets its feed (the viewer token in the URL, as browsers send it).
    const feed = await firstMessage(`${c.url(target).replace(/^http/, 'ws')}/v1/events?access_token=${viewerToken}`)
    expect(JSON.parse(feed)).toMatchObject({ kind: 'snapshot', snapshot: { node: { id: target } } })
    expect(c.runningIds()).toEqual(c.ids)
  })

  it('answers malformed requests, oversized values, unknown consistencies and bad tokens with the contract status codes', { timeout: 120_000 }, async () => {
    const c = cluster
    const url = c.url(c.ids[0]!)
    const token = c.token
    const expectError = (answer: ApiAnswer, status: number, code: string) => {
      expect({ status: answer.status, code: errorCodeOf(answer) }, answer.text.slice(0, 300)).toEqual({ status, code })
      expect(answer.body).toEqual({ error: { code, message: expect.any(String) } })
    }

    expectError(await apiCall(url, 'PUT', '/v1/kv/cfg/x?consistency=strong', { token, body: '{"value": "unterminated', headers: { 'content-type': 'application/json' } }), 400, 'malformedJson')
    expectError(await apiCall(url, 'PUT', '/v1/kv/cfg/x?consistency=strong', { token, json: { value: 42 } }), 400, 'invalidBody')
    expectError(await apiCall(url, 'POST', '/v1/crdt/cnt/x', { token, json: { op: 'multiply' } }), 400, 'invalidBody')
    expectError(await apiCall(url, 'PUT', '/v1/kv/cfg/x?consistency=sometimes', { token, json: { value: 'v' } }), 400, 'invalidConsistency')
    expectError(await apiCall(url, 'GET', '/v1/kv/cfg/x?consistency=sometimes', { token }), 400, 'invalidConsistency')
    expectError(await apiCall(url, 'PUT', `/v1/kv/cfg/${'k'.repeat(200)}?consistency=strong`, { token, json: { value: 'v' } }), 400, 'invalidKey')
    // A value over valueBytesMax in a body the API takes: the replica's limit. A body over requestBytesMax: the API's own.
    expectError(await apiCall(url, 'PUT', '/v1/kv/cfg/big?consistency=strong', { token, json: { value: 'x'.repeat(coreLimits.valueBytesMax + 1) } }), 413, 'tooLarge')
    expectError(await apiCall(url, 'PUT', '/v1/kv/cfg/big?consistency=strong', { token, json: { value: 'x'.repeat(apiLimits.requestBytesMax) } }), 413, 'bodyTooLarge')
    // Tokens: none and a wrong one are 401 (with a Bearer challenge); the viewer token reads but cannot write (403).
    const missing = await apiCall(url, 'PUT', '/v1/kv/cfg/x?consistency=strong', { json: { value: 'v' } })
    expectError(missing, 401, 'unauthorized')
    expect(missing.headers.get('www-authenticate')).toBe('Bearer')
    expectError(await apiCall(url, 'PUT', '/v1/kv/cfg/x?consistency=strong', { token: 'not-the-token', json: { value: 'v' } }), 401, 'unauthorized')
    expectError(await apiCall(url, 'GET', '/v1/status', { token: 'not-the-token' }), 401, 'unauthorized')
    expectError(await apiCall(url, 'GET', '/v1/status'), 401, 'unauthorized')
    expectError(await apiCall(url, 'PUT', '/v1/kv/cfg/x?consistency=strong', { token: viewerToken, json: { value: 'v' } }), 403, 'forbidden')
    expectError(await apiCall(url, 'POST', '/v1/admin/faults', { token: viewerToken, json: { pause: true } }), 403, 'forbidden')
    expect((await apiCall(url, 'GET', '/v1/status', { token: viewerToken })).status).toBe(200)
    // The rest of the contract's refusals: an unknown route, a key with no value, a consistency its namespace does not allow, a type mismatch.
    expectError(await apiCall(url, 'GET', '/v1/nowhere', { token }), 404, 'unknownRoute')
    expectError(await apiCall(url, 'GET', '/v1/kv/cfg/never-written?consistency=strong', { token }), 404, 'notFound')
    expectError(await apiCall(url, 'PUT', '/v1/kv/cfg/x?consistency=eventual', { token, json: { value: 'v' } }), 409, 'consistencyMismatch')
    expectError(await apiCall(url, 'POST', '/v1/crdt/cnt/x', { token, json: { op: 'add', element: 'e' } }), 409, 'typeMismatch')

    // Counted by status in /metrics, and nothing broke: a strong write still goes through.
    const metrics = parsePrometheusText((await apiCall(url, 'GET', '/metrics', { token })).text)
    expect(metrics.problems).toEqual([])
    const statuses = new Set(metrics.families.get('dwcp_http_responses_total')!.samples.map((sample) => sample.labels.status))
    for (const status of ['400', '401', '403', '404', '409', '413']) expect(statuses, `status ${status} in dwcp_http_responses_total`).toContain(status)
    const put = await callUntilOk(
      'a strong put after the bad requests',
      () => [url],
      (at) => apiCall(at, 'PUT', '/v1/kv/cfg/x?consistency=strong', { token, json: { value: 'fine' } }),
      limits.writeRetryMs,
    )
    expect(put.status).toBe(200)
    expect(c.runningIds()).toEqual(c.ids)
  })
})
