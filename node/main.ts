/**
 * `dwcp node`: one node as a process. Composes the node runtime (data dir,
 * storage, replica, peer links, timers) and the HTTP server (the API app,
 * WebSockets, /v1/peer upgrades to the peer links), prints one line when it
 * listens, and on SIGINT/SIGTERM shuts down in order: refuse new requests
 * (503 shuttingDown), let the calls in flight finish (at most
 * `inFlightDrainMs`), leave the cluster (the others mark it left, not dead),
 * close the server, then the runtime (links, storage, the data dir's lock),
 * and exit 0.
 */
import { Hono } from 'hono'
import { createApi } from '../api/app.ts'
import { apiError } from '../api/errors.ts'
import type { NodeConfig } from './config.ts'
import { DataDirError } from './dataDir.ts'
import { startHttpServer, type HttpServer } from './httpServer.ts'
import { interRegionLatency } from './peer/wanLatency.ts'
import { NodeRuntime, NodeRuntimeError, nodeRuntimeLimits } from './nodeRuntime.ts'
import { DataDirLockedError } from './sqliteStorage.ts'

export const nodeMainLimits = {
  /** How long a stopping node waits for client calls in flight to be answered. */
  inFlightDrainMs: 5_000,
  /** Poll of the in-flight count while draining. */
  drainPollMs: 20,
  /** The whole shutdown: past it the process exits anyway (with the code for a failure). */
  shutdownMs: 15_000,
} as const

/** A node that cannot start for a reason its settings explain (in use, a bad key, a port taken): the CLI exits with its usage code. */
export class NodeStartError extends Error {
  override readonly name = 'NodeStartError'
}

export interface RunNodeOptions {
  /** Stop when standard input closes (`dwcp up`'s children: they go down with it). */
  readonly exitWithStdin?: boolean
  /** The exit code when shutdown overruns shutdownMs. */
  readonly shutdownTimeoutExitCode: number
  /** Where the ready line and shutdown notes go (stdout by default). */
  readonly log?: (line: string) => void
}

/** Runs the node until a signal (or stdin closing) and shuts it down; throws NodeStartError when it cannot start. */
export async function runNode(config: NodeConfig, options: RunNodeOptions): Promise<void> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`))
  const fail = (message: string) => new NodeStartError(message)

  let runtime: NodeRuntime
  try {
    runtime = NodeRuntime.open({
      id: config.id,
      cluster: config.cluster,
      dataDir: config.dataDir,
      secret: config.clusterSecret,
      tls: config.tls,
      wanLatency: config.wanLatencyMs > 0 ? interRegionLatency(config.wanLatencyMs) : null,
      dev: config.dev,
    })
  } catch (error) {
    if (error instanceof DataDirLockedError) throw fail(`--data: ${config.dataDir} is in use by another running node (stop it first, or choose another --data)`)
    if (error instanceof DataDirError || error instanceof NodeRuntimeError) throw fail(error.message)
    throw error
  }

  let draining = false
  let server: HttpServer
  try {
    server = await startHttpServer({
      host: config.host,
      port: config.port,
      tls: config.tls === null ? null : { ...config.tls, requestCert: true },
      onPeerUpgrade: (request, socket, head) => runtime.acceptPeer(request, socket, head),
      createApp: (ports) => {
        const api = createApi({ backend: { host: runtime.host, faults: runtime.faults, frames: runtime.frames, links: runtime.links, durable: () => runtime.durable() }, tokens: config.tokens, ...ports })
        return drainableApp(api, config.id, () => draining)
      },
    })
  } catch (error) {
    await runtime.close()
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EADDRINUSE') throw fail(`--port: ${config.host}:${config.port} is in use by another process`)
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw fail(`--host: cannot listen on ${config.host}: ${code}`)
    if (code === 'EACCES') throw fail(`--port: not allowed to listen on ${config.host}:${config.port}`)
    throw error
  }

  log(`dwcp node ${config.id} (${config.region}) listening on ${server.url}${config.dev ? ' (dev: fault switch on)' : ''}`)

  const stopped = new Promise<string>((resolve) => {
    const onSignal = (name: string) => resolve(name)
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    if (options.exitWithStdin === true) {
      process.stdin.on('data', () => {})
      process.stdin.once('end', () => resolve('stdin closed'))
      process.stdin.once('close', () => resolve('stdin closed'))
      process.stdin.resume()
    }
  })
  const reason = await stopped

  log(`dwcp node ${config.id}: stopping (${reason})`)
  const forced = setTimeout(() => {
    process.stderr.write(`dwcp node ${config.id}: shutdown took more than ${nodeMainLimits.shutdownMs} ms; exiting\n`)
    process.exit(options.shutdownTimeoutExitCode)
  }, nodeMainLimits.shutdownMs)
  forced.unref()

  draining = true
  const left = await drain(runtime)
  if (left > 0) process.stderr.write(`dwcp node ${config.id}: ${left} call(s) still in flight after ${nodeMainLimits.inFlightDrainMs} ms; closing anyway\n`)
  // The others mark this node left, instead of suspecting it and declaring it dead.
  const leave = await runtime.leave()
  if (leave.kind === 'unsent') process.stderr.write(`dwcp node ${config.id}: the leave still waited to be sent after ${nodeRuntimeLimits.leaveWaitMsMax} ms (${leave.frames} frame(s), ${leave.socketBytes} socket bytes); closing anyway\n`)
  if (leave.kind === 'refused') process.stderr.write(`dwcp node ${config.id}: could not leave the cluster: ${leave.refusal.code}: ${leave.refusal.message}\n`)
  await server.close()
  await runtime.close()
  clearTimeout(forced)
  if (options.exitWithStdin === true) process.stdin.pause()
  log(`dwcp node ${config.id}: stopped`)
}

/**
 * The API behind a gate: once `draining()`, new requests are refused at once
 * (503 shuttingDown) while the ones already inside finish. Every other request
 * is handed to the API app whole, so its own answers hold (a JSON 404
 * unknownRoute, its error handler), which mounting it with route() would lose.
 */
export function drainableApp(api: Hono, id: string, draining: () => boolean): Hono {
  const app = new Hono()
  app.all('*', (c) => {
    if (draining()) {
      const refusal = apiError('shuttingDown', `${id} is shutting down; ask another node`)
      return c.json(refusal.body, refusal.status, refusal.headers)
    }
    return api.fetch(c.req.raw, c.env)
  })
  return app
}

/** Waits until no client call is in flight, or inFlightDrainMs; returns how many are left. */
async function drain(runtime: NodeRuntime): Promise<number> {
  const deadline = performance.now() + nodeMainLimits.inFlightDrainMs
  for (;;) {
    const inFlight = runtime.host.kernel.status().inFlight
    if (inFlight === 0 || performance.now() >= deadline) return inFlight
    await new Promise((resolve) => setTimeout(resolve, nodeMainLimits.drainPollMs))
  }
}
