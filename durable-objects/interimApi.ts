/**
 * INTERIM, until the runtime-neutral API app (api/, createApi) is in main:
 * the two routes the edge needs to be used at all, with the contract's
 * shapes (NODE_CONTRACT.md): GET /v1/status, PUT and GET /v1/kv/:key. It is
 * replaced by createApi over the same ReplicaHost, and then deleted.
 */
import { Hono, type Context } from 'hono'
import type { Consistency } from '../core/replica/policy.ts'
import type { CallOutcome } from '../host/kernel.ts'
import type { ReplicaHost } from '../host/replicaHost.ts'
import type { ReplicaReply } from '../core/replica/commands.ts'

const consistencies: readonly string[] = ['eventual', 'strong', 'byzantine', 'auto']
/** Bytes of a request body this interim API reads. */
const bodyBytesMax = 2 * 1024 * 1024

const statusOfCode: Record<string, 400 | 404 | 409 | 413 | 503 | 504> = {
  invalidKey: 400,
  consistencyMismatch: 409,
  typeMismatch: 409,
  tooLarge: 413,
  oversized: 413,
  noLeader: 503,
  overloaded: 503,
  unavailable: 503,
  timeout: 504,
}

export interface InterimTokens {
  readonly write: string | null
  readonly read: string | null
}

export function interimApi(host: ReplicaHost, tokens: InterimTokens): Hono {
  const app = new Hono()
  const fail = (c: Context, status: 400 | 401 | 403 | 404 | 409 | 413 | 500 | 503 | 504, code: string, message: string): Response => c.json({ error: { code, message } }, status)

  app.use('*', async (c, next) => {
    const write = c.req.method !== 'GET' && c.req.method !== 'HEAD'
    const presented = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1] ?? null
    if (tokens.write !== null && presented === tokens.write) return next()
    if (!write && (tokens.read === null || presented === tokens.read)) return next()
    if (write && tokens.write === null) return next()
    if (presented !== null && presented === tokens.read) return fail(c, 403, 'forbidden', 'the read token cannot write')
    return fail(c, 401, 'unauthorized', presented === null ? 'a bearer token is required' : 'the bearer token is not valid here')
  })

  app.get('/v1/status', (c) => {
    const snapshot = host.snapshot()
    const raft = snapshot.raft
    return c.json({
      node: snapshot.node.id,
      region: snapshot.node.region,
      boot: snapshot.node.boot,
      mode: snapshot.node.homeMode,
      role: raft?.role ?? 'none',
      term: raft?.term ?? 0,
      leader: raft?.leader ?? null,
      commit: raft?.commit ?? 0,
      peers: snapshot.members.filter((member) => member.id !== snapshot.node.id && member.state === 'alive').length,
      members: snapshot.members.length,
      events: snapshot.events,
    })
  })

  const answer = async (c: Context, outcome: Promise<CallOutcome<ReplicaReply>>, key: string, read: boolean): Promise<Response> => {
    const result = await outcome
    if (result.kind === 'refused') return fail(c, statusOfCode[result.refusal.code] ?? 500, result.refusal.code, result.refusal.message)
    const reply = result.reply
    if (!reply.ok) return fail(c, statusOfCode[reply.code] ?? 500, reply.code, reply.message)
    if (!read) return c.json({ key, path: reply.path, position: reply.position, ...(reply.auto === undefined ? {} : { auto: reply.auto }) })
    if (reply.value === null || reply.value === undefined) return fail(c, 404, 'notFound', `${key} has no value`)
    return c.json({ key, value: reply.value, path: reply.path, position: reply.position })
  }

  const consistencyOf = (c: Context): Consistency | undefined | null => {
    const value = c.req.query('consistency')
    if (value === undefined) return undefined
    return consistencies.includes(value) ? (value as Consistency) : null
  }

  app.get('/v1/kv/*', async (c): Promise<Response> => {
    const key = decodeURIComponent(c.req.path.slice('/v1/kv/'.length))
    const consistency = consistencyOf(c)
    if (consistency === null) return fail(c, 400, 'invalidConsistency', 'consistency is one of eventual, strong, byzantine, auto')
    return answer(c, host.call({ type: 'get', key, ...(consistency === undefined ? {} : { consistency }) }), key, true)
  })

  app.put('/v1/kv/*', async (c): Promise<Response> => {
    const key = decodeURIComponent(c.req.path.slice('/v1/kv/'.length))
    const consistency = consistencyOf(c)
    if (consistency === null) return fail(c, 400, 'invalidConsistency', 'consistency is one of eventual, strong, byzantine, auto')
    const text = await c.req.text()
    if (text.length > bodyBytesMax) return fail(c, 413, 'bodyTooLarge', `the body is over ${bodyBytesMax} bytes`)
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      return fail(c, 400, 'malformedJson', 'the body is not JSON')
    }
    const value = (body as { value?: unknown } | null)?.value
    if (typeof value !== 'string') return fail(c, 400, 'invalidBody', 'the body is { "value": string }')
    return answer(c, host.call({ type: 'put', key, value, ...(consistency === undefined ? {} : { consistency }) }), key, false)
  })

  app.notFound((c) => fail(c, 404, 'unknownRoute', `no route ${c.req.method} ${new URL(c.req.url).pathname}`))
  app.onError((error, c) => {
    console.error('dwcp region object: unhandled error', error)
    return fail(c, 500, 'internal', 'internal error')
  })
  return app
}
