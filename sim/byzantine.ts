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
 * Two more modes attack quorums. All f Byzantine replicas take part together,
 * steered by one `Collusion` (an omniscient adversary that also places the
 * partitions); each strike lasts a while, then the network heals:
 *
 *   collude             colluding equivocation across a split: when a
 *                       Byzantine replica is primary of the current view, the
 *                       correct replicas are split into sides kept apart by a
 *                       partition (f+1 | f, or f | f | 1 with the last one cut
 *                       off from everyone), the Byzantine replicas reaching
 *                       all. The primary pre-prepares the real batch to the
 *                       first side and another batch to the second; every
 *                       Byzantine replica prepares and commits, to each side,
 *                       the digest that side was shown. A correct quorum rule
 *                       lets at most one side commit.
 *   splitQuorum         a view change whose quorum leaves out the replicas that
 *                       prepared: with a correct primary p of the current view
 *                       v, f correct backups T (neither p nor the next primary)
 *                       are cut off from the other correct replicas R. The
 *                       Byzantine replicas relay p's pre-prepares of v to T and
 *                       send their prepares and commits of v to T only, so T
 *                       prepares (f + f = 2f prepares) and R does not; T must
 *                       not commit (f + f < 2f+1 commits). R times out and
 *                       changes view with the Byzantine replicas, whose view
 *                       changes leave out every prepared certificate: the new
 *                       quorum (R and the Byzantine ones) holds no certificate
 *                       for what T prepared, and orders other batches there.
 *                       A commit rule that let T commit would lose it. Once the
 *                       new view is installed, the Byzantine replicas send its
 *                       backups the strike view's pre-prepares with the 2f
 *                       commits of T and their own: too few to learn a decision
 *                       of an older view from (2f+1).
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

/** Modes each Byzantine replica plays on its own. */
export const soloByzantineModes = ['equivocate', 'forge', 'replay', 'silent', 'delay', 'conflictingCommits'] as const
/** Modes the f Byzantine replicas play together, steered by one `Collusion` that also places the partitions. */
export const collusionModes = ['collude', 'splitQuorum'] as const
export const byzantineModes = [...soloByzantineModes, ...collusionModes] as const
export type ByzantineMode = (typeof byzantineModes)[number]
export type CollusionMode = (typeof collusionModes)[number]
/** What `--mode` accepts: one mode for every Byzantine replica, or `mixed`, a different solo mode each. */
export const byzantineModeChoices = [...soloByzantineModes, 'mixed', ...collusionModes] as const
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
  readonly counts: Record<ByzantineMode, number> = { equivocate: 0, forge: 0, replay: 0, silent: 0, delay: 0, conflictingCommits: 0, collude: 0, splitQuorum: 0 }
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
  /** collude, splitQuorum: the adversary every Byzantine replica of the run obeys. */
  readonly collusion?: Collusion
}

interface Kept {
  readonly message: PbftMessage
  readonly tick: number
}

export class ByzantineEngine implements PbftEngineLike {
  readonly id: NodeId
  readonly mode: ByzantineMode
  /** The honest engine inside (viewers read its status). */
  readonly inner: PbftEngineLike
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
  private readonly collusion: Collusion | null

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
    this.collusion = options.collusion ?? null
    if ((this.mode === 'collude' || this.mode === 'splitQuorum') !== (this.collusion !== null)) throw new RangeError(`${this.id}: mode ${this.mode} and a collusion go together`)
  }

  step(from: NodeId, message: PbftMessage): Refusal | null {
    if (this.mode === 'replay') this.keep(message)
    if (this.collusion !== null) {
      const sent = this.collusion.observe(this.id, message)
      if (sent.length > 0) this.log.count(this.mode)
      this.extra.push(...sent)
    }
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
      case 'collude':
      case 'splitQuorum': {
        const replaced = this.collusion!.corrupt(this.id, out)
        if (replaced.length === 1 && replaced[0] === out) break
        this.log.count(this.mode)
        this.note(() => `byzantine ${this.id} ${this.mode} ${body.type} to ${out.to}: ${replaced.map((sent) => sent.message.signed.body.type).join(', ') || 'dropped'}`)
        into.push(...replaced)
        return
      }
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
    const other: Batch = batch.length > 0 ? batch.slice(0, -1) : [signBody(this.signer, { type: 'request', replica: this.id, epoch: body.epoch, requests: [] })]
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

// ----- the colluding adversary -----

export const collusionTiming = {
  /** The first strike: early, while view 0 (whose primary the scenario chose for the mode) is still installed. */
  firstStrikeUs: 300_000,
  /** A strike keeps its partition this long: the cut-off side prepares, the rest times out, changes view and orders again. */
  strikeUsMin: 1_500_000,
  strikeUsMax: 2_500_000,
  /** Pause between the end of one strike and the next. */
  pauseUsMin: 300_000,
  pauseUsMax: 1_000_000,
} as const

/** How the adversary reaches the network: partitions between sets of replicas, and healing them. */
export interface CollusionNetwork {
  partition(a: readonly NodeId[], b: readonly NodeId[]): void
  heal(): void
}

interface Strike {
  readonly view: number
  /** collude: the side shown the real batch, the side shown the other batch, a replica cut off from everyone (or none). */
  readonly real: ReadonlySet<NodeId>
  readonly other: ReadonlySet<NodeId>
  /** splitQuorum: the correct backups that prepare alone (T); `real` holds the others (R). */
  readonly preparers: ReadonlySet<NodeId>
}

/**
 * The adversary of the collusion modes: it knows every Byzantine replica's
 * key (each signs only with its own, through its own wrapper's signer), picks
 * the moment and the sides of each strike from the replicas' views, places
 * the partition, and tells each Byzantine replica what to send to whom.
 */
export class Collusion {
  readonly mode: CollusionMode
  private readonly group: PbftGroup
  private readonly byzantine: ReadonlyMap<NodeId, Signer>
  private readonly network: CollusionNetwork
  private readonly rng: Rng
  private readonly note: (text: () => string) => void
  private strike: Strike | null = null
  /** collude: per `view/seq` of a strike, the other batch and its pre-prepare, signed by the Byzantine primary. */
  private readonly others = new Map<string, { readonly digest: Uint8Array; readonly message: PbftMessage }>()
  /** splitQuorum: per sequence number of the strike view, its pre-prepare and the commits of T and of the Byzantine replicas. */
  private readonly bait = new Map<number, { prePrepare: PbftMessage | null; readonly commits: Map<NodeId, PbftMessage> }>()
  /** splitQuorum: the Byzantine replicas that sent their bait in this strike. */
  private readonly baited = new Set<NodeId>()
  /** Strikes begun, and those skipped because the views did not fit. */
  strikes = 0
  skipped = 0

  constructor(options: { readonly mode: CollusionMode; readonly group: PbftGroup; readonly byzantine: ReadonlyMap<NodeId, Signer>; readonly network: CollusionNetwork; readonly rng: Rng; readonly note?: (text: () => string) => void }) {
    this.mode = options.mode
    this.group = options.group
    this.byzantine = options.byzantine
    this.network = options.network
    this.rng = options.rng
    this.note = options.note ?? (() => {})
  }

  get striking(): boolean {
    return this.strike !== null
  }

  /**
   * Begins a strike in `view` (the view the correct replicas are in) if it fits the mode: collude needs a
   * Byzantine primary of `view`; splitQuorum a correct one, and a correct primary of the next view outside T.
   */
  begin(view: number): boolean {
    const primary = this.group.primaryOf(view)
    const correct = this.group.ids.filter((id) => !this.byzantine.has(id))
    const f = this.group.f
    if (this.mode === 'collude') {
      if (!this.byzantine.has(primary) || correct.length < 2) return this.skip(view, `primary ${primary} is correct`)
      const shuffled = this.rng.shuffle(correct)
      // f+1 | f: one side may commit; f | f | 1: neither may (each side has 2f-1 prepares and 2f commits at most).
      const lonely = this.rng.chance(0.5) && correct.length >= 3
      const realCount = lonely ? f : f + 1
      const real = new Set(shuffled.slice(0, realCount))
      const other = new Set(shuffled.slice(realCount, lonely ? 2 * f : correct.length))
      const cut = shuffled.filter((id) => !real.has(id) && !other.has(id))
      this.network.partition([...real], [...other, ...cut])
      if (cut.length > 0) this.network.partition([...other], cut)
      this.strike = { view, real, other, preparers: new Set() }
      this.note(() => `collusion collude v${view}: real ${[...real]} | other ${[...other]}${cut.length > 0 ? ` | cut off ${cut}` : ''}`)
    } else {
      const next = this.group.primaryOf(view + 1)
      if (this.byzantine.has(primary) || this.byzantine.has(next)) return this.skip(view, `primary ${primary} or next primary ${next} is Byzantine`)
      const candidates = this.rng.shuffle(correct.filter((id) => id !== primary && id !== next))
      const preparers = new Set(candidates.slice(0, f))
      const rest = correct.filter((id) => !preparers.has(id))
      this.network.partition([...preparers], rest)
      this.strike = { view, real: new Set(rest), other: new Set(), preparers }
      this.note(() => `collusion splitQuorum v${view}: preparers ${[...preparers]} cut off from ${rest}`)
    }
    this.strikes++
    return true
  }

  end(): void {
    if (this.strike === null) return
    this.strike = null
    this.others.clear()
    this.bait.clear()
    this.baited.clear()
    this.network.heal()
    this.note(() => 'collusion heal')
  }

  private skip(view: number, why: string): false {
    this.skipped++
    this.note(() => `collusion ${this.mode} skips v${view}: ${why}`)
    return false
  }

  /**
   * splitQuorum, a message a Byzantine replica receives: the correct primary's pre-prepares of the strike view go on
   * to T (cut off from the primary). Pre-prepares and T's commits of the strike view are kept as bait: once the
   * new view is installed, the Byzantine replicas send them, with their own commits, to the backups of the new
   * view, which may learn an old view's decision from a pre-prepare and 2f+1 matching commits and must not from
   * these 2f (f from T, f Byzantine).
   */
  observe(self: NodeId, message: PbftMessage): readonly Outbound<PbftMessage>[] {
    const strike = this.strike
    const body = message.signed.body
    if (this.mode !== 'splitQuorum' || strike === null) return []
    if (body.type === 'newView' && body.view > strike.view && !this.baited.has(self)) {
      this.baited.add(self)
      const backups = [...strike.real].filter((id) => id !== body.replica)
      const bait: Outbound<PbftMessage>[] = []
      for (const kept of this.bait.values()) {
        if (kept.prePrepare === null || kept.commits.size === 0) continue
        for (const to of backups) for (const sent of [kept.prePrepare, ...kept.commits.values()]) bait.push({ to, message: sent })
      }
      if (bait.length > 0) this.note(() => `collusion ${self} baits ${backups} with ${bait.length} messages of v${strike.view}`)
      return bait
    }
    if ((body.type !== 'prePrepare' && body.type !== 'commit') || body.view !== strike.view) return []
    if (body.type === 'commit' && !strike.preparers.has(body.replica)) return []
    this.keepBait(body.seq, message)
    return body.type === 'prePrepare' ? [...strike.preparers].map((to) => ({ to, message })) : []
  }

  private keepBait(seq: number, message: PbftMessage): void {
    let kept = this.bait.get(seq)
    if (kept === undefined) {
      if (this.bait.size >= byzantineLimits.victimSlotsMax) return
      this.bait.set(seq, (kept = { prePrepare: null, commits: new Map() }))
    }
    const body = message.signed.body
    if (body.type === 'prePrepare') kept.prePrepare ??= message
    else kept.commits.set(body.replica, message)
  }

  /**
   * What Byzantine replica `self` sends in place of `out`: `[out]` when unchanged, else other messages (none to
   * drop it). Wherever it votes during a strike it commits at once as well: it needs no certificate to sign one.
   */
  corrupt(self: NodeId, out: Outbound<PbftMessage>): readonly Outbound<PbftMessage>[] {
    const body = out.message.signed.body
    const signer = this.byzantine.get(self)!
    // splitQuorum: its view changes leave out every prepared certificate (a valid view change; only less than it knows).
    if (this.mode === 'splitQuorum' && body.type === 'viewChange' && body.replica === self && body.prepared.length > 0) {
      return [{ to: out.to, message: { signed: signBody(signer, { ...body, prepared: [] }), batches: [] } }]
    }
    const strike = this.strike
    if (strike === null || (body.type !== 'prePrepare' && body.type !== 'prepare' && body.type !== 'commit') || body.view !== strike.view) return [out]
    const commit = (digest: Uint8Array): Outbound<PbftMessage> => ({ to: out.to, message: { signed: signBody(signer, { type: 'commit', replica: self, epoch: body.epoch, view: body.view, seq: body.seq, digest }), batches: [] } })
    const eager = body.replica === self && body.type !== 'commit'
    if (this.mode === 'splitQuorum') {
      if (strike.real.has(out.to)) return []
      if (!eager || !strike.preparers.has(out.to)) return [out]
      const own = commit(body.digest)
      this.keepBait(body.seq, own.message)
      return [out, own]
    }
    if (this.byzantine.has(out.to)) return [out]
    if (strike.real.has(out.to)) return eager ? [out, commit(body.digest)] : [out]
    if (!strike.other.has(out.to) || body.replica !== self) return []
    // The other side: the other batch, and votes for its digest.
    const other = this.otherOf(self, body, body.type === 'prePrepare' ? out.message.batches[0]! : null)
    if (other === null) return []
    if (body.type === 'prePrepare') return [{ to: out.to, message: other.message }, commit(other.digest)]
    const vote: Outbound<PbftMessage> = { to: out.to, message: { signed: signBody(signer, { ...body, digest: other.digest }), batches: [] } }
    return body.type === 'prepare' ? [vote, commit(other.digest)] : [vote]
  }

  /** The other batch of a slot, made by the Byzantine primary when it first pre-prepares there (null before: a vote has nothing to name yet). */
  private otherOf(self: NodeId, body: OrderBody, batch: Batch | null): { readonly digest: Uint8Array; readonly message: PbftMessage } | null {
    const key = `${body.view}/${body.seq}`
    const known = this.others.get(key)
    if (known !== undefined || batch === null || body.replica !== self) return known ?? null
    const signer = this.byzantine.get(self)!
    const otherBatch: Batch = batch.length > 0 ? batch.slice(0, -1) : [signBody(signer, { type: 'request', replica: self, epoch: body.epoch, requests: [] })]
    const digest = this.group.digestOf(otherBatch)
    const made = { digest, message: { signed: signBody(signer, { ...body, digest }), batches: [otherBatch] } }
    this.others.set(key, made)
    return made
  }
}
