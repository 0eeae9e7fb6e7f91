/**
 * createApi: the public HTTP API (DESIGN §5, api/contract.ts) as one
 * runtime-neutral Hono app over a hosted replica, shared by the Node host
 * (node/httpServer.ts) and the edge worker. Routes:
 *
 *   GET    /v1/status  /v1/members  /v1/snapshot  /metrics
 *   PUT|GET|DELETE /v1/kv/:key?consistency=…     POST /v1/crdt/:key
 *   GET /v1/policies   GET|PUT /v1/policies/:namespace
 *   GET /v1/events?since=EPOCH:SEQ (WebSocket)    GET /v1/docs/:name (WebSocket, y-protocols)
 *   POST /v1/admin/faults (--dev, loopback)
 *   GET /v1/cluster/join/challenge  POST /v1/cluster/join  POST /v1/cluster/leave  DELETE /v1/members/:id  PUT /v1/cluster/pbft
 *
 * Errors are `{ error: { code, message, leader? } }` with the status of their
 * code (api/errors.ts). Every request is timed into /metrics by its route.
 *
 * Create one app per hosted replica and keep it: it holds an event
 * subscription (counting events for /metrics) for as long as it lives.
 * createApiServer also hands out the WebSocket sessions (socketSessions.ts)
 * for a runtime that keeps them with sockets that outlive its memory.
 */
import { Hono } from 'hono'
import { routePath } from 'hono/route'
import type { WSEvents } from 'hono/ws'
import { consistencies } from '../core/index.ts'
import { addAdminRoutes } from './adminRoutes.ts'
import type { ApiContext, ApiOptions } from './context.ts'
import { addDataRoutes } from './dataRoutes.ts'
import { addMembershipRoutes } from './membershipRoutes.ts'
import { DocHub } from './docHub.ts'
import { fail } from './http.ts'
import { ApiStats, EventCounts } from './metrics.ts'
import { addSocketRoutes } from './socketRoutes.ts'
import { sessionEvents, type SessionRecord } from './socketSessions.ts'
import { addViewRoutes } from './viewRoutes.ts'

export type { ApiBackend, ApiOptions } from './context.ts'
export type { MembershipPort } from './membershipRoutes.ts'

const methods = new Set(['GET', 'PUT', 'POST', 'DELETE', 'HEAD'])

/** The app, and the sessions of its WebSockets for a runtime that resumes them (a hibernating Durable Object). */
export interface ApiServer {
  readonly app: Hono
  /** The socket events of a session the runtime kept with its socket; calling their onOpen resumes it. */
  readonly sessionEvents: <Socket>(record: SessionRecord) => WSEvents<Socket>
}

export function createApi<Socket>(options: ApiOptions<Socket>): Hono {
  return createApiServer(options).app
}

export function createApiServer<Socket>(options: ApiOptions<Socket>): ApiServer {
  for (const [name, token] of Object.entries(options.tokens)) if (token !== null && token.length === 0) throw new RangeError(`the ${name} token is empty: give a token or null`)
  const host = options.backend.host
  const stats = new ApiStats()
  const context: ApiContext = {
    host,
    backend: options.backend,
    tokens: options.tokens,
    stats,
    events: new EventCounts(host),
    hub: new DocHub(host, stats),
    clientAddress: options.clientAddress ?? (() => null),
  }
  const nowMs = options.nowMs ?? (() => performance.now())
  const app = new Hono()

  // Times every request by the route that answered it (bounded label values: routes, methods and levels are fixed sets).
  app.use('*', async (c, next) => {
    const startMs = nowMs()
    await next()
    const route = routePath(c, -1)
    const consistency = c.req.query('consistency')
    stats.recordRequest(
      route === '*' || route === '/*' ? 'unmatched' : route,
      methods.has(c.req.method) ? c.req.method : 'other',
      consistency === undefined ? 'none' : (consistencies as readonly string[]).includes(consistency) ? consistency : 'invalid',
      c.res.status,
      (nowMs() - startMs) / 1000,
    )
  })

  addViewRoutes(app, context)
  addDataRoutes(app, context)
  addSocketRoutes(app, context, options.upgradeWebSocket)
  addAdminRoutes(app, context)
  addMembershipRoutes(app, context, nowMs)

  app.notFound((c) => fail(c, 'unknownRoute', `no route ${c.req.method} ${new URL(c.req.url).pathname}`))
  // A bug in a handler: the client learns that much, never the stack.
  app.onError((error, c) => {
    options.onInternalError?.(error)
    return fail(c, 'internal', `the node failed to answer: ${error.name}`)
  })
  return { app, sessionEvents: (record) => sessionEvents(context, record) }
}
