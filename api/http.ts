/**
 * What every route shares: error responses from the code table, bearer-token
 * checks, JSON bodies checked against the contract, key and consistency
 * parameters, and replica calls turned into a reply or an error.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { z } from 'zod'
import { isValidId, keyProblem, type ReplicaReply } from '../core/index.ts'
import type { ReplicaCall } from '../host/replicaHost.ts'
import { accessOf, bearerOf, type Access, type ApiTokens } from './auth.ts'
import type { ApiBackend } from './context.ts'
import { apiLimits, consistencySchema, type ConsistencyParam } from './contract.ts'
import { apiError } from './errors.ts'

/** The error response of `code` (status from api/errors.ts). */
export function fail(c: Context, code: string, message: string, leader?: string | null): Response {
  const error = apiError(code, message, leader)
  return c.json(error.body, error.status, error.headers)
}

/** Refuses, before anything else runs, a request whose token does not allow `needs` (401 no or bad token, 403 a read token for a write). */
export function requireAccess(tokens: ApiTokens, needs: 'read' | 'write', options: { readonly tokenInQuery?: boolean } = {}): MiddlewareHandler<{ Variables: { access: Access } }> {
  return async (c, next) => {
    let presented = bearerOf(c.req.header('authorization'))
    if (presented === null && options.tokenInQuery === true) presented = c.req.query('access_token') ?? null
    const access = accessOf(tokens, presented)
    if (access.kind === 'denied') {
      c.header('www-authenticate', 'Bearer')
      return fail(c, 'unauthorized', access.message)
    }
    if (needs === 'write' && access.kind === 'read') {
      if (access.byToken) return fail(c, 'forbidden', 'the read token allows reads only')
      c.header('www-authenticate', 'Bearer')
      return fail(c, 'unauthorized', 'writes need the write token')
    }
    c.set('access', access)
    await next()
  }
}

/** Refuses bodies above requestBytesMax with 413, counted as they stream in when no Content-Length says it first. */
export const limitBody: MiddlewareHandler = bodyLimit({
  maxSize: apiLimits.requestBytesMax,
  onError: (c) => fail(c, 'bodyTooLarge', `the request body is over requestBytesMax=${apiLimits.requestBytesMax} bytes`),
})

export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly response: Response }

/** The JSON body, checked against `schema`: 400 malformedJson when it is not JSON, 400 invalidBody when it does not match. */
export async function readBody<T>(c: Context, schema: z.ZodType<T>): Promise<Checked<T>> {
  const text = await c.req.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (thrown) {
    return { ok: false, response: fail(c, 'malformedJson', `the body is not JSON: ${(thrown as Error).message}`) }
  }
  const parsed = schema.safeParse(json)
  if (!parsed.success) return { ok: false, response: fail(c, 'invalidBody', z.prettifyError(parsed.error)) }
  return { ok: true, value: parsed.data }
}

/** The `:key` parameter, checked as the replica checks keys (400 invalidKey). */
export function readKey(c: Context): Checked<string> {
  const key = c.req.param('key') ?? ''
  const problem = keyProblem(key)
  return problem === null ? { ok: true, value: key } : { ok: false, response: fail(c, problem.code, problem.message) }
}

/** `?consistency=`: absent (undefined) or one of the four levels (400 invalidConsistency). */
export function readConsistency(c: Context): Checked<ConsistencyParam | undefined> {
  const text = c.req.query('consistency')
  if (text === undefined) return { ok: true, value: undefined }
  const parsed = consistencySchema.safeParse(text)
  if (!parsed.success) return { ok: false, response: fail(c, 'invalidConsistency', `consistency must be one of ${consistencySchema.options.join(', ')}, got ${JSON.stringify(text)}`) }
  return { ok: true, value: parsed.data }
}

/** The `:key` parameter, then `?consistency=`: the first of them that is wrong answers. */
export function readKeyAndConsistency(c: Context): Checked<{ readonly key: string; readonly consistency: ConsistencyParam | undefined }> {
  const key = readKey(c)
  if (!key.ok) return key
  const consistency = readConsistency(c)
  if (!consistency.ok) return consistency
  return { ok: true, value: { key: key.value, consistency: consistency.value } }
}

/** The `:namespace` parameter, checked as the replica checks namespaces (400 invalidNamespace). */
export function readNamespace(c: Context): Checked<string> {
  const namespace = c.req.param('namespace') ?? ''
  if (!isValidId(namespace)) return { ok: false, response: fail(c, 'invalidNamespace', `namespace ${JSON.stringify(namespace)} must be 1 to 64 characters of [A-Za-z0-9._-]`) }
  return { ok: true, value: namespace }
}

export type OkReply = Extract<ReplicaReply, { ok: true }>

/** Calls the replica: its ok reply, or the error response of its refusal or failed reply; never before what it wrote is durable. */
export async function callReplica(c: Context, backend: Pick<ApiBackend, 'host' | 'durable'>, command: ReplicaCall): Promise<Checked<OkReply>> {
  const outcome = await backend.host.call(command)
  await backend.durable?.()
  if (outcome.kind === 'refused') return { ok: false, response: fail(c, outcome.refusal.code, outcome.refusal.message, leaderOf(outcome.refusal)) }
  const reply = outcome.reply
  if (!reply.ok) return { ok: false, response: fail(c, reply.code, reply.message, reply.leader) }
  return { ok: true, value: reply }
}

/** Raft's refusals name the leader they know; other refusals do not. */
function leaderOf(refusal: object): string | null | undefined {
  const leader = (refusal as { readonly leader?: unknown }).leader
  return typeof leader === 'string' || leader === null ? leader : undefined
}
