/**
 * A node's one port (NODE_CONTRACT): the API app (api/app.ts) on
 * @hono/node-server, its WebSockets (/v1/events, /v1/docs/:name) through
 * @hono/node-ws, and WebSocket upgrades of `/v1/peer` handed to the peer links
 * (`onPeerUpgrade`, for a `ws` WebSocketServer in noServer mode). Bound to
 * 127.0.0.1 unless told otherwise; HTTPS when a certificate and key are given
 * (mutual TLS for peers: `requestCert` with a `ca`, and the peer links check
 * `socket.authorized`; API clients without a certificate are still served).
 */
import type { IncomingMessage, Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { serve } from '@hono/node-server'
import { getConnInfo } from '@hono/node-server/conninfo'
import { createNodeWebSocket } from '@hono/node-ws'
import { Hono, type Context } from 'hono'
import type { UpgradeWebSocket } from 'hono/ws'
import type { WebSocket } from 'ws'
import { apiLimits } from '../api/contract.ts'
import { peerPath } from './peer/wire.ts'

export const httpServerLimits = {
  /** How long close() lets WebSocket clients take the close handshake before their sockets are destroyed. */
  closeGraceMs: 1_000,
  /** Bytes of one WebSocket message the server reads (larger ones close the socket with 1009). */
  webSocketMessageBytesMax: apiLimits.docMessageBytesMax,
  /** Of a body answered before it was read (a 413), bytes still read and dropped so the client can finish sending and read the answer. */
  unreadBodyDrainBytesMax: 4 * apiLimits.requestBytesMax,
  /** How long such a body is drained before the answer goes anyway. */
  unreadBodyDrainMs: 2_000,
} as const

/** What the server gives the app it serves: the runtime's WebSocket upgrade and the client's address. */
export interface AppPorts {
  readonly upgradeWebSocket: UpgradeWebSocket<WebSocket>
  readonly clientAddress: (c: Context) => string | null
}

export interface HttpServerTls {
  readonly cert: string | Buffer
  readonly key: string | Buffer
  /** Certificates that client certificates (peers) are checked against. */
  readonly ca?: string | Buffer
  /** Ask clients for a certificate (peers present one; API clients may not: they are not refused for it). */
  readonly requestCert?: boolean
}

export interface HttpServerOptions {
  /** Builds the app (usually `createApi({ …, ...ports })`). */
  readonly createApp: (ports: AppPorts) => Hono
  /** Address to bind; 127.0.0.1 by default. */
  readonly host?: string
  /** Port to bind; 0 (the default) picks a free one. */
  readonly port?: number
  readonly tls?: HttpServerTls | null
  /** A WebSocket upgrade of /v1/peer; without one, such upgrades are refused with 404. */
  readonly onPeerUpgrade?: (request: IncomingMessage, socket: Duplex, head: Buffer) => void
}

export interface HttpServer {
  /** The port bound (the one picked when 0 was asked). */
  readonly port: number
  /** `http(s)://host:port` */
  readonly url: string
  readonly server: Server
  /** Stops accepting, closes WebSocket clients (1001), ends every connection; resolves once the server is closed. */
  close(): Promise<void>
}

type UpgradeListener = (request: IncomingMessage, socket: Duplex, head: Buffer) => void

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const host = options.host ?? '127.0.0.1'
  // node-ws needs the app to answer upgrade requests, and the app needs node-ws's upgrade: a forwarding app breaks the circle.
  let app: Hono | null = null
  const forward = new Hono()
  forward.all('*', (c) => app!.fetch(c.req.raw, c.env))
  const nodeWs = createNodeWebSocket({ app: forward })
  nodeWs.wss.options.maxPayload = httpServerLimits.webSocketMessageBytesMax
  app = options.createApp({ upgradeWebSocket: nodeWs.upgradeWebSocket, clientAddress: (c) => getConnInfo(c).remote.address ?? null })

  const tls = options.tls ?? null
  const served = app
  const server = serve({
    fetch: async (request, env) => closeIfBodyUnread(await served.fetch(request, env), env.incoming as IncomingMessage),
    hostname: host,
    port: options.port ?? 0,
    ...(tls === null ? {} : { createServer: createHttpsServer, serverOptions: { cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: tls.requestCert ?? false, rejectUnauthorized: false } }),
  }) as Server

  // Every socket, so close() can end upgraded ones too (the HTTP server stops tracking a socket once it is upgraded).
  const sockets = new Set<Socket>()
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })

  // One upgrade listener: /v1/peer to the peer links, the rest to node-ws (which asks the app, so tokens and parameters are checked first).
  nodeWs.injectWebSocket(server)
  const appUpgrade = server.listeners('upgrade')[0] as UpgradeListener
  server.removeAllListeners('upgrade')
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (pathOf(request) === peerPath) {
      if (options.onPeerUpgrade !== undefined) return options.onPeerUpgrade(request, socket, head)
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    appUpgrade(request, socket, head)
  })

  await new Promise<void>((resolve, reject) => {
    if (server.listening) return resolve()
    server.once('listening', resolve)
    server.once('error', reject)
  })
  const port = (server.address() as AddressInfo).port
  const url = `${tls === null ? 'http' : 'https'}://${host.includes(':') ? `[${host}]` : host}:${port}`

  let closing: Promise<void> | null = null
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve())
      for (const client of nodeWs.wss.clients) client.close(1001, 'the node is shutting down')
      server.closeIdleConnections()
      // What has not closed by then (a client that never answers the close handshake, a peer link) is ended.
      const grace = setTimeout(() => {
        for (const socket of sockets) socket.destroy()
        server.closeAllConnections()
      }, httpServerLimits.closeGraceMs)
      grace.unref()
      server.once('close', () => clearTimeout(grace))
    })
    return closing
  }
  return { port, url, server, close }
}

/**
 * A response sent before the request's body was read whole (a 413 over the
 * body limit, a 401 on a PUT) asks for `Connection: close`: @hono/node-server
 * cuts a connection whose unread body has not drained within half a second,
 * so a keep-alive client's next request on it would fail. Before answering,
 * the rest of the body is read and dropped (bounded in bytes and time): a
 * client still sending it would otherwise see its write fail (EPIPE) instead
 * of the answer.
 */
async function closeIfBodyUnread(response: Response, incoming: IncomingMessage): Promise<Response> {
  if (incoming.complete) return response
  await drainUnread(incoming)
  const headers = new Headers(response.headers)
  headers.set('connection', 'close')
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers })
}

function drainUnread(incoming: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    let drainedBytes = 0
    const done = (): void => {
      clearTimeout(timer)
      incoming.off('data', onData)
      resolve()
    }
    const onData = (chunk: Buffer): void => {
      drainedBytes += chunk.length
      if (drainedBytes > httpServerLimits.unreadBodyDrainBytesMax) done()
    }
    const timer = setTimeout(done, httpServerLimits.unreadBodyDrainMs)
    incoming.on('data', onData)
    incoming.once('end', done)
    incoming.once('close', done)
    incoming.resume()
  })
}

function pathOf(request: IncomingMessage): string {
  const target = request.url ?? '/'
  const query = target.indexOf('?')
  return query < 0 ? target : target.slice(0, query)
}
