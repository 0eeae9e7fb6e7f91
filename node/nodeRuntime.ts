/**
 * One node without HTTP: its data dir (locked; node.key), SQLite storage,
 * the replica hosted through ReplicaHost, peer frames on peer links, and the
 * timers that drive it. The HTTP server (node/httpServer.ts) serves the API
 * over `host` and hands `/v1/peer` upgrades to `acceptPeer`.
 *
 * Ports: wall clock Date.now (the HLC), monotonic performance.now (ticks),
 * an Rng seeded from crypto randomness at each start, the node key as the
 * PBFT signer. A timer runs `host.tick()` at `host.nextDeadlineMs()` (the
 * next tick with work: the kernel sleeps while the replica is idle); frames
 * sent during any drive (tick, peer message, client call) leave in one batch
 * per peer when the current I/O callbacks are done. Storage syncs are grouped
 * the same way (node/groupCommit.ts): one commit before those frames leave,
 * and the API answers calls after `durable()`.
 */
import { randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { Replica, replicaCodec, Rng, type ClusterConfiguration, type MemberMeta, type NodeId, type Policy, type Refusal, type ReplicaConfig, type ReplicaMessage } from '../core/index.ts'
import type { FaultControl } from '../host/faults.ts'
import { messageIdStartOf, PeerFrames } from '../host/peerFrames.ts'
import { isConfigurationChange, ReplicaHost } from '../host/replicaHost.ts'
import { bootstrapConfigurationOf, type ClusterConfig } from './clusterConfig.ts'
import { openDataDir, readNodePublicKey, type DataDir } from './dataDir.ts'
import { GroupCommit } from './groupCommit.ts'
import { FaultSwitch } from './peer/faultSwitch.ts'
import type { PeerLinkLimits } from './peer/limits.ts'
import type { WanLatency } from './peer/wanLatency.ts'
import { edgePeerUrl, PeerLinks, type PeerMember, type PeerTls } from './peerLinks.ts'

/**
 * Link probes of a node in an edge cluster: one per peer per second, the
 * region objects' probe interval (durable-objects/edgeReplicaConfig.ts),
 * instead of every 100 ms. Each probe (and its answer) is a message a
 * region object wakes for; at 100 ms a node alone kept every region object
 * awake ten times a second. The cost: a node's mode detector follows a link
 * change within ~3 s instead of ~300 ms.
 */
export const edgeMemberProberConfig = { probeIntervalMs: 1_000 } as const

export const nodeRuntimeLimits = {
  /** Unsynced storage writes are committed at least this often (SqliteStorage.writeBack), so what no engine syncs still reaches the disk. */
  writeBackIntervalMs: 1_000,
  /** How long `leave` waits for the news to leave the queues and sockets (a slow or dead peer must not hold a shutdown). */
  leaveWaitMsMax: 2_000,
  /** Poll of the outgoing frames while `leave` waits. */
  leavePollMs: 10,
} as const

/** How a graceful leave went: the news left for every linked peer, or still waited after leaveWaitMsMax, or the replica refused to leave. */
export type LeaveOutcome = { readonly kind: 'sent' } | { readonly kind: 'unsent'; readonly frames: number; readonly socketBytes: number } | { readonly kind: 'refused'; readonly refusal: Refusal }

/** What a node's replica boots from: the cluster id, the configuration the cluster started with (or this node was admitted with) and the starting policies. */
export interface NodeBoot {
  readonly clusterId: string
  readonly configuration: ClusterConfiguration
  readonly policies: Readonly<Record<string, Policy>>
  /** The URL a joined node joined through: members without an address (an edge cluster's region objects) are dialed through it (edgePeerUrl). */
  readonly edgeUrl?: string | null
}

export interface NodeRuntimeOptions {
  readonly id: NodeId
  /** The cluster file's configuration, or a joined node's boot (node/joinState.ts). Storage wins: the replica restarts with the configuration it last applied. */
  readonly cluster: ClusterConfig | NodeBoot
  /** The data dir: it must hold the member's node key already (made with the cluster file, as by dwcp up, or before joining); nothing is made in a wrong one. */
  readonly dataDir: string
  /** The cluster secret (from --secret-file or DWCP_CLUSTER_SECRET), or null. */
  readonly secret: string | null
  readonly tls?: PeerTls | null
  readonly wanLatency?: WanLatency | null
  /** --dev: the fault switch is exposed (`faults`). */
  readonly dev?: boolean
  /** Replica settings over the defaults (tests shorten timeouts). */
  readonly replicaConfig?: Partial<ReplicaConfig>
  readonly linkLimits?: Partial<PeerLinkLimits>
  /** The region, address and tags gossip announces of this node (its settings); by default its configuration member's. */
  readonly gossipMeta?: MemberMeta
  /** Called once when a configuration without this node applies here (it was removed, or left): the host stops it. */
  readonly onRemoved?: (version: number) => void
}

export class NodeRuntimeError extends Error {
  override readonly name = 'NodeRuntimeError'
}

export class NodeRuntime {
  readonly id: NodeId
  readonly clusterId: string
  /** The edge Worker URL region objects are reached through (NodeBoot.edgeUrl), or null. */
  readonly edgeUrl: string | null
  /** The policies the replica started with (a joiner gets them in its join answer). */
  readonly policies: Readonly<Record<string, Policy>>
  readonly host: ReplicaHost
  readonly links: PeerLinks
  readonly frames: PeerFrames<ReplicaMessage>
  /** The dev fault switch, null without --dev. */
  readonly faults: FaultControl | null
  readonly dataDir: DataDir
  /** The storage syncs of one event-loop turn, committed together. */
  readonly groupCommit: GroupCommit
  private readonly faultSwitch: FaultSwitch
  private tickTimer: ReturnType<typeof setTimeout> | null = null
  /** The kernel deadline the tick timer is set for. */
  private tickTimerAtMs = Number.NaN
  private readonly writeBackTimer: ReturnType<typeof setInterval>
  private closed = false

  /** Opens the node (data dir, storage, replica) and starts its links and ticks; throws a clear error when it cannot. */
  static open(options: NodeRuntimeOptions): NodeRuntime {
    return new NodeRuntime(options)
  }

  private constructor(options: NodeRuntimeOptions) {
    const { id } = options
    const boot = bootOf(options.cluster)
    const edgeUrl = boot.edgeUrl ?? null
    this.edgeUrl = edgeUrl
    const member = boot.configuration.members.find((candidate) => candidate.id === id)
    if (member === undefined) throw new NodeRuntimeError(`${id} is not a member of cluster ${boot.clusterId} (members: ${boot.configuration.members.map((m) => m.id).join(', ')})`)
    if (options.secret === '') throw new NodeRuntimeError('the cluster secret is empty: give a secret, or none')
    this.id = id
    this.clusterId = boot.clusterId
    this.policies = boot.policies
    // Checked before the data dir is opened: opening makes the dir and a new key, which a wrong --data must not leave behind.
    const publicKey = readNodePublicKey(options.dataDir)
    if (publicKey === null) throw new NodeRuntimeError(`${options.dataDir} holds no node key: not ${id}'s data dir (its key is made with the cluster file, e.g. by dwcp up)`)
    if (!sameBytes(publicKey, member.publicKey)) throw wrongKey(options.dataDir, id)
    const dataDir = openDataDir(options.dataDir)
    try {
      // The key read above, unless the dir changed in between.
      if (!sameBytes(dataDir.signer.publicKey, member.publicKey)) throw wrongKey(options.dataDir, id)
      const storage = dataDir.storage
      const groupCommit = new GroupCommit(() => storage.commitNow())
      this.groupCommit = groupCommit
      storage.onSyncRequested = () => groupCommit.requested()
      const replica = new Replica({
        id,
        configuration: boot.configuration,
        // Every node signs with its key: a node may enter the PBFT group by a later configuration.
        signer: dataDir.signer,
        storage,
        rng: Rng.fromSeed(randomSeed()),
        clock: { nowMs: () => Date.now() },
        policies: boot.policies,
        config: options.replicaConfig,
        // In an edge cluster every probe to a region object wakes it: probe at its pace, not a datacenter's.
        ...(edgeUrl === null ? {} : { prober: edgeMemberProberConfig }),
        ...(options.gossipMeta === undefined ? {} : { gossipMeta: options.gossipMeta }),
      })
      // Storage wins: a node that applied a later configuration than it boots from restarts with that one.
      const applied = replica.configuration()
      if (applied.members.find((m) => m.id === id) === undefined) {
        throw new NodeRuntimeError(`${id} was removed from cluster ${boot.clusterId} (configuration version ${applied.version}); to join it again, start with an empty --data and --join`)
      }
      this.frames = new PeerFrames<ReplicaMessage>({ codec: replicaCodec, clusterId: boot.clusterId, self: id, messageIdStart: messageIdStartOf(replica.boot) })
      this.faultSwitch = new FaultSwitch()
      this.faults = options.dev === true ? this.faultSwitch : null
      this.links = new PeerLinks({
        self: id,
        clusterId: boot.clusterId,
        members: peerMembersOf(applied, edgeUrl),
        signer: dataDir.signer,
        secret: options.secret === null ? null : new TextEncoder().encode(options.secret),
        tls: options.tls ?? null,
        wanLatency: options.wanLatency ?? null,
        faults: this.faultSwitch,
        limits: options.linkLimits,
        onFrame: (from, frame) => this.onFrame(from, frame),
        beforeSend: () => groupCommit.flush(),
      })
      const { frames, links } = this
      let removed = false
      this.host = new ReplicaHost({
        replica,
        storage,
        transport: {
          send: (to, message) => {
            for (const frame of frames.encode(to, message)) links.send(to, frame)
          },
        },
        monotonic: { nowMs: () => performance.now() },
        // The links follow each configuration from the Ready that applies it: a new member's hello is accepted, a removed one's link closed.
        onReady: (ready) => {
          if (!ready.events.some(isConfigurationChange)) return
          const configuration = replica.configuration()
          links.setMembers(peerMembersOf(configuration, edgeUrl))
          if (!removed && !configuration.members.some((m) => m.id === id)) {
            removed = true
            options.onRemoved?.(configuration.version)
          }
        },
        // Wake only at ticks with work: an idle node does not spin every tick.
        sleepWhenIdle: true,
        onInput: () => this.scheduleTick(),
      })
    } catch (error) {
      dataDir.storage.close()
      throw error
    }
    this.dataDir = dataDir
    this.faultSwitch.onChange(() => this.scheduleTick())
    this.writeBackTimer = setInterval(() => this.dataDir.storage.writeBack(), nodeRuntimeLimits.writeBackIntervalMs)
    this.links.start()
    this.scheduleTick()
  }

  /** Resolves once every storage sync asked for so far is done (null: none waits): replies to clients wait for it. */
  durable(): Promise<void> | null {
    return this.groupCommit.durable()
  }

  /** A `/v1/peer` WebSocket upgrade from the HTTP server. */
  acceptPeer(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.links.accept(request, socket, head)
  }

  /**
   * Leaves the cluster gracefully before a planned shutdown: the replica
   * leaves (the others mark this node `left`, not suspect and then dead), its
   * frames are flushed, and this waits until they are out of the queues and
   * socket buffers of the linked peers, at most leaveWaitMsMax. Call `close` after.
   */
  async leave(): Promise<LeaveOutcome> {
    if (this.closed) throw new NodeRuntimeError(`${this.id} is closed: leave before close`)
    const refusal = this.host.leave()
    if (refusal !== null) return { kind: 'refused', refusal }
    this.links.flush()
    const deadlineMs = performance.now() + nodeRuntimeLimits.leaveWaitMsMax
    for (;;) {
      const outgoing = this.links.outgoing()
      if (outgoing.frames === 0 && outgoing.socketBytes === 0) return { kind: 'sent' }
      if (this.closed || performance.now() >= deadlineMs) return { kind: 'unsent', ...outgoing }
      await new Promise((resolve) => setTimeout(resolve, nodeRuntimeLimits.leavePollMs))
    }
  }

  /**
   * Removes this node from the cluster's configuration (`memberRemove` of
   * itself, through the Raft leader): resolves once it applied here, or with
   * the refusal (the last voter, or below quorum). Stop the node after.
   */
  async removeSelf(): Promise<{ readonly kind: 'removed'; readonly version: number } | { readonly kind: 'refused'; readonly code: string; readonly message: string }> {
    if (this.closed) throw new NodeRuntimeError(`${this.id} is closed`)
    const outcome = await this.host.call({ type: 'memberRemove', id: this.id })
    await this.durable()
    if (outcome.kind === 'refused') return { kind: 'refused', code: outcome.refusal.code, message: outcome.refusal.message }
    if (!outcome.reply.ok) return { kind: 'refused', code: outcome.reply.code, message: outcome.reply.message }
    return { kind: 'removed', version: this.host.replica.configuration().version }
  }

  /** Stops the timers, closes the links, commits and closes storage (releasing the data dir). */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.tickTimer !== null) clearTimeout(this.tickTimer)
    this.tickTimer = null
    clearInterval(this.writeBackTimer)
    // What waits is committed now; any later sync commits at once, until storage closes.
    this.groupCommit.flush()
    this.dataDir.storage.onSyncRequested = null
    await this.links.close()
    this.dataDir.storage.close()
  }

  private onFrame(from: NodeId, frame: Uint8Array): void {
    if (this.closed) return
    const result = this.frames.receive(from, frame)
    if (result.kind === 'message') this.host.step(result.from, result.message)
  }

  /** (Re)sets the tick timer at the kernel's next deadline; after every input, as the deadline moves with it. */
  private scheduleTick(): void {
    // Paused (dev fault switch): no ticks until resumed; the resume runs the missed ones (up to the kernel's catch-up bound).
    const deadlineMs = this.closed || this.faultSwitch.paused ? Number.NaN : this.host.nextDeadlineMs()
    if (this.tickTimer !== null && deadlineMs === this.tickTimerAtMs) return
    if (this.tickTimer !== null) clearTimeout(this.tickTimer)
    this.tickTimer = null
    if (Number.isNaN(deadlineMs)) return
    this.tickTimerAtMs = deadlineMs
    this.tickTimer = setTimeout(() => this.onTickTimer(), Math.max(0, deadlineMs - performance.now()))
  }

  private onTickTimer(): void {
    this.tickTimer = null
    if (this.closed) return
    this.host.tick()
    this.links.flush()
    this.scheduleTick()
  }
}

/** A cluster file's configuration as a boot, or the boot itself. */
function bootOf(cluster: ClusterConfig | NodeBoot): NodeBoot {
  if ('configuration' in cluster) return cluster
  return { clusterId: cluster.clusterId, configuration: bootstrapConfigurationOf(cluster), policies: cluster.policies }
}

/** The members peer links dial: every member of `configuration` with a key and an address, or, without one, a region object reached through `edgeUrl`. */
function peerMembersOf(configuration: ClusterConfiguration, edgeUrl: string | null): PeerMember[] {
  const peers: PeerMember[] = []
  for (const m of configuration.members) {
    if (m.publicKey.length !== 32) continue
    const url = m.address !== '' ? m.address : edgeUrl === null ? null : edgePeerUrl(edgeUrl, m.region)
    if (url !== null) peers.push({ id: m.id, region: m.region, url, publicKey: m.publicKey })
  }
  return peers
}

function wrongKey(dataDir: string, id: NodeId): NodeRuntimeError {
  return new NodeRuntimeError(`the node key in ${dataDir} is not ${id}'s public key in the cluster file: wrong data dir, or the cluster file is out of date`)
}

/** A fresh seed per start: nodes and lives never share random streams. */
function randomSeed(): number {
  return randomBytes(6).readUIntBE(0, 6)
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index])
}
