/**
 * The auto path (DESIGN §2). A write is stamped with this node's hybrid clock
 * once, when it arrives. When the home group is in datacenter mode it goes to
 * Raft; if it has not committed within `autoDeadlineMs`, or Raft cannot take
 * it, or the group is not in datacenter mode, it is joined into the CRDT
 * register instead. Both paths write the same (stamp, value) into the same
 * LWW register (every replica that applies a committed auto entry joins it,
 * strongPath.ts), so a write that takes both is applied once in effect, and
 * none is lost when the mode switches under it.
 *
 * A reply is the truth: a write that took the CRDT path goes ahead there, so
 * only that path answers it (a Raft failure after the fallback changes
 * nothing); a Raft failure before it is a reason to fall back, not a failure;
 * and a write Raft may still commit is never answered failed.
 */
import type { Mode } from '../adaptive/mode.ts'
import type { Hlc } from '../crdt/hlc.ts'
import type { Result } from '../lib/result.ts'
import type { Refusal } from '../ready.ts'
import { requestDeadlineMs, type ReplicaContext } from './context.ts'
import type { EventualPath } from './eventualPath.ts'
import type { Forwarding } from './forwarding.ts'
import type { AutoRoute, AutoWrite } from './requests.ts'

type CrdtReason = Extract<AutoRoute, { via: 'crdt' }>['reason']

/** An auto write as it arrives, before a path is chosen. */
type Arrival = Omit<AutoWrite, 'route'>

export interface AutoPathOptions {
  readonly context: ReplicaContext
  readonly forwarding: Forwarding
  readonly eventual: EventualPath
  /** The home group's mode as this node measures it now. */
  readonly homeMode: () => Mode
}

export class AutoPath {
  private readonly context: ReplicaContext
  private readonly forwarding: Forwarding
  private readonly eventual: EventualPath
  private readonly homeMode: () => Mode

  constructor(options: AutoPathOptions) {
    this.context = options.context
    this.forwarding = options.forwarding
    this.eventual = options.eventual
    this.homeMode = options.homeMode
  }

  /** A put or delete of an auto namespace; `encoded` is the register value (registerValue.ts). */
  write(requestId: number, key: string, encoded: string, stamp: Hlc): Refusal | null {
    const mode = this.homeMode()
    const request: Arrival = { kind: 'autoWrite', requestId, deadlineMs: requestDeadlineMs(this.context), key, stamp, registerValue: encoded, mode }
    if (mode !== 'datacenter') return this.arriveOnCrdt(request, 'groupMode')
    const raftDeadlineMs = this.context.clock.nowMs() + this.context.config.autoDeadlineMs
    const refusal = this.forwarding.propose(requestId, { kind: 'auto', origin: this.context.id, stamp, key, value: encoded })
    // Raft cannot take it: the CRDT path at once.
    if (refusal !== null) return this.arriveOnCrdt(request, 'raftUnavailable')
    this.context.requests.open({ ...request, route: { via: 'raft', deadlineMs: raftDeadlineMs } })
    return null
  }

  /**
   * The home group left datacenter mode: auto writes still waiting on Raft
   * move to the CRDT path at once (same stamp). Waiting out their deadline on
   * a link now known to be slow would only delay them, and every write from
   * now on takes the new path.
   */
  handleHomeLeftDatacenter(): void {
    for (const request of this.context.requests) if (request.kind === 'autoWrite' && request.route.via === 'raft') this.moveToCrdt(request, 'groupMode')
  }

  /** At a tick: true when its Raft deadline passed and it moved to the CRDT path (or, refused there, now waits on Raft alone). */
  checkRaftDeadline(request: AutoWrite, nowMs: number): boolean {
    if (request.route.via !== 'raft' || request.route.deadlineMs === null || nowMs < request.route.deadlineMs) return false
    this.moveToCrdt(request, 'deadline')
    return true
  }

  /** Raft applied the write (its answer was not a refusal). */
  committed(request: AutoWrite, index: number, version: number): void {
    // Raft answered after the CRDT path took over: that path answers.
    if (request.route.via === 'crdt') return
    this.context.metrics['auto.raft']++
    this.context.answers.succeed(request, 'raft', { kind: 'raft', index, version })
  }

  /**
   * Raft will not commit the write: the leader refused the forward, or the
   * log refused the entry. Before the fallback that is a reason to take the
   * CRDT path; after it, the CRDT write goes ahead and answers.
   */
  raftFailed(request: AutoWrite): void {
    if (request.route.via === 'crdt') return
    this.moveToCrdt(request, 'raftUnavailable')
  }

  /** The CRDT path taken on arrival: a refusal is the client's answer, and nothing waits. */
  private arriveOnCrdt(request: Arrival, reason: CrdtReason): Refusal | null {
    const crdtId = this.joinRegister(request, reason)
    if (!crdtId.ok) return crdtId.error
    this.context.requests.open({ ...request, route: { via: 'crdt', reason, crdtId: crdtId.value } })
    return null
  }

  /**
   * The CRDT path taken after the request was accepted. If the CRDT refuses
   * it, the refusal is the answer only when Raft has refused it too
   * (`raftUnavailable`); after a deadline or a mode change Raft may still
   * commit it, so it waits for Raft alone, and Raft's answer or the request's
   * timeout (outcome unknown) answers it.
   */
  private moveToCrdt(request: AutoWrite, reason: CrdtReason): void {
    const crdtId = this.joinRegister(request, reason)
    if (crdtId.ok) return this.context.requests.update({ ...request, route: { via: 'crdt', reason, crdtId: crdtId.value } })
    if (reason === 'raftUnavailable') return this.context.answers.fail(request, crdtId.error.code, crdtId.error.message)
    this.context.requests.update({ ...request, route: { via: 'raft', deadlineMs: null } })
  }

  /** Joins the write into the register with its own stamp, so a Raft commit of it, earlier or later, is the same write. */
  private joinRegister(request: Arrival, reason: CrdtReason): Result<number, Refusal> {
    const crdtId = this.eventual.propose({ type: 'register', key: request.key, value: request.registerValue, at: { timestamp: request.stamp, replica: this.context.id } })
    if (crdtId.ok) this.context.metrics[`auto.${reason}`]++
    return crdtId
  }
}
