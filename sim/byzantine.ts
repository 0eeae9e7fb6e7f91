/**
 * Byzantine PBFT replicas for the simulator. A `ByzantineEngine` hosts a real
 * engine (honest inside: it follows the protocol) and corrupts what it sends,
 * in one of these modes:
 *
 *   equivocate          as primary, sends part of the backups (chosen per view
 *                       and sequence number, the same ones every time) a
 *                       pre-prepare for another batch: the real one minus its
 *                       last bundle, or one empty bundle of its own when the
 *                       real batch is empty; signed with its own key, so it is
 *                       a valid pre-prepare, and a conflicting one.
 *   forge               replaces a share of its messages with the same body
 *                       claiming another replica as sender, signed with its
 *                       own key: receivers see a signature that does not verify.
 *   replay              keeps messages it sent and received and, every few
 *                       ticks, sends an old one (of a second or more ago) again
 *                       to a random peer.
 *   silent              sends nothing.
 *   delay               holds every message for `delayTicks` (longer than the
 *                       request timeout), then sends it.
 *   conflictingCommits  sends part of the replicas (chosen per view and sequence
 *                       number) commits for another digest than the one it
 *                       prepared, signed with its own key.
 *
 * It holds only its own node's signer: it can sign as itself and nobody else.
 * Everything it injects is counted per mode, and the signatures of forged,
 * altered and replayed messages are logged, so that the checker can tell
 * which misbehaviour a correct replica was shown.
 */
import type { NodeId, Signer } from '../core/ports.ts'
import type { Rng } from '../core/lib/prng.ts'
import type { Engine, Outbound, Ready, Refusal } from '../core/ready.ts'
import type { PbftApplied, PbftCommand, PbftEvent } from '../core/pbft/engine.ts'
import type { PbftGroup } from '../core/pbft/group.ts'
import { digestKey, signBody, type Batch, type OrderBody, type PbftMessage, type Signed } from '../core/pbft/messages.ts'

export const byzantineModes = ['equivocate', 'forge', 'replay', 'silent', 'delay', 'conflictingCommits'] as const
export type ByzantineMode = (typeof byzantineModes)[number]
/** What `--mode` accepts: one mode for every Byzantine replica, or `mixed`, a different one each. */
export const byzantineModeChoices = [...byzantineModes, 'mixed'] as const
export type ByzantineModeChoice = (typeof byzantineModeChoices)[number]

export const byzantineLimits = {
  /** Share of its messages a forging replica replaces with forged ones. */
  forgeShare: 0.3,
  /** A replaying replica sends one old message every this many ticks. */
  replayEveryTicks: 5,
  /** A message is replayed only once it is at least this old (so its view or checkpoint has likely passed). */
  replayAgeTicksMin: 100,
  /** Messages a replaying replica keeps to replay (once full, each new one replaces a random one). */
  replayKeptMax: 512,
  /** Slots whose chosen victims are remembered (the oldest are forgotten). */
  victimSlotsMax: 4096,
  /** Signatures of injected messages logged for the checker; beyond it they are counted, not logged. */
  loggedSignaturesMax: 1_000_000,
} as const

export type PbftEngineLike = Engine<PbftCommand, PbftMessage, PbftApplied, PbftEvent>
type PbftReady = Ready<PbftMessage, PbftApplied, PbftEvent>

/** What the Byzantine replicas of one run injected. */
export class InjectionLog {
  /** Messages injected, by mode (for silent: messages withheld; for delay: messages held back). */
  readonly counts: Record<ByzantineMode, number> = { equivocate: 0, forge: 0, replay: 0, silent: 0, delay: 0, conflictingCommits: 0 }
  private readonly forged = new Set<string>()
  private readonly alteredCommits = new Set<string>()
  private readonly replayed = new Set<string>()

  count(mode: ByzantineMode): void {
    this.counts[mode]++
  }

  logForged(signed: Signed): void {
    this.log(this.forged, signed)
  }

  logAlteredCommit(signed: Signed): void {
    this.log(this.alteredCommits, signed)
  }

  logReplayed(signed: Signed): void {
    this.log(this.replayed, signed)
  }

  isForged(signed: Signed): boolean {
    return this.forged.size > 0 && this.forged.has(digestKey(signed.signature))
  }

  isAlteredCommit(signed: Signed): boolean {
    return this.alteredCommits.size > 0 && this.alteredCommits.has(digestKey(signed.signature))
  }

  isReplayed(signed: Signed): boolean {
    return this.replayed.size > 0 && this.replayed.has(digestKey(signed.signature))
  }

  private log(set: Set<string>, signed: Signed): void {
    if (this.forged.size + this.alteredCommits.size + this.replayed.size < byzantineLimits.loggedSignaturesMax) set.add(digestKey(signed.signature))
  }
}

export interface ByzantineOptions {
  readonly inner: PbftEngineLike
  readonly group: PbftGroup
  /** This node's own signer: the only key it has. */
  readonly signer: Signer
  readonly mode: ByzantineMode
  readonly rng: Rng
  readonly log: InjectionLog
  /** How long `delay` holds a message. */
  readonly delayTicks: number
  /** A trace line for each injection (the simulator's note; the text is built only when traced). */
  readonly note?: (text: () => string) => void
}

interface Kept {
  readonly message: PbftMessage
  readonly tick: number
}

export class ByzantineEngine implements PbftEngineLike {
  readonly id: NodeId
  readonly mode: ByzantineMode
  private readonly inner: PbftEngineLike
  private readonly group: PbftGroup
  private readonly signer: Signer
  private readonly rng: Rng
  private readonly log: InjectionLog
  private readonly delayTicks: number
  private readonly note: (text: () => string) => void
  private tickCount = 0
  /** Messages of its own making (replays, released delayed ones) for the next Ready. */
  private extra: Outbound<PbftMessage>[] = []
  /** delay: messages held, with the tick they go out. */
  private held: { readonly out: Outbound<PbftMessage>; readonly releaseTick: number }[] = []
  /** replay: up to `replayKeptMax` messages; once full, a new one takes a random place, so old ones stay too. */
  private readonly kept: Kept[] = []
  /** equivocate, conflictingCommits: per `view/seq`, the replicas that get the other digest. */
  private readonly victims = new Map<string, ReadonlySet<NodeId>>()
  /** The inner Ready handed out, by the Ready this wrapper handed out in its place. */
  private handed: { readonly outer: PbftReady; readonly inner: PbftReady } | null = null

  constructor(options: ByzantineOptions) {
    this.inner = options.inner
    this.id = options.inner.id
    this.mode = options.mode
    this.group = options.group
    this.signer = options.signer
    this.rng = options.rng
    this.log = options.log
    this.delayTicks = options.delayTicks
    this.note = options.note ?? (() => {})
  }

  step(from: NodeId, message: PbftMessage): Refusal | null {
    if (this.mode === 'replay') this.keep(message)
    return this.inner.step(from, message)
  }

  tick(): void {
    this.tickCount++
    this.inner.tick()
    if (this.mode === 'delay' && this.held.length > 0 && this.held[0]!.releaseTick <= this.tickCount) {
      let due = 0
      while (due < this.held.length && this.held[due]!.releaseTick <= this.tickCount) due++
      for (const { out } of this.held.splice(0, due)) this.extra.push(out)
    }
    if (this.mode === 'replay' && this.tickCount % byzantineLimits.replayEveryTicks === 0) this.replayOne()
  }

  propose(command: PbftCommand): Refusal | null {
    return this.inner.propose(command)
  }

  hasReady(): boolean {
    return this.extra.length > 0 || this.inner.hasReady()
  }

  ready(): PbftReady {
    const inner = this.inner.ready()
    const messages = this.extra
    this.extra = []
    for (const out of inner.messages) this.corrupt(out, messages)
    const outer: PbftReady = { ...inner, messages }
    this.handed = { outer, inner }
    return outer
  }

  advance(ready: PbftReady): void {
    if (this.handed === null || this.handed.outer !== ready) throw new Error(`${this.id}: advance with a Ready this wrapper did not hand out`)
    this.inner.advance(this.handed.inner)
    this.handed = null
  }

  // ----- the corruption of each mode -----

  /** Appends to `into` what goes out in place of `out`. */
  private corrupt(out: Outbound<PbftMessage>, into: Outbound<PbftMessage>[]): void {
    const body = out.message.signed.body
    switch (this.mode) {
      case 'silent':
        this.log.count('silent')
        return
      case 'delay':
        this.log.count('delay')
        this.held.push({ out, releaseTick: this.tickCount + this.delayTicks })
        return
      case 'forge':
        if (this.rng.chance(byzantineLimits.forgeShare)) return void into.push({ to: out.to, message: this.forged(out.message) })
        break
      case 'replay':
        this.keep(out.message)
        break
      case 'equivocate':
        if (body.type === 'prePrepare' && body.replica === this.id && this.isVictim(body, out.to)) return void into.push({ to: out.to, message: this.otherPrePrepare(body, out.message.batches[0]!) })
        break
      case 'conflictingCommits':
        if (body.type === 'commit' && body.replica === this.id && this.isVictim(body, out.to)) return void into.push({ to: out.to, message: this.otherCommit(body) })
        break
    }
    into.push(out)
  }

  private forged(message: PbftMessage): PbftMessage {
    const others = this.group.ids.filter((id) => id !== this.id)
    const claimed = this.rng.pick(others)
    const signed = signBody(this.signer, { ...message.signed.body, replica: claimed })
    this.log.count('forge')
    this.log.logForged(signed)
    this.note(() => `byzantine ${this.id} forge ${message.signed.body.type} claiming ${claimed}`)
    return { signed, batches: message.batches }
  }

  /** The same replicas, for every message of one slot: a consistent liar is harder to catch than a random one. */
  private isVictim(body: OrderBody, to: NodeId): boolean {
    const key = `${body.view}/${body.seq}`
    let victims = this.victims.get(key)
    if (victims === undefined) {
      const others = this.rng.shuffle(this.group.ids.filter((id) => id !== this.id))
      // At least one replica gets each version when there are two others or more.
      const count = others.length < 2 ? others.length : 1 + this.rng.int(others.length - 1)
      victims = new Set(others.slice(0, count))
      if (this.victims.size >= byzantineLimits.victimSlotsMax) this.victims.delete(this.victims.keys().next().value!)
      this.victims.set(key, victims)
    }
    return victims.has(to)
  }

  private otherPrePrepare(body: OrderBody, batch: Batch): PbftMessage {
    const other: Batch = batch.length > 0 ? batch.slice(0, -1) : [signBody(this.signer, { type: 'request', replica: this.id, requests: [] })]
    const signed = signBody(this.signer, { ...body, digest: this.group.digestOf(other) })
    this.log.count('equivocate')
    this.note(() => `byzantine ${this.id} equivocate v${body.view} n${body.seq}`)
    return { signed, batches: [other] }
  }

  private otherCommit(body: OrderBody): PbftMessage {
    const digest = Uint8Array.from(body.digest, (byte) => byte ^ 0x5a)
    const signed = signBody(this.signer, { ...body, digest })
    this.log.count('conflictingCommits')
    this.log.logAlteredCommit(signed)
    this.note(() => `byzantine ${this.id} conflicting commit v${body.view} n${body.seq}`)
    return { signed, batches: [] }
  }

  private keep(message: PbftMessage): void {
    const kept = { message, tick: this.tickCount }
    if (this.kept.length < byzantineLimits.replayKeptMax) this.kept.push(kept)
    else this.kept[this.rng.int(byzantineLimits.replayKeptMax)] = kept
  }

  private replayOne(): void {
    const old = this.kept.filter((kept) => this.tickCount - kept.tick >= byzantineLimits.replayAgeTicksMin)
    if (old.length === 0) return
    const { message } = this.rng.pick(old)
    const to = this.rng.pick(this.group.ids.filter((id) => id !== this.id))
    this.log.count('replay')
    this.log.logReplayed(message.signed)
    this.note(() => `byzantine ${this.id} replay ${message.signed.body.type} of ${message.signed.body.replica} to ${to}`)
    this.extra.push({ to, message })
  }
}
