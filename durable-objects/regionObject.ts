/**
 * The region object: a Durable Object hosting one region's replica
 * (regionNode.ts), named `region:<id>` and created with the region's
 * location hint. Its entry points:
 *
 * - constructor: rebuilds the replica from SQLite under
 *   `blockConcurrencyWhile` (no event reaches the object before it is whole),
 *   after deriving its Ed25519 key from the cluster secret (regionKeys.ts);
 * - `deliver(from, frames)` (RPC): peer frames from another region object;
 * - `alarm()`: the tick source, one alarm at the kernel's next deadline;
 * - `fetch(request)`: the HTTP API (api/, createApi) over the hosted
 *   replica, the same app a node serves; the Worker forwards the client's
 *   request here. Its WebSockets (/v1/events, /v1/docs/:name) are
 *   hibernatable (objectSockets.ts): an object with open viewers or
 *   document clients still sleeps, and when it wakes the constructor resumes
 *   each socket's session from the session kept with the socket;
 * - `fetch` of `/v1/peer`: a node process that joined the edge cluster
 *   (`dwcp node --join https://<worker>`, through the API's join routes with
 *   this object's membership port) dials its peer link here: a
 *   hibernatable socket too (nodePeers.ts);
 * - `webSocketMessage`, `webSocketClose`, `webSocketError`: those sockets,
 *   each to its owner by its tag.
 *
 * A configuration or key problem does not crash the object: it answers every
 * request with a 503 that names the problem, and sets no alarm.
 */
import { DurableObject } from 'cloudflare:workers'
import type { Hono } from 'hono'
import { createApiServer } from '../api/app.ts'
import type { HostSnapshot } from '../host/replicaHost.ts'
import { readEdgeCluster, type EdgeCluster, type EdgeClusterVars, type EdgeRegion } from './edgeCluster.ts'
import { edgeProberConfig, edgeReplicaConfig, edgeTickMs } from './edgeReplicaConfig.ts'
import { nodeMembershipPort } from '../node/membershipPort.ts'
import { peerPath } from '../node/peer/wire.ts'
import { ObjectSockets } from './objectSockets.ts'
import type { PeerDelivery } from './peerOutbox.ts'
import { regionKeys } from './regionKeys.ts'
import { RegionNode, type DeliveryOutcome } from './regionNode.ts'

/** The Worker's bindings, vars and secrets (wrangler.toml; secrets with `wrangler secret put`). */
export interface EdgeEnv extends EdgeClusterVars {
  readonly REGION: DurableObjectNamespace<RegionObject>
  /** Milliseconds per tick (edgeReplicaConfig.ts), 100 by default. */
  readonly DWCP_TICK_MS?: string
  /** Secret: the region objects' Ed25519 keys are derived from it. */
  readonly DWCP_CLUSTER_SECRET?: string
  /** Secret: the write token (everything); unset, writes are open. */
  readonly DWCP_TOKEN?: string
  /** Secret: the read token (GETs, viewers); unset, reads are open. */
  readonly DWCP_VIEWER_TOKEN?: string
}

/** What `wakeCounters` returns. */
export interface WakeCounters {
  readonly alarmsRun: number
  readonly deliveriesTaken: number
  readonly messagesStepped: number
  readonly ticksRun: number
  readonly ticksSkipped: number
  readonly tickMs: number
  /** WebSockets whose session this life of the object resumed after a wake (hibernation). */
  readonly socketsResumed: number
  /** WebSockets whose session runs in this life of the object. */
  readonly socketsRunning: number
  /** Node processes with a peer socket to this object now. */
  readonly nodePeers: readonly string[]
  /** Node peer sockets this life of the object found again after a wake. */
  readonly nodePeersResumed: number
  /** WebSocket messages from node peers this life of the object took (wakes by nodes). */
  readonly nodeMessagesIn: number
}

export class RegionObjectError extends Error {
  override readonly name = 'RegionObjectError'
}

export class RegionObject extends DurableObject<EdgeEnv> {
  private node: RegionNode | null = null
  private api: Hono | null = null
  private readonly sockets: ObjectSockets
  /** Why the object could not start, or null. */
  private failure: string | null = null

  constructor(ctx: DurableObjectState, env: EdgeEnv) {
    super(ctx, env)
    this.sockets = new ObjectSockets(ctx)
    void ctx.blockConcurrencyWhile(() => this.start())
  }

  /** RPC from another region object: its frames for this one. */
  async deliver(from: string, frames: Uint8Array[]): Promise<DeliveryOutcome> {
    return this.running().deliver(from, frames)
  }

  /** RPC for tests and tools: what a viewer sees of this region. */
  async snapshot(): Promise<HostSnapshot> {
    return this.running().host.snapshot()
  }

  /** RPC for tests and benches: how often this life of the object woke (alarms, peer deliveries) and ticked. */
  async wakeCounters(): Promise<WakeCounters> {
    const node = this.running()
    const ticks = node.host.kernel.status().ticks
    const nodePeers = node.nodePeers.status()
    return {
      alarmsRun: node.alarmsRun,
      deliveriesTaken: node.deliveriesTaken,
      messagesStepped: node.messagesStepped,
      ticksRun: ticks.ticksRun,
      ticksSkipped: ticks.ticksSkipped,
      tickMs: ticks.tickMs,
      socketsResumed: this.sockets.resumed,
      socketsRunning: this.sockets.sessionsRunning,
      nodePeers: nodePeers.connected,
      nodePeersResumed: nodePeers.resumed,
      nodeMessagesIn: nodePeers.messagesIn,
    }
  }

  override async alarm(): Promise<void> {
    // An object that could not start sets no alarm: it sleeps until someone asks, and is told why.
    if (this.node === null) return
    this.node.alarmFired()
  }

  override async fetch(request: Request): Promise<Response> {
    // A configuration problem is not fixed by retrying soon: no Retry-After.
    if (this.node === null || this.api === null) return Response.json({ error: { code: 'misconfigured', message: `the region object cannot start: ${this.failure ?? 'starting'}` } }, { status: 503 })
    if (new URL(request.url).pathname === peerPath) return this.node.nodePeers.accept(request)
    return this.api.fetch(request)
  }

  override async webSocketMessage(socket: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const node = this.node
    // A node's frames are stepped and settled (frames out, alarm moved) by the region node.
    if (node !== null && node.nodePeers.owns(socket)) return node.nodePeers.message(socket, message)
    this.sockets.message(socket, message)
  }

  override async webSocketClose(socket: WebSocket, code: number, reason: string, wasClean: boolean): Promise<void> {
    if (this.node !== null && this.node.nodePeers.owns(socket)) return this.node.nodePeers.closed(socket, code, reason)
    this.sockets.closed(socket, code, reason, wasClean)
  }

  override async webSocketError(socket: WebSocket, error: unknown): Promise<void> {
    if (this.node !== null && this.node.nodePeers.owns(socket)) return this.node.nodePeers.closed(socket, 1006, 'socket error')
    this.sockets.failed(socket, error)
  }

  private running(): RegionNode {
    if (this.node === null) throw new RegionObjectError(`the region object cannot start: ${this.failure ?? 'starting'}`)
    return this.node
  }

  private async start(): Promise<void> {
    try {
      const cluster = readEdgeCluster(this.env)
      const region = this.regionOf(cluster)
      const keys = await regionKeys(this.env.DWCP_CLUSTER_SECRET, cluster, region)
      // regionKeys checked that the secret is set.
      const secret = new TextEncoder().encode(this.env.DWCP_CLUSTER_SECRET!)
      const tickMs = edgeTickMs(this.env.DWCP_TICK_MS)
      const node = new RegionNode({
        cluster,
        region,
        ctx: this.ctx,
        keys,
        secret,
        connect: (peer) => this.stubOf(peer),
        setAlarm: (wallMs) => {
          this.ctx.storage.setAlarm(wallMs).catch((error: unknown) => console.error(`dwcp ${region.member}: setAlarm failed`, error))
        },
        replicaConfig: edgeReplicaConfig(tickMs),
        proberConfig: edgeProberConfig(tickMs),
        onPeerError: (peer, error) => console.warn(`dwcp ${region.member}: delivery to ${peer} failed: ${String(error)}`),
      })
      this.node = node
      // Joins (dwcp node --join https://<worker>): a region object cannot leave on request, it is the cluster.
      const membership = nodeMembershipPort({ clusterId: cluster.clusterId, policies: cluster.policies, signer: keys.signer, secret, stopAfterLeave: null })
      const server = createApiServer({
        backend: { host: node.host, clusterId: cluster.clusterId, faults: null, frames: node.frames, links: node.nodePeers, membership },
        tokens: { write: this.env.DWCP_TOKEN ?? null, read: this.env.DWCP_VIEWER_TOKEN ?? null },
        upgradeWebSocket: this.sockets.upgrade,
        onInternalError: (error) => console.error(`dwcp ${region.member}: API handler failed`, error),
      })
      this.api = server.app
      // After a wake: the sockets that stayed open while the object slept get their sessions back, and node peers their links.
      this.sockets.resume(server.sessionEvents)
      node.nodePeers.resume()
    } catch (error) {
      this.failure = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
      console.error(`dwcp region object ${this.ctx.id.toString()}: cannot start: ${this.failure}`)
    }
  }

  /** Which region this object is: the one whose name gives this object's id. */
  private regionOf(cluster: EdgeCluster): EdgeRegion {
    const region = cluster.regions.find((candidate) => this.env.REGION.idFromName(candidate.objectName).equals(this.ctx.id))
    if (region === undefined) throw new RegionObjectError(`this object is not one of the configured regions (${cluster.regions.map((r) => r.objectName).join(', ')})`)
    return region
  }

  private stubOf(region: EdgeRegion): PeerDelivery {
    return this.env.REGION.get(this.env.REGION.idFromName(region.objectName), { locationHint: region.locationHint })
  }
}
