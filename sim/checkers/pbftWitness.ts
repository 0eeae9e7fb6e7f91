/**
 * What the correct PBFT replicas were shown of each Byzantine replica's
 * misbehaviour, counted only where the engine's rules say evidence must
 * follow: the evidence check (pbftChecker.ts) demands evidence against a
 * Byzantine replica only when this witness saw such a moment, so a run in
 * which the misbehaviour could not have been seen (an equivocator that was
 * never primary, a forged message lost on the way) never fails it.
 *
 * A correct replica R is "shown" (every case is a delivery to R, judged by R's
 * state just before the engine steps it, or a view event of R):
 *
 *   equivocate          R receives two pre-prepares signed by the Byzantine
 *                       primary P for one view v and sequence number n, with
 *                       different digests and batches that match them, both
 *                       while R is in view v (normal) with n inside its window:
 *                       the slot keeps the first and the second is refused as
 *                       `equivocation`.
 *   forge               R receives a forged message from P: its signature is
 *                       checked before anything else, `badSignature`.
 *   replay              R receives from P a replayed pre-prepare, prepare or
 *                       commit for a sequence number at or below R's stable
 *                       checkpoint, of an older view than R's (`wrongView`) or
 *                       of R's view in its normal phase (`replay`). (Old-view
 *                       messages above it may be learnt from, not refused.)
 *   conflictingCommits  R receives P's altered commit for (v, n) while in view v
 *                       with n inside its window, and R sends its own commit for
 *                       (v, n), so it prepared n in v, before or after, while the
 *                       slot still holds P's commit: the commit is checked
 *                       against the prepared digest (`conflictingCommit`), or
 *                       it is P's second commit there (`equivocation`).
 *   collude             as equivocate, for the pre-prepares of the colluding
 *                       primary (the two sides are kept apart while it strikes;
 *                       after healing, a replica may be shown both).
 *   silent, delay       the first correct replica to go past the highest view
 *                       any correct replica had reached, u, does so from view u
 *                       in its normal phase, and P is primary of u: then its
 *                       request timer fired (joining f+1 view changes or a new
 *                       view above u needs a correct replica already past u),
 *                       `viewTimeout` against P. A silent replica's own views
 *                       never get installed, so in practice this is P primary
 *                       of view 0.
 *
 * Messages that fail their signature (forged ones, also when another replica
 * replays them) only ever count for `forge`.
 */
import type { NodeId } from '../../core/ports.ts'
import type { Ready, Refusal } from '../../core/ready.ts'
import type { PbftApplied, PbftCommand, PbftEngine, PbftEvent, PbftStatus } from '../../core/pbft/engine.ts'
import type { EvidenceKind } from '../../core/pbft/evidence.ts'
import type { PbftGroup } from '../../core/pbft/group.ts'
import { digestKey, type OrderBody, type PbftBody, type PbftMessage } from '../../core/pbft/messages.ts'
import type { ByzantineMode, InjectionLog, PbftEngineLike } from '../byzantine.ts'

/** The evidence kinds a correct replica records when shown each mode's misbehaviour. */
export const evidenceByMode: Readonly<Record<ByzantineMode, readonly EvidenceKind[]>> = {
  equivocate: ['equivocation'],
  forge: ['badSignature'],
  replay: ['replay', 'wrongView'],
  silent: ['viewTimeout'],
  delay: ['viewTimeout'],
  conflictingCommits: ['conflictingCommit', 'equivocation'],
  // The Byzantine primary's two pre-prepares; what its colluders withhold, or leave out of view changes, proves nothing.
  collude: ['equivocation'],
  splitQuorum: [],
}

function isOrder(body: PbftBody): body is OrderBody {
  return body.type === 'prePrepare' || body.type === 'prepare' || body.type === 'commit'
}

/** R is in the message's view, normal phase, and the sequence number is inside its window. */
function inView(receiver: PbftStatus, body: OrderBody): boolean {
  return body.view === receiver.view && receiver.phase === 'normal' && body.seq > receiver.lowWatermark && body.seq <= receiver.highWatermark
}

/** R refuses the message as stale (at or below its stable checkpoint) with evidence against whoever delivered it. */
function isStale(receiver: PbftStatus, body: OrderBody): boolean {
  return body.seq <= receiver.lowWatermark && (body.view < receiver.view || (body.view === receiver.view && receiver.phase === 'normal'))
}

export class PbftWitness {
  private readonly modes: ReadonlyMap<NodeId, ByzantineMode>
  private readonly log: InjectionLog
  /** By Byzantine replica: moments a correct replica was shown its misbehaviour. */
  readonly shown = new Map<NodeId, number>()
  /** equivocate: the first digest R saw per `R|view|seq` of a Byzantine primary. */
  private readonly prePrepareDigests = new Map<string, string>()
  /** conflictingCommits: altered commits R took in view v, by `R|seq|view`, waiting for R to prepare seq in v. */
  private readonly alteredCommits = new Map<string, NodeId>()
  /** conflictingCommits: the slots R prepared (it sent its commit), by `R|seq|view`. */
  private readonly prepared = new Set<string>()
  /** silent, delay: the highest view any correct replica reached, and each one's view and phase. */
  private maxView = 0
  private readonly states = new Map<NodeId, { view: number; normal: boolean }>()
  /** Some correct replica entered a later group epoch: views and primaries are no longer those of `group`. */
  private reconfigured = false
  /** The replica group (primaries, batch digests), as every replica knows it. */
  private readonly group: PbftGroup

  constructor(options: { readonly modes: ReadonlyMap<NodeId, ByzantineMode>; readonly log: InjectionLog; readonly group: PbftGroup }) {
    this.modes = options.modes
    this.log = options.log
    this.group = options.group
  }

  /** A message about to be stepped by a correct replica, judged by its state now (read only when the message may matter). */
  beforeStep(engine: PbftEngine, from: NodeId, message: PbftMessage): void {
    // Its rules are those of the group of epoch 0 (primaries, who records evidence): a reconfigured group is left out.
    if (this.modes.size === 0 || this.reconfigured || engine.epoch !== 0 || message.signed.body.epoch !== 0) return
    const signed = message.signed
    const body = signed.body
    const fromMode = this.modes.get(from)
    // Correct replicas never pass a forged message on; a replaying replica may.
    if ((fromMode === 'forge' || fromMode === 'replay') && this.log.isForged(signed)) {
      if (fromMode === 'forge') this.see(from)
      return
    }
    if (!isOrder(body)) return
    const signer = body.replica
    const signerMode = this.modes.get(signer)
    const mayMatter = fromMode === 'replay' || (body.type === 'prePrepare' && (signerMode === 'equivocate' || signerMode === 'collude')) || (body.type === 'commit' && signerMode === 'conflictingCommits')
    if (!mayMatter) return
    const receiver = engine.status()
    if (fromMode === 'replay' && isStale(receiver, body) && this.log.isReplayed(signed)) this.see(from)
    if (body.type === 'prePrepare' && (signerMode === 'equivocate' || signerMode === 'collude')) this.prePrepareShown(receiver, body, message)
    if (body.type === 'commit' && signerMode === 'conflictingCommits' && inView(receiver, body) && this.log.isAlteredCommit(signed)) {
      const key = `${receiver.id}|${body.seq}|${body.view}`
      if (this.prepared.has(key)) this.see(signer)
      else this.alteredCommits.set(key, signer)
    }
  }

  private prePrepareShown(receiver: PbftStatus, body: OrderBody, message: PbftMessage): void {
    const batch = message.batches[0]
    if (body.replica !== this.group.primaryOf(body.view) || !inView(receiver, body) || batch === undefined || !this.group.batchMatches(batch, body.digest)) return
    const key = `${receiver.id}|${body.view}|${body.seq}`
    const digest = digestKey(body.digest)
    const first = this.prePrepareDigests.get(key)
    if (first === undefined) this.prePrepareDigests.set(key, digest)
    else if (first !== digest) this.see(body.replica)
  }

  /** A correct replica's Ready: the commits it sends (it prepared) and its view changes. */
  onReady(id: NodeId, ready: Ready<PbftMessage, PbftApplied, PbftEvent>): void {
    if (this.modes.size === 0) return
    for (const { message } of ready.messages) {
      const body = message.signed.body
      if (body.type !== 'commit' || body.replica !== id) continue
      const key = `${id}|${body.seq}|${body.view}`
      if (this.prepared.has(key)) continue
      this.prepared.add(key)
      const signer = this.alteredCommits.get(key)
      if (signer !== undefined) {
        this.alteredCommits.delete(key)
        this.see(signer)
      }
    }
    for (const event of ready.events) {
      if (event.kind === 'groupChanged') this.reconfigured = true
      if (event.kind !== 'view' || this.reconfigured) continue
      const before = this.states.get(id) ?? { view: 0, normal: true }
      if (event.view > this.maxView) {
        const primary = this.group.primaryOf(this.maxView)
        const mode = this.modes.get(primary)
        if (before.view === this.maxView && before.normal && (mode === 'silent' || mode === 'delay')) this.see(primary)
        this.maxView = event.view
      }
      this.states.set(id, { view: event.view, normal: event.phase === 'active' })
    }
  }

  private see(replica: NodeId): void {
    this.shown.set(replica, (this.shown.get(replica) ?? 0) + 1)
  }
}

/** A correct replica's engine, unchanged, that shows the witness every message before stepping it. */
export class WitnessedEngine implements PbftEngineLike {
  readonly id: NodeId
  readonly engine: PbftEngine
  private readonly witness: PbftWitness

  constructor(engine: PbftEngine, witness: PbftWitness) {
    this.id = engine.id
    this.engine = engine
    this.witness = witness
  }

  step(from: NodeId, message: PbftMessage): Refusal | null {
    this.witness.beforeStep(this.engine, from, message)
    return this.engine.step(from, message)
  }

  tick(): void {
    this.engine.tick()
  }

  propose(command: PbftCommand): Refusal | null {
    return this.engine.propose(command)
  }

  hasReady(): boolean {
    return this.engine.hasReady()
  }

  ready(): Ready<PbftMessage, PbftApplied, PbftEvent> {
    return this.engine.ready()
  }

  advance(ready: Ready<PbftMessage, PbftApplied, PbftEvent>): void {
    this.engine.advance(ready)
  }
}
