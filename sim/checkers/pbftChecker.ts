/**
 * PBFT's guarantees, checked over the correct replicas as the run goes:
 *
 * - agreement: no two correct replicas execute different digests at one
 *   sequence number, nor execute it under different group epochs
 *   (`groupAgreement`), nor enter one epoch with different groups;
 * - at most once: a correct replica applies a client's request (gateway,
 *   client, timestamp) at most once, and a client's applied timestamps rise;
 * - validity: every request of a correct gateway that a correct replica
 *   executes was proposed there by that client;
 * - replies: a reply a correct gateway accepts carries the result correct
 *   replicas got applying that request, and some correct replica applied it;
 *   correct replicas that apply one request get one result; a gateway refuses
 *   a request as stale only when a later one of its client was applied;
 * - no false proof: no correct replica records proven evidence against another
 *   correct one (proven means no correct replica can produce it);
 * - evidence: each Byzantine replica whose misbehaviour a correct replica was
 *   shown where the engine's rules apply (pbftWitness.ts) is the subject of
 *   evidence of the matching kind at some correct replica.
 *
 * Liveness (requests answered after healing) is the scenario's to check.
 */
import type { NodeId } from '../../core/ports.ts'
import type { Ready } from '../../core/ready.ts'
import type { StateMachine } from '../../core/stateMachine.ts'
import type { PbftApplied, PbftCommand, PbftEvent } from '../../core/pbft/engine.ts'
import { clientKey } from '../../core/pbft/executor.ts'
import { reconfigureClient } from '../../core/pbft/reconfiguration.ts'
import type { EvidenceKind } from '../../core/pbft/evidence.ts'
import { digestKey, sameBytes, type PbftMessage } from '../../core/pbft/messages.ts'
import type { ByzantineMode } from '../byzantine.ts'
import type { SimNode, SimObserver, Simulator } from '../simulator.ts'
import type { ViolationLog } from '../violation.ts'
import { evidenceByMode, type PbftWitness } from './pbftWitness.ts'

type PbftSim = Simulator<PbftCommand, PbftMessage, PbftApplied, PbftEvent>
type PbftNode = SimNode<PbftCommand, PbftMessage, PbftApplied, PbftEvent>

/** A state machine that remembers the result of every command it applies, in order, for the checker to collect. */
export class ResultRecorder implements StateMachine {
  private readonly machine: StateMachine
  private results: Uint8Array[] = []

  constructor(machine: StateMachine) {
    this.machine = machine
  }

  apply(command: Uint8Array): Uint8Array {
    const result = this.machine.apply(command)
    this.results.push(result)
    return result
  }

  query(query: Uint8Array): Uint8Array {
    return this.machine.query(query)
  }

  snapshot(): Uint8Array {
    return this.machine.snapshot()
  }

  restore(data: Uint8Array): void {
    this.machine.restore(data)
  }

  /** The next `count` results not taken yet, oldest first (fewer when fewer commands were applied). */
  take(count: number): Uint8Array[] {
    return this.results.splice(0, count)
  }

  /** Results applied and not taken yet. */
  get untaken(): number {
    return this.results.length
  }
}

export interface PbftCheckerOptions {
  /** The Byzantine replicas and their modes; every other replica is correct. */
  readonly modes: ReadonlyMap<NodeId, ByzantineMode>
  readonly witness: PbftWitness
  /** The result recorder of each correct replica's state machine. */
  readonly recorders: ReadonlyMap<NodeId, ResultRecorder>
  /** Requests the clients proposed, by `gateway/client@timestamp`. */
  readonly proposed: ReadonlySet<string>
}

function requestKey(gateway: NodeId, client: string, timestamp: number): string {
  return `${clientKey(gateway, client)}@${timestamp}`
}

export class PbftChecker implements SimObserver<PbftCommand, PbftMessage, PbftApplied, PbftEvent> {
  private readonly sim: PbftSim
  private readonly violations: ViolationLog
  private readonly options: PbftCheckerOptions
  /** The digest executed at each sequence number, and the first correct replica that executed it. */
  readonly executed = new Map<number, { readonly digest: string; readonly epoch: number; readonly by: NodeId }>()
  /** The group each epoch has, as the first correct replica that entered it saw it: `startSeq:members`. */
  readonly groups = new Map<number, { readonly group: string; readonly by: NodeId }>()
  /** By request, the result correct replicas got applying it. */
  private readonly results = new Map<string, Uint8Array>()
  /** By correct replica: the requests it applied (with the sequence number), and each client's last applied timestamp. */
  private readonly applied = new Map<NodeId, { readonly requests: Map<string, number>; readonly lastTimestamp: Map<string, number> }>()
  /** By replica: the evidence kinds correct replicas recorded against it. */
  readonly evidence = new Map<NodeId, Set<EvidenceKind>>()
  /** Views installed at some correct replica (view 0 is installed from the start). */
  readonly installedViews = new Set<number>([0])
  repliesAccepted = 0

  constructor(sim: PbftSim, violations: ViolationLog, options: PbftCheckerOptions) {
    this.sim = sim
    this.violations = violations
    this.options = options
  }

  private isCorrect(id: NodeId): boolean {
    return !this.options.modes.has(id)
  }

  onReady(node: PbftNode, ready: Ready<PbftMessage, PbftApplied, PbftEvent>): void {
    if (!this.isCorrect(node.id)) return
    this.options.witness.onReady(node.id, ready)
    for (const applied of ready.applied) {
      if (applied.type === 'executed') this.onExecuted(node.id, applied)
      else if (applied.type === 'reply') this.onReply(node.id, applied)
      else if (applied.type === 'refused') this.onRefused(node.id, applied)
    }
    const recorder = this.options.recorders.get(node.id)!
    if (recorder.untaken > 0) this.fail('replies', node.id, `${node.id}'s state machine applied ${recorder.take(recorder.untaken).length} commands that no execution reports`)
    for (const event of ready.events) {
      if (event.kind === 'view' && event.phase === 'active') this.installedViews.add(event.view)
      if (event.kind === 'groupChanged') this.onGroupChanged(node.id, event)
      if (event.kind !== 'evidence') continue
      const { replica, kind, proven, detail } = event.evidence
      let kinds = this.evidence.get(replica)
      if (kinds === undefined) this.evidence.set(replica, (kinds = new Set()))
      kinds.add(kind)
      if (proven && this.isCorrect(replica)) this.fail('noFalseProof', node.id, `${node.id} recorded proven ${kind} against correct ${replica}: ${detail}`)
    }
  }

  private onExecuted(id: NodeId, executed: Extract<PbftApplied, { type: 'executed' }>): void {
    const digest = digestKey(executed.digest)
    const held = this.executed.get(executed.seq)
    if (held === undefined) this.executed.set(executed.seq, { digest, epoch: executed.epoch, by: id })
    else if (held.digest !== digest) this.fail('agreement', id, `${id} executed another digest at n${executed.seq} (v${executed.view}) than ${held.by}`)
    else if (held.epoch !== executed.epoch) this.fail('groupAgreement', id, `${id} executed n${executed.seq} in epoch ${executed.epoch}, ${held.by} in epoch ${held.epoch}`)
    let mine = this.applied.get(id)
    if (mine === undefined) this.applied.set(id, (mine = { requests: new Map(), lastTimestamp: new Map() }))
    const recorder = this.options.recorders.get(id)!
    // A reconfiguration executes in the engine, not in the state machine (the scenario checks the group it makes).
    const results = recorder.take(executed.requests.filter((request) => request.outcome === 'applied' && request.client !== reconfigureClient).length)
    let next = 0
    for (const request of executed.requests) {
      if (request.outcome !== 'applied' || request.client === reconfigureClient) continue
      const result = results[next++]
      const key = requestKey(request.gateway, request.client, request.timestamp)
      const client = clientKey(request.gateway, request.client)
      if (mine.requests.has(key)) this.fail('atMostOnce', id, `${id} applied ${key} twice (n${executed.seq})`)
      const last = mine.lastTimestamp.get(client) ?? -1
      if (request.timestamp <= last) this.fail('atMostOnce', id, `${id} applied ${key} after timestamp ${last} of that client (n${executed.seq})`)
      mine.requests.set(key, executed.seq)
      mine.lastTimestamp.set(client, request.timestamp)
      if (this.isCorrect(request.gateway) && !this.options.proposed.has(key)) this.fail('validity', id, `${id} applied ${key}, which no client proposed (n${executed.seq})`)
      if (result === undefined) {
        this.fail('replies', id, `${id} reports more applied requests than its state machine applied (n${executed.seq})`)
        continue
      }
      const known = this.results.get(key)
      if (known === undefined) this.results.set(key, result)
      else if (!sameBytes(known, result)) this.fail('replies', id, `${id} got another result applying ${key} than other correct replicas`)
    }
  }

  private onGroupChanged(id: NodeId, event: Extract<PbftEvent, { kind: 'groupChanged' }>): void {
    const group = `${event.startSeq}:${event.members.join(',')}`
    const held = this.groups.get(event.epoch)
    if (held === undefined) this.groups.set(event.epoch, { group, by: id })
    else if (held.group !== group) this.fail('groupAgreement', id, `${id} entered epoch ${event.epoch} as ${group}, ${held.by} as ${held.group}`)
  }

  /**
   * A correct replica restarted from storage, its state rolled back to its
   * stable checkpoint `stableSeq`: what it applied above, it applies again (in
   * the same order, which agreement checks). At most once holds per state:
   * nothing applied at or below the checkpoint may be applied again.
   */
  onRestart(id: NodeId, stableSeq: number): void {
    const mine = this.applied.get(id)
    if (mine === undefined) return
    mine.lastTimestamp.clear()
    for (const [key, seq] of mine.requests) {
      if (seq > stableSeq) {
        mine.requests.delete(key)
        continue
      }
      const at = key.lastIndexOf('@')
      const client = key.slice(0, at)
      mine.lastTimestamp.set(client, Math.max(mine.lastTimestamp.get(client) ?? -1, Number(key.slice(at + 1))))
    }
  }

  private onReply(gateway: NodeId, reply: Extract<PbftApplied, { type: 'reply' }>): void {
    this.repliesAccepted++
    const key = requestKey(gateway, reply.client, reply.timestamp)
    const result = this.results.get(key)
    if (result === undefined) this.fail('replies', gateway, `${gateway} accepted a reply for ${key}, which no correct replica has applied`)
    else if (!sameBytes(result, reply.result)) this.fail('replies', gateway, `${gateway} accepted a reply for ${key} that differs from the correct replicas' result`)
  }

  /**
   * A gateway may refuse a request as stale only when some correct replica applied a later one of that client; one
   * it refuses because it left the group (`groupChanged`) must not have been applied by any correct replica.
   */
  private onRefused(gateway: NodeId, refused: Extract<PbftApplied, { type: 'refused' }>): void {
    if (refused.code === 'groupChanged') {
      const key = requestKey(gateway, refused.client, refused.timestamp)
      if (this.results.has(key)) this.fail('replies', gateway, `${gateway} refused ${key} as not ordered before it left the group, but a correct replica applied it`)
      return
    }
    const client = clientKey(gateway, refused.client)
    const later = [...this.applied.values()].some((mine) => (mine.lastTimestamp.get(client) ?? -1) > refused.timestamp)
    if (!later) this.fail('replies', gateway, `${gateway} refused ${client}@${refused.timestamp} as stale, but no correct replica applied a later request of that client`)
  }

  /** At the end of a run: evidence of the matching kind against every Byzantine replica a correct replica was shown misbehaving. */
  checkEvidence(): void {
    for (const [replica, mode] of this.options.modes) {
      const shown = this.options.witness.shown.get(replica) ?? 0
      if (shown === 0) continue
      const kinds = this.evidence.get(replica) ?? new Set()
      const wanted = evidenceByMode[mode]
      if (!wanted.some((kind) => kinds.has(kind))) {
        this.fail('evidence', replica, `${replica} (${mode}) was shown misbehaving to correct replicas ${shown} times, yet none recorded ${wanted.join(' or ')} against it (recorded: ${[...kinds].join(', ') || 'nothing'})`)
      }
    }
  }

  /** Whether some correct replica recorded evidence of a kind `mode` calls for against `replica`. */
  detected(replica: NodeId, mode: ByzantineMode): boolean {
    const kinds = this.evidence.get(replica)
    return kinds !== undefined && evidenceByMode[mode].some((kind) => kinds.has(kind))
  }

  private fail(invariant: string, node: NodeId, message: string): void {
    this.violations.add({ seed: this.sim.seed, invariant, kind: 'safety', atMs: Math.floor(this.sim.nowUs / 1000), node, message })
  }
}
