/**
 * The WebSocket routes: /v1/events (viewers) and /v1/docs/:name (y-websocket
 * clients). Everything that can be refused is refused before the upgrade,
 * with an HTTP error: tokens, parameters, the document's namespace. What
 * runs over the socket is its session (socketSessions.ts), given to the
 * upgrade as its options so a runtime may keep it with the socket.
 */
import type { Context, Hono, MiddlewareHandler } from 'hono'
import type { UpgradeWebSocket } from 'hono/ws'
import { keyProblem, namespaceOf } from '../core/index.ts'
import type { Access } from './auth.ts'
import type { ApiContext } from './context.ts'
import { sinceSchema } from './contract.ts'
import { fail, requireAccess } from './http.ts'
import { docsRoute, eventsRoute, SessionRecord, sessionEvents, type SessionAccess, type SessionUpgradeOptions } from './socketSessions.ts'

export { docsRoute, eventsRoute } from './socketSessions.ts'
/** Documents live in this namespace: /v1/docs/notes is key doc/notes. */
export const docNamespace = 'doc'

/** A plain GET on a WebSocket route: 426. */
const requireUpgrade: MiddlewareHandler = async (c, next) => {
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
    c.header('upgrade', 'websocket')
    return fail(c, 'upgradeRequired', 'this route speaks WebSocket')
  }
  await next()
}

export function addSocketRoutes<Socket>(app: Hono, context: ApiContext, upgradeWebSocket: UpgradeWebSocket<Socket>): void {
  const { host, tokens } = context
  const read = requireAccess(tokens, 'read', { tokenInQuery: true })

  app.get(eventsRoute, read, requireUpgrade, async (c: Context<{ Variables: { access: Access } }>) => {
    const sinceText = c.req.query('since')
    const since = sinceText === undefined ? null : sinceSchema.safeParse(sinceText)
    if (since !== null && !since.success) return fail(c, 'invalidQuery', since.error.issues[0]?.message ?? 'bad since')
    const record = new SessionRecord({ kind: 'events', access: accessOf(c), since: since === null ? null : since.data })
    return upgradeWebSocket(c, sessionEvents<Socket>(context, record), { record } satisfies SessionUpgradeOptions)
  })

  app.get(docsRoute, read, requireUpgrade, async (c: Context<{ Variables: { access: Access } }>) => {
    const key = `${docNamespace}/${c.req.param('name')}`
    const problem = keyProblem(key)
    if (problem !== null) return fail(c, problem.code, problem.message)
    const policy = host.replica.policyOf(namespaceOf(key))
    if (policy.consistency !== 'eventual' || policy.valueType !== 'doc') return fail(c, 'typeMismatch', `namespace ${docNamespace} holds ${policy.consistency} ${policy.valueType} values, not eventual documents`)
    const access = accessOf(c)
    const record = new SessionRecord({ kind: 'doc', access, key, readOnly: c.req.query('readonly') === '1' || access !== 'write', awarenessClients: [] })
    return upgradeWebSocket(c, sessionEvents<Socket>(context, record), { record } satisfies SessionUpgradeOptions)
  })
}

/** The access the request's token gave (the read middleware let it through: never denied here). */
function accessOf(c: Context<{ Variables: { access: Access } }>): SessionAccess {
  return c.get('access').kind === 'write' ? 'write' : 'read'
}
