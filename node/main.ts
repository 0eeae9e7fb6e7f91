/**
 * `dwcp node`: one node as a process. Composes the node runtime (data dir,
 * storage, replica, peer links, timers) and the HTTP server (the API app,
 * WebSockets, /v1/peer upgrades to the peer links), prints one line when it
 * listens, and on SIGINT/SIGTERM shuts down in order: refuse new requests
 * (503 shuttingDown), let the calls in flight finish (at most
 * `inFlightDrainMs`), with --leave-on-shutdown remove itself from the
 * configuration, leave gossip (the others mark it left, not dead), close the
 * server, then the runtime (links, storage, the data dir's lock), and exit 0.
 * `dwcp member leave` (POST /v1/cluster/leave) removes the node and then
 * stops it the same way.
 *
 * With --join, a node without a configuration of its own first asks a member
 * to admit it (node/join.ts) and keeps the answer in its data dir
 * (node/joinState.ts); every later start boots from that, never joining twice.
 */
import { Hono } from 'hono'
import { createApi } from '../api/app.ts'
import { apiError } from '../api/errors.ts'
import type { NodeConfig } from './config.ts'
import { createServer } from 'node:net'
import { join } from 'node:path'
import type { ClusterConfig } from './clusterConfig.ts'
import { DataDirError, openDataDir } from './dataDir.ts'
import { JoinError, joinCluster } from './join.ts'
import { edgeUrlOf, JoinStateError, joinStateFile, readJoinState, writeJoinState } from './joinState.ts'
import { nodeMembershipPort } from './membershipPort.ts'
import { startHttpServer, type HttpServer } from './httpServer.ts'
import { interRegionLatency } from './peer/wanLatency.ts'
import { NodeRuntime, NodeRuntimeError, nodeRuntimeLimits, type NodeBoot } from './nodeRuntime.ts'
import { DataDirLockedError } from './sqliteStorage.ts'

export const nodeMainLimits = {
  /** How long a stopping node waits for client calls in flight to be answered. */
  inFlightDrainMs: 5_000,
  /** Poll of the in-flight count while draining. */
  drainPollMs: 20,
  /** The whole shutdown: past it the process exits anyway (with the code for a failure). */
  shutdownMs: 15_000,
  /** --leave-on-shutdown: the removal of this node waits at most this long (a Raft commit; the replica's own timeout is shorter). */
  removeSelfWaitMs: 8_000,
  /** After answering `dwcp member leave`, the stop waits this long so the answer leaves first. */
  leaveAnswerMs: 100,
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

  let boot: ClusterConfig | NodeBoot
  try {
    boot = config.cluster ?? (await bootByJoin(config, log))
  } catch (error) {
    if (error instanceof JoinError || error instanceof JoinStateError || error instanceof DataDirError) throw fail(error.message)
    if (error instanceof DataDirLockedError) throw fail(`--data: ${config.dataDir} is in use by another running node (stop it first, or choose another --data)`)
    throw error
  }

  // A stop asked for before the signal handlers are in place (a removal applied while the server starts) is kept for them.
  let earlyStop: string | null = null
  let requestStop: (reason: string) => void = (reason) => (earlyStop ??= reason)
  let leftByRequest = false
  let runtime: NodeRuntime
  try {
    runtime = NodeRuntime.open({
      id: config.id,
      cluster: boot,
      ...(config.deadVoterRemoveMs === null ? {} : { replicaConfig: { deadVoterRemoveMs: config.deadVoterRemoveMs } }),
      // Removed (dwcp member remove, autopilot, its own leave): a node outside the configuration serves nothing true any more.
      onRemoved: (version) => {
        leftByRequest = true
        setTimeout(() => requestStop(`removed from the cluster by configuration version ${version}`), nodeMainLimits.leaveAnswerMs)
      },
      dataDir: config.dataDir,
      secret: config.clusterSecret,
      tls: config.tls,
      wanLatency: config.wanLatencyMs > 0 ? interRegionLatency(config.wanLatencyMs) : null,
      dev: config.dev,
      // What gossip announces of this node: its settings now (--tags may change across restarts; the configuration keeps its join's).
      gossipMeta: { region: config.region, address: config.advertise, tags: config.tags },
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
        const membership = nodeMembershipPort({
          clusterId: runtime.clusterId,
          policies: runtime.policies,
          signer: runtime.dataDir.signer,
          secret: config.clusterSecret === null ? null : new TextEncoder().encode(config.clusterSecret),
          edgeUrl: runtime.edgeUrl,
          stopAfterLeave: () => {
            leftByRequest = true
            setTimeout(() => requestStop('left the cluster: dwcp member leave'), nodeMainLimits.leaveAnswerMs)
          },
        })
        const api = createApi({ backend: { host: runtime.host, faults: runtime.faults, frames: runtime.frames, links: runtime.links, durable: () => runtime.durable(), membership }, tokens: config.tokens, ...ports })
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
    if (earlyStop !== null) resolve(earlyStop)
    requestStop = resolve
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
  if (config.leaveOnShutdown && !leftByRequest) {
    const removal = await Promise.race([runtime.removeSelf(), new Promise<null>((resolve) => setTimeout(() => resolve(null), nodeMainLimits.removeSelfWaitMs).unref())])
    if (removal === null) process.stderr.write(`dwcp node ${config.id}: --leave-on-shutdown: the removal did not apply within ${nodeMainLimits.removeSelfWaitMs} ms; stopping as a member\n`)
    else if (removal.kind === 'refused') process.stderr.write(`dwcp node ${config.id}: --leave-on-shutdown: the cluster refused the removal: ${removal.code}: ${removal.message}; stopping as a member\n`)
    else log(`dwcp node ${config.id}: removed from the cluster (configuration version ${removal.version})`)
  }
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
 * The boot of a node started with --join: its data dir's join state when it
 * joined before (a restart never joins twice), else a join through the
 * members named, whose answer is kept in the data dir before the replica
 * first starts. Makes the node key on the first start.
 */
async function bootByJoin(config: NodeConfig, log: (line: string) => void): Promise<NodeBoot> {
  const dataDir = openDataDir(config.dataDir)
  const signer = dataDir.signer
  dataDir.storage.close()
  const joined = readJoinState(config.dataDir)
  if (joined !== null) {
    if (joined.configuration.members.find((member) => member.id === config.id) === undefined) throw new NodeStartError(`--id: ${config.dataDir} holds the join of another node than ${config.id}`)
    log(`dwcp node ${config.id}: a member of cluster ${joined.clusterId} since its join (${join(config.dataDir, joinStateFile)}); --join is not used again`)
    return { ...joined, edgeUrl: edgeUrlOf(joined, joined.joinedVia) }
  }
  if (!(await portFree(config.host, config.port))) throw new NodeStartError(`--port: ${config.host}:${config.port} is in use by another process`)
  log(`dwcp node ${config.id}: joining through ${config.join!.join(', ')} as ${config.advertise} (${config.region})`)
  const result = await joinCluster({
    urls: config.join!,
    id: config.id,
    region: config.region,
    url: config.advertise,
    tags: config.tags,
    signer,
    secret: config.clusterSecret === null ? null : new TextEncoder().encode(config.clusterSecret),
    token: config.tokens.write,
    log,
  })
  writeJoinState(config.dataDir, result, result.via)
  const self = result.configuration
  log(`dwcp node ${config.id}: joined cluster ${result.clusterId} through ${result.via} (configuration version ${self.version}: voters ${self.raftVoters.join(',')}; learners ${self.raftLearners.join(',')})`)
  return { ...result, edgeUrl: edgeUrlOf(result, result.via) }
}

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, host, () => server.close(() => resolve(true)))
  })
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
