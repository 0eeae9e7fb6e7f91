/**
 * The API's WebSocket upgrade inside a region object (Hono's
 * `UpgradeWebSocket`, what @hono/node-ws is on a node). Hono's
 * hono/cloudflare-workers helper never calls `onOpen`, and the API starts
 * its feeds there (the events snapshot, the y-protocols greeting), so the
 * object has its own: accept the server end, hand the client end back in
 * the 101, and call `onOpen` right after (an accepted socket is open; what
 * is sent before the client reads it waits in the socket).
 *
 * These sockets are accepted with `accept()`, not the hibernation API: an
 * object with an open viewer or document socket stays in memory.
 *
 * Binary messages arrive as ArrayBuffers (`binaryType`), not the standard's
 * Blobs. A close from the client is answered with a close, except codes 1005 and
 * 1006, which say no code was sent and must never be sent back.
 */
import { defineWebSocketHelper, WSContext, type UpgradeWebSocket } from 'hono/ws'

const noStatusCodes = new Set([1005, 1006])

export const upgradeObjectWebSocket: UpgradeWebSocket<WebSocket> = defineWebSocketHelper<WebSocket>(async (c, events) => {
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') return
  const pair = new WebSocketPair()
  const client = pair[0]
  const server = pair[1]
  // The standard default (a compatibility date of 2026 has it) hands binary messages out as Blobs; the API reads bytes.
  server.binaryType = 'arraybuffer'
  const context = new WSContext<WebSocket>({
    raw: server,
    url: c.req.url,
    get readyState() {
      return server.readyState as 0 | 1 | 2 | 3
    },
    send: (data) => server.send(data),
    close: (code, reason) => server.close(code, reason),
  })
  server.addEventListener('message', (event) => events.onMessage?.(event, context))
  server.addEventListener('close', (event) => {
    try {
      if (!noStatusCodes.has(event.code)) server.close(event.code, event.reason)
    } catch {
      // Closed from this side already.
    }
    events.onClose?.(event, context)
  })
  server.addEventListener('error', (event) => events.onError?.(event, context))
  server.accept()
  queueMicrotask(() => {
    try {
      events.onOpen?.(new Event('open'), context)
    } catch (error) {
      // Thrown outside any request, it would be an uncaught exception of the object: end this socket only.
      console.error('dwcp region object: WebSocket open handler failed', error)
      server.close(1011, 'internal error')
    }
  })
  return new Response(null, { status: 101, webSocket: client })
})
