/**
 * The WebSocket routes: /v1/events (viewers) and /v1/docs/:name (y-websocket
 * clients). Everything that can be refused is refused before the upgrade,
 * with an HTTP error: tokens, parameters, the document's namespace.
 */
import type { Context, Hono, MiddlewareHandler } from 'hono'
import type { UpgradeWebSocket, WSMessageReceive } from 'hono/ws'
import { keyProblem, namespaceOf } from '../core/replica/policy.ts'
import type { Access } from './auth.ts'
import type { ApiContext } from './context.ts'
import { apiLimits, sinceSchema } from './contract.ts'
import { DocConnection } from './docHub.ts'
import { statusOf } from './errors.ts'
import { EventsFeed } from './eventsFeed.ts'
import { fail, requireAccess } from './http.ts'
import { closeCodeOf, closeSocket } from './sockets.ts'

export const eventsRoute = '/v1/events'
export const docsRoute = '/v1/docs/:name{.+}'
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
  const { host, tokens, stats, hub } = context
  const read = requireAccess(tokens, 'read', { tokenInQuery: true })

  app.get(eventsRoute, read, requireUpgrade, async (c) => {
    const sinceText = c.req.query('since')
    const since = sinceText === undefined ? null : sinceSchema.safeParse(sinceText)
    if (since !== null && !since.success) return fail(c, 'invalidQuery', since.error.issues[0]?.message ?? 'bad since')
    let feed: EventsFeed | null = null
    return upgradeWebSocket(c, {
      onOpen: (_event, socket) => {
        stats.socketOpened(eventsRoute)
        feed = new EventsFeed(host, socket, since === null ? null : since.data)
      },
      onClose: () => {
        stats.socketClosed(eventsRoute)
        feed?.close()
      },
    })
  })

  app.get(docsRoute, read, requireUpgrade, async (c: Context<{ Variables: { access: Access } }>) => {
    const key = `${docNamespace}/${c.req.param('name')}`
    const problem = keyProblem(key)
    if (problem !== null) return fail(c, problem.code, problem.message)
    const policy = host.replica.policyOf(namespaceOf(key))
    if (policy.consistency !== 'eventual' || policy.valueType !== 'doc') return fail(c, 'typeMismatch', `namespace ${docNamespace} holds ${policy.consistency} ${policy.valueType} values, not eventual documents`)
    const readOnly = c.req.query('readonly') === '1' || c.get('access').kind !== 'write'
    let connection: DocConnection | null = null
    return upgradeWebSocket(c, {
      onOpen: (_event, socket) => {
        stats.socketOpened(docsRoute)
        const opened = hub.open(key, socket, readOnly)
        if (opened instanceof DocConnection) connection = opened
        else closeSocket(socket, closeCodeOf(statusOf(opened.code)), `${opened.code}: ${opened.message}`)
      },
      onMessage: (event, socket) => {
        if (connection === null) return
        const bytes = bytesOf(event.data)
        if (bytes === null) return closeSocket(socket, closeCodeOf(400), 'y-protocols messages are binary')
        if (bytes.length > apiLimits.docMessageBytesMax) return closeSocket(socket, closeCodeOf(413), `message over docMessageBytesMax=${apiLimits.docMessageBytesMax}`)
        hub.message(connection, bytes)
      },
      onClose: () => {
        stats.socketClosed(docsRoute)
        if (connection !== null) hub.close(connection)
      },
    })
  })
}

/** A binary message's bytes; null for text (and Blobs, which runtimes hand out only when asked to). */
function bytesOf(data: WSMessageReceive): Uint8Array | null {
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  return null
}
