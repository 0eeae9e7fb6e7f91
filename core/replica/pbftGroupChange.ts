/**
 * The PBFT group follows the cluster configuration (issue 18): the
 * configuration, replicated by Raft, names the group the cluster wants
 * (`pbftReplicas`, the target); the running group makes it real by its own
 * order (core/pbft/reconfiguration.ts). Raft never changes the group: a
 * target only asks the running group's replicas to approve it.
 *
 * While the applied target differs from the engine's group, each replica of
 * the running group signs its approval of (its epoch, the target) and sends
 * it to the other replicas of the group, again every approvalIntervalMs (an
 * approval may be lost; a peer's configuration may lag). A replica that holds
 * approvals of a quorum (2f+1) for the same (epoch, target) proposes the
 * reconfiguration to its engine; several may, the engine orders one and
 * refuses the others. Whether f replicas can change the group stays the
 * engine's rule: it checks the approvals again where it orders and executes.
 *
 * The target's order is by id (the configuration keeps its lists sorted), so
 * every replica signs the same bytes.
 *
 * Once the group changed, its replicas record it in the configuration
 * (`pbftRunning`, through Raft, again every approvalIntervalMs until one
 * applies): members stay members while the running group lists them, and a
 * node that joins later learns the group and its epoch from its join answer.
 */
import { quorumOf, type PbftReplica } from '../pbft/config.ts'
import type { PbftEngine } from '../pbft/engine.ts'
import { sameReplicas } from '../pbft/groupConfig.ts'
import { approveReconfiguration, approvedBytes, type PbftApproval } from '../pbft/reconfiguration.ts'
import type { NodeId, Signer } from '../ports.ts'
import type { Refusal } from '../ready.ts'
import type { ClusterConfiguration, PbftRunning } from './clusterConfiguration.ts'
import type { ReplicaContext } from './context.ts'
import type { PbftApprovalMessage } from './messages.ts'

/** How often a replica of the running group sends its approval again, and proposes again, while the target is not reached. */
export const approvalIntervalMs = 1_000

export interface PbftGroupChangeOptions {
  readonly context: ReplicaContext
  readonly engine: PbftEngine
  readonly signer: Signer
  /** The configuration applied here now. */
  readonly configuration: () => ClusterConfiguration
  /** The engine entered another group epoch (and once at start): who is in it, and whether this replica is. */
  readonly onGroup: (members: readonly NodeId[], member: boolean) => void
  /** Proposes recording the running group in the configuration (through Raft). */
  readonly record: (running: PbftRunning) => Refusal | null
}

export class PbftGroupChange {
  private readonly context: PbftGroupChangeOptions['context']
  private readonly engine: PbftEngine
  private readonly signer: Signer
  private readonly configuration: () => ClusterConfiguration
  private readonly onGroup: PbftGroupChangeOptions['onGroup']
  private readonly record: PbftGroupChangeOptions['record']
  private lastRecordMs = Number.NEGATIVE_INFINITY
  private epochSeen = -1
  /** The (epoch, target) the approvals below are for, and this replica's own approval of it. */
  private held: { readonly epoch: number; readonly target: readonly PbftReplica[]; readonly own: PbftApproval | null } | null = null
  /** By approver: at most one per replica of the running group. */
  private readonly approvals = new Map<NodeId, PbftApproval>()
  private lastRoundMs = Number.NEGATIVE_INFINITY
  private lastProposeMs = Number.NEGATIVE_INFINITY

  constructor(options: PbftGroupChangeOptions) {
    this.context = options.context
    this.engine = options.engine
    this.signer = options.signer
    this.configuration = options.configuration
    this.onGroup = options.onGroup
    this.record = options.record
    this.sync()
  }

  /** The running group's members (ids, in its order). */
  get members(): NodeId[] {
    return this.engine.groupConfig().replicas.map((replica) => replica.id)
  }

  /** Whether this replica is one of the running group. */
  get isMember(): boolean {
    return this.engine.groupConfig().replicas.some((replica) => replica.id === this.context.id)
  }

  /** Reports a new group epoch once; forgets the approvals of the last one (they can never be used again). */
  sync(): void {
    const epoch = this.engine.epoch
    if (epoch === this.epochSeen) return
    this.epochSeen = epoch
    this.held = null
    this.approvals.clear()
    this.lastRoundMs = Number.NEGATIVE_INFINITY
    this.onGroup(this.members, this.isMember)
  }

  /**
   * The target with its members' keys, in id order, when it differs from the
   * running group; null when they are the same or the target is not one a
   * group can be (a member without a key: the configuration change refuses it).
   */
  target(): PbftReplica[] | null {
    const c = this.configuration()
    if (c.pbftReplicas.length === 0) return null
    const target: PbftReplica[] = []
    for (const id of [...c.pbftReplicas].sort()) {
      const publicKey = c.members.find((member) => member.id === id)?.publicKey
      if (publicKey === undefined || publicKey.length === 0) return null
      target.push({ id, publicKey })
    }
    const running = [...this.engine.groupConfig().replicas].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    return sameReplicas(target, running) ? null : target
  }

  /** Whether the configuration records an earlier epoch than the one this replica's group runs in. */
  private get unrecorded(): boolean {
    return this.engine.epoch > (this.configuration().pbftRunning?.epoch ?? 0)
  }

  /** When `tick` next has work, on the clock: the next round while the target is not reached or the group not recorded. */
  nextWorkAtMs(): number {
    if (!this.isMember) return Number.POSITIVE_INFINITY
    const recordMs = this.unrecorded ? this.lastRecordMs + approvalIntervalMs : Number.POSITIVE_INFINITY
    return Math.min(recordMs, this.target() === null ? Number.POSITIVE_INFINITY : this.lastRoundMs + approvalIntervalMs)
  }

  tick(nowMs: number): void {
    this.sync()
    if (!this.isMember) return
    if (this.unrecorded && nowMs - this.lastRecordMs >= approvalIntervalMs) {
      this.lastRecordMs = nowMs
      const group = this.engine.groupConfig()
      // Refused while another change proposed here waits: tried again next round.
      this.record({ epoch: group.epoch, startSeq: group.startSeq, replicas: group.replicas.map((replica) => replica.id) })
    }
    if (nowMs - this.lastRoundMs < approvalIntervalMs) return
    const target = this.target()
    if (target === null) return
    this.lastRoundMs = nowMs
    const epoch = this.engine.epoch
    const own = this.holdFor(epoch, target).own ?? approveReconfiguration(this.signer, this.context.id, epoch, target)
    this.held = { epoch, target, own }
    this.approvals.set(this.context.id, own)
    const message: PbftApprovalMessage = { type: 'pbftApproval', fromEpoch: epoch, replicas: target, approval: own }
    for (const peer of this.members) if (peer !== this.context.id) this.context.send(peer, { engine: 'replica', message })
    this.proposeWhenApproved(nowMs)
  }

  /** Another replica's approval. Refused when it is not its own or does not verify; ignored when of another epoch or target than this replica's. */
  step(from: NodeId, message: PbftApprovalMessage): Refusal | null {
    this.sync()
    if (message.approval.replica !== from) return { code: 'invalidApproval', message: `${from} sent an approval signed as ${message.approval.replica}` }
    if (message.fromEpoch !== this.engine.epoch) return null // of an epoch gone or not reached here yet: useless here
    const approver = this.engine.groupConfig().replicas.find((replica) => replica.id === from)
    if (approver === undefined) return { code: 'notInGroup', message: `${from} is not a replica of the pbft group of epoch ${message.fromEpoch}` }
    if (!this.signer.verify(approver.publicKey, approvedBytes(message.fromEpoch, message.replicas), message.approval.signature)) return { code: 'invalidApproval', message: `the approval of ${from} does not verify` }
    const target = this.target()
    // Another target than the one applied here (one side's configuration lags): the sender sends it again.
    if (target === null || !sameReplicas(target, message.replicas)) return null
    this.holdFor(message.fromEpoch, target)
    this.approvals.set(from, message.approval)
    this.proposeWhenApproved(this.context.clock.nowMs())
    return null
  }

  private holdFor(epoch: number, target: readonly PbftReplica[]): NonNullable<PbftGroupChange['held']> {
    if (this.held !== null && this.held.epoch === epoch && sameReplicas(this.held.target, target)) return this.held
    this.approvals.clear()
    this.held = { epoch, target, own: null }
    return this.held
  }

  /** With approvals of a quorum of the running group: proposes the reconfiguration (once a round; `busy` while one waits for its checkpoint). */
  private proposeWhenApproved(nowMs: number): void {
    const held = this.held
    if (held === null || !this.isMember || this.approvals.size < quorumOf(this.members.length)) return
    if (nowMs - this.lastProposeMs < approvalIntervalMs) return
    this.lastProposeMs = nowMs
    const refusal = this.engine.propose({ type: 'reconfigure', reconfiguration: { fromEpoch: held.epoch, replicas: held.target, approvals: [...this.approvals.values()] } })
    if (refusal === null) this.context.metrics.pbftReconfigurationsProposed++
  }
}
