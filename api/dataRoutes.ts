/**
 * The data routes: kv (registers at any consistency), crdt (typed operations
 * on eventual namespaces) and policies. Keys hold `/` (namespace/rest), so
 * the key routes take the rest of the path.
 */
import type { Hono } from 'hono'
import type { CrdtOp, Policy } from '../core/index.ts'
import type { ApiContext } from './context.ts'
import { crdtOpBodySchema, policyPutBodySchema, kvPutBodySchema, type CrdtOpBody, type CrdtReply, type KvDeleteReply, type KvGetReply, type KvPutReply, type PoliciesReply, type PolicyReply } from './contract.ts'
import { callReplica, fail, limitBody, readBody, readKey, readKeyAndConsistency, readNamespace, requireAccess } from './http.ts'

export const keyRoute = '/v1/kv/:key{.+}'
export const crdtRoute = '/v1/crdt/:key{.+}'

export function addDataRoutes(app: Hono, context: ApiContext): void {
  const { host, backend, tokens } = context
  const read = requireAccess(tokens, 'read')
  const write = requireAccess(tokens, 'write')

  app.put(keyRoute, write, limitBody, async (c) => {
    const params = readKeyAndConsistency(c)
    if (!params.ok) return params.response
    const { key, consistency } = params.value
    const body = await readBody(c, kvPutBodySchema)
    if (!body.ok) return body.response
    const reply = await callReplica(c, backend, { type: 'put', key, value: body.value.value, consistency })
    if (!reply.ok) return reply.response
    const { path, position, auto } = reply.value
    return c.json({ key, path, position, ...(auto === undefined ? {} : { auto }) } satisfies KvPutReply)
  })

  app.get(keyRoute, read, async (c) => {
    const params = readKeyAndConsistency(c)
    if (!params.ok) return params.response
    const { key, consistency } = params.value
    const reply = await callReplica(c, backend, { type: 'get', key, consistency })
    if (!reply.ok) return reply.response
    const { path, position, value } = reply.value
    if (value === undefined || value === null) return fail(c, 'notFound', `${key} has no value`)
    return c.json({ key, value, path, position } satisfies KvGetReply)
  })

  app.delete(keyRoute, write, async (c) => {
    const params = readKeyAndConsistency(c)
    if (!params.ok) return params.response
    const { key, consistency } = params.value
    const reply = await callReplica(c, backend, { type: 'delete', key, consistency })
    if (!reply.ok) return reply.response
    const { path, position, auto } = reply.value
    return c.json({ key, path, position, ...(auto === undefined ? {} : { auto }) } satisfies KvDeleteReply)
  })

  app.post(crdtRoute, write, limitBody, async (c) => {
    const key = readKey(c)
    if (!key.ok) return key.response
    const body = await readBody(c, crdtOpBodySchema)
    if (!body.ok) return body.response
    const reply = await callReplica(c, backend, { type: 'crdt', op: crdtOpOf(key.value, body.value) })
    if (!reply.ok) return reply.response
    const { path, position, value } = reply.value
    return c.json({ key: key.value, path, position, value: value ?? null } satisfies CrdtReply)
  })

  app.get('/v1/policies', read, (c) => {
    const policies = host.snapshot().policies.map(({ namespace, policy }) => ({ namespace, policy: { ...policy } }))
    return c.json({ policies } satisfies PoliciesReply)
  })

  app.get('/v1/policies/:namespace', read, (c) => {
    const checked = readNamespace(c)
    if (!checked.ok) return checked.response
    const namespace = checked.value
    return c.json({ namespace, policy: { ...host.replica.policyOf(namespace) } } satisfies PolicyReply)
  })

  app.put('/v1/policies/:namespace', write, limitBody, async (c) => {
    const checked = readNamespace(c)
    if (!checked.ok) return checked.response
    const namespace = checked.value
    const body = await readBody(c, policyPutBodySchema)
    if (!body.ok) return body.response
    const current = host.replica.policyOf(namespace)
    const policy: Policy = {
      consistency: body.value.consistency ?? current.consistency,
      valueType: body.value.valueType ?? current.valueType,
      home: body.value.home === undefined ? current.home : body.value.home,
    }
    const reply = await callReplica(c, backend, { type: 'setPolicy', namespace, policy })
    if (!reply.ok) return reply.response
    return c.json({ namespace, policy } satisfies PolicyReply)
  })
}

/** The core operation of a crdt request body. */
export function crdtOpOf(key: string, body: CrdtOpBody): CrdtOp {
  switch (body.op) {
    case 'inc':
      return { type: 'counter', key, amount: body.by ?? 1 }
    case 'dec':
      return { type: 'counter', key, amount: -(body.by ?? 1) }
    case 'add':
    case 'remove':
      return { type: 'set', key, action: body.op, element: body.element }
    case 'put':
      return { type: 'map', key, action: 'put', path: body.path, value: body.value }
    case 'removeField':
      return { type: 'map', key, action: 'remove', path: body.path }
    case 'mvput':
      return { type: 'mvregister', key, value: body.value }
    case 'insert':
      return { type: 'doc', key, action: 'insert', index: body.index, text: body.text }
    case 'delete':
      return { type: 'doc', key, action: 'delete', index: body.index, count: body.count }
  }
}
