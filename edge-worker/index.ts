/**
 * The edge Worker entry. Today it answers what it can answer truthfully: its
 * version and the protocol it speaks. Every other path is a JSON 404 in the
 * API's error shape; routes to regional Durable Objects come with the DO host.
 */
import { Hono } from 'hono'
import { protocolVersion } from '../core/codec/envelope.ts'
import { errorBody } from './errors.ts'

export const app = new Hono()

app.get('/v1/version', (c) => c.json({ name: 'dwcp', protocolVersion }))

app.notFound((c) => c.json(errorBody('notFound', `no route for ${c.req.method} ${new URL(c.req.url).pathname}`), 404))

app.onError((error, c) => {
  // The message of an unexpected error may hold internals: log it, answer generically.
  console.error('dwcp edge: unhandled error', error)
  return c.json(errorBody('internal', 'internal error'), 500)
})

export default app
