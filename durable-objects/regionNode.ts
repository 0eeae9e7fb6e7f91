/**
 * One region's replica inside its Durable Object, without the object's
 * entry points: SQLite storage, the replica hosted through ReplicaHost,
 * peer frames over RPC to the other region objects and over the sockets
 * node processes dialed (nodePeers.ts), and one alarm as the tick source.
 * regionObject.ts wires the object's handlers (RPC `deliver`, `alarm`,
 * `fetch`, peer sockets) to it; node/nodeRuntime.ts is its twin on a node.
 *
 * The kernel sleeps between the ticks that have work (sleepWhenIdle): after
 * every input (a delivery, an alarm, a client call) the alarm is moved to the
 * kernel's next deadline, the next tick with work, mapped to wall time, and
 * the frames sent during the drive leave (one RPC per peer, `settle()`). The
 * alarm is set only when that time changes; `alarmFired()` forgets the one
 * that just ran, so it is set again.
 */
import { bootstrapConfiguration, plainMember, Replica, replicaCodec, Rng, type NodeId, type ProberConfig, type ReplicaConfig, type ReplicaMessage } from '../core/index.ts'
import { messageIdStartOf, PeerFrames } from '../host/peerFrames.ts'
import { isConfigurationChange, ReplicaHost } from '../host/replicaHost.ts'
import type { EdgeCluster, EdgeRegion } from './edgeCluster.ts'
import { PeerOutbox, type PeerDelivery } from './peerOutbox.ts'
import { NodePeers } from './nodePeers.ts'
import type { RegionKeys } from './regionKeys.ts'
import { SqlStorage } from './sqlStorage.ts'
import { WallMonotonic } from './wallMonotonic.ts'

export const regionNodeLimits = {
  /** Frames in one `deliver` call a region object takes; more is a sender's bug, refused whole. */
  framesPerDeliveryMax: 4_096,
} as const

export interface RegionNodeOptions {
  readonly cluster: EdgeCluster
  readonly region: EdgeRegion
  readonly ctx: DurableObjectState
  readonly keys: RegionKeys
  /** The cluster secret's bytes: node peers prove it in their hello. */
  readonly secret: Uint8Array
  /** A stub to another region's object. */
  readonly connect: (region: EdgeRegion) => PeerDelivery
  /** Sets the object's one alarm (wall-clock ms). */
  readonly setAlarm: (wallMs: number) => void
  readonly replicaConfig?: Partial<ReplicaConfig>
  /** Link probes (the prober's interval and timeout). */
  readonly proberConfig?: Partial<ProberConfig>
  readonly onPeerError?: (peer: NodeId, error: unknown) => void
}

/** How frames from a peer went: frames whose message was stepped, kept as chunks, or refused by PeerFrames or the replica. */
export interface StepOutcome {
  readonly messages: number
  readonly partial: number
  readonly refused: number
}

/** How one `deliver` call went, and the frames this object answers the caller with (what the delivery made it send back). */
export interface DeliveryOutcome extends StepOutcome {
  readonly answer: Uint8Array[]
}

export class RegionDeliveryError extends Error {
  override readonly name = 'RegionDeliveryError'
}

export class RegionNode {
  readonly region: EdgeRegion
  readonly host: ReplicaHost
  readonly frames: PeerFrames<ReplicaMessage>
  readonly outbox: PeerOutbox
  /** Node processes that joined the edge cluster, over the sockets they dialed. */
  readonly nodePeers: NodePeers
  readonly storage: SqlStorage
  readonly monotonic = new WallMonotonic()
  private readonly members: ReadonlySet<NodeId>
  private readonly setAlarm: (wallMs: number) => void
  private alarmWallMs: number | null = null
  /** Alarms this life of the object ran (a viewer's "wakes"). */
  alarmsRun = 0
  /** `deliver` calls this life of the object took (wakes by peers). */
  deliveriesTaken = 0
  /** Peer messages stepped this life of the object. */
  messagesStepped = 0

  constructor(options: RegionNodeOptions) {
    const { cluster, region, keys } = options
    this.region = region
    this.setAlarm = options.setAlarm
    this.members = new Set(cluster.regions.map((r) => r.member))
    this.storage = new SqlStorage(options.ctx.storage)
    const replica = new Replica({
      id: region.member,
      configuration: bootstrapConfiguration({
        members: cluster.regions.map((r) => plainMember(r.member, r.id, keys.publicKeys.get(r.member))),
        raftVoters: cluster.raftVoters,
        pbftReplicas: cluster.pbft,
      }),
      signer: cluster.pbft.includes(region.member) ? keys.signer : null,
      storage: this.storage,
      rng: Rng.fromSeed(randomSeed()),
      clock: { nowMs: () => Date.now() },
      policies: cluster.policies,
      config: options.replicaConfig,
      prober: options.proberConfig,
    })
    this.frames = new PeerFrames<ReplicaMessage>({ codec: replicaCodec, clusterId: cluster.clusterId, self: region.member, messageIdStart: messageIdStartOf(replica.boot) })
    const byMember = new Map(cluster.regions.map((r) => [r.member, r]))
    this.outbox = new PeerOutbox({
      self: region.member,
      connect: (peer) => {
        const target = byMember.get(peer)
        return target === undefined ? null : options.connect(target)
      },
      onError: options.onPeerError,
      // A peer's answer is its frames for this object: stepped like a delivery (they passed the same output gate there).
      onAnswer: (peer, frames) => {
        if (this.members.has(peer) && peer !== this.region.member) this.receive(peer, frames)
      },
    })
    const members = this.members
    this.nodePeers = new NodePeers({
      ctx: options.ctx,
      clusterId: cluster.clusterId,
      self: region.member,
      signer: keys.signer,
      secret: options.secret,
      nodeKeyOf: (id) => {
        if (members.has(id)) return null
        const member = replica.configuration().members.find((m) => m.id === id)
        return member !== undefined && member.publicKey.length === 32 ? member.publicKey : null
      },
      onFrames: (from, frames) => this.receive(from, frames),
    })
    const { frames, outbox, nodePeers } = this
    this.host = new ReplicaHost({
      replica,
      storage: this.storage,
      transport: {
        // Region objects over RPC; any other member is a node process, over the socket it dialed.
        send: (to, message) => {
          if (members.has(to)) for (const frame of frames.encode(to, message)) outbox.add(to, frame)
          else for (const frame of frames.encode(to, message)) nodePeers.send(to, frame)
        },
      },
      // A node removed by a configuration loses its socket.
      onReady: (ready) => {
        if (ready.events.some(isConfigurationChange)) nodePeers.setMembers()
      },
      monotonic: this.monotonic,
      // One alarm at the next tick with work, not every tick: an idle region object sleeps.
      sleepWhenIdle: true,
      // Any input (an API call too, which reaches the host without passing here) may move the deadline.
      onInput: () => this.armAlarm(),
    })
    // The replica's recovery Ready (boot record, first messages) ran in the constructor: send it and arm the first alarm.
    this.settle()
  }

  /**
   * Frames from the region object `from`. The RPC binding is the link's
   * authentication: only this Worker's code holds the namespace, and `from`
   * must be a region member; each frame is still checked (cluster, sender,
   * destination, shape) by PeerFrames before the replica sees it.
   */
  deliver(from: NodeId, frames: readonly Uint8Array[]): DeliveryOutcome {
    if (!this.members.has(from) || from === this.region.member) throw new RegionDeliveryError(`frames from ${from}, which is not another region of this cluster`)
    if (frames.length > regionNodeLimits.framesPerDeliveryMax) throw new RegionDeliveryError(`${frames.length} frames in one delivery; framesPerDeliveryMax is ${regionNodeLimits.framesPerDeliveryMax}`)
    this.deliveriesTaken++
    const outcome = this.step(from, frames)
    // What the frames made this object send the caller rides back in the answer: one call for a probe and its answer, not two.
    const answer = this.outbox.take(from)
    this.settle()
    return { ...outcome, answer }
  }

  /** Frames from an authenticated peer (a node's batch, a delivery's answer), stepped; then what they made leaves. */
  receive(from: NodeId, frames: readonly Uint8Array[]): StepOutcome {
    const outcome = this.step(from, frames)
    this.settle()
    return outcome
  }

  /** Each frame checked by PeerFrames, then stepped. */
  private step(from: NodeId, frames: readonly Uint8Array[]): StepOutcome {
    let messages = 0
    let partial = 0
    let refused = 0
    for (const frame of frames) {
      if (!(frame instanceof Uint8Array)) {
        refused++
        continue
      }
      const result = this.frames.receive(from, frame)
      if (result.kind === 'message') {
        if (this.host.step(result.from, result.message) === null) messages++
        else refused++
      } else if (result.kind === 'partial') partial++
      else refused++
    }
    this.messagesStepped += messages
    return { messages, partial, refused }
  }

  /** The alarm ran: the ticks due now. */
  alarmFired(): number {
    this.alarmWallMs = null
    this.alarmsRun++
    const ticks = this.host.tick()
    this.settle()
    return ticks
  }

  /** After any input: frames out, alarm at the next deadline. */
  settle(): void {
    this.outbox.flush()
    this.nodePeers.flush()
    this.armAlarm()
  }

  /** The alarm at the kernel's next deadline (the next tick with work), set only when that moved. */
  armAlarm(): void {
    const wallMs = this.monotonic.wallTimeOf(this.host.nextDeadlineMs())
    if (wallMs === this.alarmWallMs) return
    this.alarmWallMs = wallMs
    this.setAlarm(wallMs)
  }
}

/** A fresh seed per life of the object: lives never share random streams. */
function randomSeed(): number {
  const bytes = crypto.getRandomValues(new Uint8Array(6))
  return bytes.reduce((seed, byte) => seed * 256 + byte, 0)
}
