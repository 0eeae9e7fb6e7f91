/**
 * The PBFT engine (Castro & Liskov, OSDI '99): n = 3f+1 replicas order client
 * requests so that every correct replica executes the same requests in the
 * same order while up to f replicas are Byzantine.
 *
 * Normal case: the primary of view v (replica v mod n) orders batches of
 * signed request bundles with pre-prepare; a backup that accepts one sends
 * prepare; pre-prepare plus 2f matching prepares from other backups make the
 * batch *prepared*, and the replica sends commit; 2f+1 matching commits make it
 * *committed*, and batches execute in sequence order. Each replica replies to
 * the gateway whose clients sent the requests; the gateway answers a client
 * once f+1 replies agree. Checkpoints every `checkpointInterval` sequence
 * numbers become stable with 2f+1 matching ones; then the log below is
 * collected and the watermarks move. A replica behind the stable checkpoint
 * catches up by state transfer.
 *
 * View change: a backup waiting too long for a request it knows of moves to
 * the next view and sends its prepared certificates; the new primary, with
 * 2f+1 view changes, orders again what may have committed (viewChange.ts).
 *
 * Every message is signed through the Signer port and checked before it is
 * used; what proves or suggests misbehaviour is recorded as evidence, which
 * feeds a reputation score per replica (evidence.ts).
 *
 * Messages are lost, duplicated and reordered: every replica sends a status
 * now and then, and peers answer with what it lacks (the messages of slots it
 * has not executed, the new view it missed, the stable checkpoint's state).
 *
 * Durability (records.ts): the view, accepted pre-prepares with their
 * batches, prepared certificates, decisions and the stable checkpoint (its
 * proof and the executed state with the client table) go out as Ready.writes
 * with mustSync, in the Ready of the step that makes them true, so they are
 * synced before any message that depends on them. A restarted replica
 * recovers them: it stays in its view, never sends a pre-prepare, prepare or
 * commit that conflicts with one it sent before, re-executes its decisions
 * above the stable checkpoint, and catches up with the others through the
 * status exchange and state transfer. It counts as correct throughout.
 *
 * Reconfiguration (reconfiguration.ts, groupConfig.ts): the group changes
 * only by a reconfiguration request it orders itself, approved by a quorum of
 * its replicas. Executed at sequence number s, it takes effect at the first
 * checkpoint C >= s: the primary fills (s, C] with null requests, nothing
 * above C executes in the old epoch, and once C is stable every replica of
 * the old group enters the new epoch with the state at C (view 0, the new
 * group's primary; the old epoch's slots above C are void). The checkpoint's
 * digest covers the new group, so the old group's stable proof of C certifies
 * it (an epoch link). A replica that leaves stops voting and ordering there,
 * and still answers state transfers; a replica that joins is built with the
 * group it joins from (a replica of no group: it only asks for state), and
 * state transfer brings it the state at C with the link, after which it votes.
 * Messages of another epoch are refused and counted (a status of an older one
 * is answered with the state and the links it lacks).
 *
 * The engine asserts its local invariants as it runs (invariants.ts) and
 * shows its state only as a copy, through `status()` (status.ts).
 */
import { limits } from '../lib/limits.ts'
import { assert } from '../lib/assert.ts'
import type { NodeId, Signer, StorageReader, StorageWrite } from '../ports.ts'
import { ReadyBuffer, ticksUntil, type Engine, type Ready, type Refusal } from '../ready.ts'
import type { StateMachine } from '../stateMachine.ts'
import { defaultPbftConfig, pbftLimits, replicasError, validatePbftConfig, type PbftConfig, type PbftReplica } from './config.ts'
import { Reputation, type Evidence, type EvidenceKind } from './evidence.ts'
import { clientKey, Executor } from './executor.ts'
import { bundleKey, Gateway } from './gateway.ts'
import { PbftGroup } from './group.ts'
import { checkpointDigest, type PbftGroupConfig } from './groupConfig.ts'
import { emptyBatch, sameBytes, signBody, type Batch, type CheckpointBody, type ClientResult, type EpochLink, type OrderBody, type PbftBody, type PbftMessage, type PreparedCertificate, type RequestBody, type Signed } from './messages.ts'
import { decodeReconfiguration, decodeReconfigurationResult, encodeReconfiguration, encodeReconfigurationResult, reconfigurationError, reconfigureClient, type PbftReconfiguration, type PbftReconfigurationResult } from './reconfiguration.ts'
import { certificateKey, decidedKey, loadSlots, newViewRecord, prePrepareKey, stableRecord, viewRecord, writeCertificateRecord, writeDecidedRecord, writePrePrepareRecord, type StoredSlot } from './records.ts'
import { checkpointProofDigest, computeNewViewOrder, viewChangeError, type Ordered, type ViewChangeMessage } from './viewChange.ts'
import { PbftInvariants } from './invariants.ts'
import { digestHex, type PbftMetrics, type PbftPendingCheckpoint, type PbftSlotStatus, type PbftStatus } from './status.ts'

export type { PbftMetrics, PbftStatus } from './status.ts'

export type PbftCommand =
  /** A client request entering at this replica (its gateway). Answered by a `reply` once f+1 replicas agree. */
  | { readonly type: 'request'; readonly client: string; readonly timestamp: number; readonly operation: Uint8Array }
  /** A read of this replica's executed state, answered at once (possibly stale: a follower read). */
  | { readonly type: 'query'; readonly readId: number; readonly query: Uint8Array }
  /**
   * A change of the group (reconfiguration.ts), approved by a quorum of the current group; it enters here like a
   * request and is answered by a `reconfigured` once f+1 replicas agree on the verdict.
   */
  | { readonly type: 'reconfigure'; readonly reconfiguration: PbftReconfiguration }

export interface ExecutedRequest {
  readonly gateway: NodeId
  readonly client: string
  readonly timestamp: number
  readonly outcome: 'applied' | 'repeated' | 'stale'
}

export type PbftApplied =
  /** This replica executed the batch at `seq` (in sequence order, exactly once per sequence number). */
  | { readonly type: 'executed'; readonly seq: number; readonly epoch: number; readonly view: number; readonly digest: Uint8Array; readonly requests: readonly ExecutedRequest[] }
  /** f+1 replicas agree on the result of a request that entered here: the client may be answered. */
  | { readonly type: 'reply'; readonly client: string; readonly timestamp: number; readonly result: Uint8Array }
  /**
   * A request that entered here was not executed: its client had executed a later one (it raced past the gateway's
   * check), or this replica left the group before the request was ordered (`groupChanged`: it may be sent again at a
   * replica of the new group).
   */
  | { readonly type: 'refused'; readonly client: string; readonly timestamp: number; readonly code: 'staleTimestamp' | 'groupChanged' }
  /** The verdict on a reconfiguration proposed here (f+1 replicas agree, or this replica executed it and moved on). */
  | { readonly type: 'reconfigured'; readonly timestamp: number; readonly result: PbftReconfigurationResult }
  | { readonly type: 'query'; readonly readId: number; readonly reply: Uint8Array; readonly executed: number }

export type PbftEvent =
  | { readonly kind: 'view'; readonly view: number; readonly primary: NodeId; readonly phase: 'changing' | 'active'; readonly reason: string }
  | { readonly kind: 'evidence'; readonly evidence: Evidence; readonly reputation: number }
  | { readonly kind: 'checkpoint'; readonly seq: number }
  | { readonly kind: 'stateTransfer'; readonly seq: number; readonly from: NodeId }
  /** A reconfiguration executed: the group `members` orders after `startSeq`, once the checkpoint there is stable. */
  | { readonly kind: 'reconfigurationOrdered'; readonly seq: number; readonly epoch: number; readonly startSeq: number; readonly members: readonly NodeId[] }
  /** This replica entered a new group epoch; `member`: it is one of the group (else it stopped voting and ordering). */
  | { readonly kind: 'groupChanged'; readonly epoch: number; readonly startSeq: number; readonly members: readonly NodeId[]; readonly member: boolean }

export interface PbftEngineOptions {
  readonly id: NodeId
  /**
   * The group this replica starts with, when storage holds none (storage wins: a restarted replica keeps the group
   * it had reached). A replica outside it starts as one of no group: it votes in nothing and catches up by state
   * transfer, and enters the group a reconfiguration adds it to (build a joining replica with the group it joins from).
   */
  readonly replicas: readonly PbftReplica[]
  /** The epoch of `replicas` and the sequence number it orders after (groupConfig.ts); 0 and 0 for a cluster's first group. */
  readonly epoch?: number
  readonly epochStartSeq?: number
  readonly signer: Signer
  readonly stateMachine: StateMachine
  /** What this replica stored before it restarted (records.ts); empty on a first start. */
  readonly storage: StorageReader
  readonly config?: Partial<PbftConfig>
}

/** One sequence number's protocol state. */
interface Slot {
  readonly seq: number
  /** The view the messages below belong to. */
  view: number
  prePrepare: Signed<OrderBody> | null
  batch: Batch | null
  /** By sender, the first prepare and commit of this view (any digest). */
  readonly prepares: Map<NodeId, Signed<OrderBody>>
  readonly commits: Map<NodeId, Signed<OrderBody>>
  prepared: boolean
  /** The prepared certificate of the highest view this replica prepared the slot in: it survives view changes. */
  certificate: { readonly certificate: PreparedCertificate; readonly batch: Batch } | null
  /** Committed (in some view): the batch to execute. Final: no later view orders anything else here. */
  decided: { readonly view: number; readonly digest: Uint8Array; readonly batch: Batch } | null
  /** Replicas already sent this slot's pre-prepare because they prepared something else (equivocation shows). */
  readonly shownTo: Set<NodeId>
  lastSendTick: number
  /** Views whose p record (pre-prepare and batch) storage holds for this slot. */
  readonly storedViews: number[]
  /** Views whose c record (certificate prepares) storage holds. */
  readonly storedCertificateViews: number[]
  /** Storage holds the d record; `decidedBatchStored`: with its own batch (else the p record of the decided view holds it). */
  decidedStored: boolean
  decidedBatchStored: boolean
}

/** Votes (by sender) for `digest`. */
function countMatching(votes: ReadonlyMap<NodeId, Signed<OrderBody>>, digest: Uint8Array): number {
  let matching = 0
  for (const vote of votes.values()) if (sameBytes(vote.body.digest, digest)) matching++
  return matching
}

/** Checkpoints (by sender) whose state digest is `digest`. */
function countMatchingCheckpoints(bySender: ReadonlyMap<NodeId, Signed<CheckpointBody>>, digest: Uint8Array): number {
  let matching = 0
  for (const checkpoint of bySender.values()) if (sameBytes(checkpoint.body.stateDigest, digest)) matching++
  return matching
}

/** Slots relayed to a lagging replica per status it sends. */
const relaySeqsMax = 8
/** A view change's timeout doubles with each further view, up to 2^this times viewChangeTicks (liveness needs growth; healing needs a bound). */
const viewChangeDoublingsMax = 4
/** Slots of older views being learnt from, per sequence number of the window. */
const learningViewsMax = 4

export class PbftEngine implements Engine<PbftCommand, PbftMessage, PbftApplied, PbftEvent> {
  readonly id: NodeId
  /** The group of this replica's epoch (whether or not this replica is one of it). */
  private group: PbftGroup
  /** The group of the epoch before (its replies and statuses are still taken), or null. */
  private previousGroup: PbftGroup | null = null
  /** The group an executed reconfiguration makes next: it orders after `next.startSeq`, once the checkpoint there is stable. */
  private next: PbftGroup | null = null
  /** The last epoch links, oldest first (groupConfig.ts): what a replica of an older epoch needs to trust this one. */
  private links: EpochLink[] = []
  /**
   * Recovered with a view record of a later epoch than its stable checkpoint's group: it had entered that epoch when
   * it crashed, but the stable record of the change was lost. It may vote in its old epoch no more; it waits for state.
   */
  private leftEpoch = false
  /** The tick the executed sequence last moved while a reconfiguration waits for its checkpoint (the backups' timer). */
  private boundaryProgressTick = 0
  private readonly config: PbftConfig
  private readonly reputation: Reputation
  private readonly invariants: PbftInvariants
  private readonly metrics: PbftMetrics = {
    decisions: 0,
    requestsExecuted: 0,
    prePreparesSent: 0,
    preparesSent: 0,
    commitsSent: 0,
    checkpointsSent: 0,
    viewChangesSent: 0,
    newViewsSent: 0,
    repliesSent: 0,
    requestsSent: 0,
    statusSent: 0,
    relaysSent: 0,
    statesSent: 0,
    viewChanges: 0,
    stateTransfers: 0,
    evidenceProven: 0,
    evidenceSuspected: 0,
    refused: 0,
    epochRefused: 0,
    reconfigurationsOrdered: 0,
    groupChanges: 0,
    signatures: 0,
    verifications: 0,
  }
  private readonly signer: Signer
  private readonly executor: Executor
  private readonly gateway = new Gateway()
  private readonly out = new ReadyBuffer<PbftMessage, PbftApplied, PbftEvent>()
  private tickCount = 0
  /** Signature checks of the groups this replica left. */
  private verificationsBefore = 0
  private viewNumber = 0
  private changing = false
  private viewChangeStartTick = 0
  private viewChangeAttempts = 0
  private stableSeq = 0
  private stableProof: readonly Signed<CheckpointBody>[] = []
  private executedSeq = 0
  private nextSeq = 1
  private readonly slots = new Map<number, Slot>()
  private readonly checkpoints = new Map<number, Map<NodeId, Signed<CheckpointBody>>>()
  /** This replica's state at each checkpoint it took above (and at) the stable one: the state, its digest, and the checkpoint digest (groupConfig.ts). */
  private readonly snapshots = new Map<number, { readonly state: Uint8Array; readonly machineDigest: Uint8Array; readonly digest: Uint8Array }>()
  /** The latest view change of each replica. */
  private readonly viewChanges = new Map<NodeId, ViewChangeMessage>()
  /** The new-view message of the current view, relayed to replicas still behind it. */
  private newViewMessage: PbftMessage | null = null
  /** At the primary: bundles to order, by key, oldest first. */
  private readonly queue = new Map<string, Signed<RequestBody>>()
  /** Bundles ordered in a slot not yet executed, by key. */
  private readonly ordered = new Map<string, number>()
  /** What each peer's last status said it executed: a peer that reports the same twice is stuck and is sent what it lacks. */
  private readonly peerExecuted = new Map<NodeId, number>()
  /** Pre-prepares and commits of older views, by "view:seq", to learn their decisions from. */
  private readonly learning = new Map<string, { readonly seq: number; prePrepare: Signed<OrderBody> | null; batch: Batch | null; readonly commits: Map<NodeId, Signed<OrderBody>> }>()
  private readonly viewRecord = viewRecord()
  private readonly newViewRecord = newViewRecord()
  private readonly stableRecord = stableRecord()
  /** Records for the next Ready, and whether a message gathered with them depends on them (always, for a record written). */
  private writes: StorageWrite[] = []
  private mustSync = false
  /**
   * Deletes of records the writes of this round make obsolete (below a new stable checkpoint, of a view left): they
   * go out one Ready later, once those writes are synced, so a crash never leaves the deletes without the writes.
   */
  private deletesQueued: StorageWrite[] = []
  private deletesDue: StorageWrite[] = []
  /** The view, the new-view message, the stable checkpoint changed since the last Ready: their records go into the next. */
  private viewChanged = false
  private newViewChanged = false
  private stableChanged = false
  /** Bundles this replica knows are outstanding, by key, with the tick it began waiting: the request timer. */
  private readonly watched = new Map<string, { readonly bundle: Signed<RequestBody>; sinceTick: number }>()

  constructor(options: PbftEngineOptions) {
    const config = { ...defaultPbftConfig, ...options.config }
    validatePbftConfig(config, options.replicas)
    this.id = options.id
    this.config = config
    this.signer = options.signer
    this.group = new PbftGroup(options.replicas, options.signer, options.epoch ?? 0, options.epochStartSeq ?? 0)
    this.executor = new Executor(options.stateMachine)
    this.reputation = new Reputation(this.group.ids, config.suspicionHalfLifeTicks)
    this.invariants = new PbftInvariants(this.id, { epoch: 0, view: 0, executed: 0, lowWatermark: 0, highWatermark: config.windowSeqs })
    this.recover(options.storage)
    this.checkInvariants()
  }

  /**
   * Takes up what storage holds (records.ts): the view, the stable checkpoint's
   * state, and above it each slot's pre-prepare of this view (with this
   * replica's prepare, and its commit when prepared here), its highest
   * certificate and its decision; then executes the decisions in order. What
   * a crash tore, or kept from a Ready that never finished (a record of a view
   * not stored, a certificate or decision without its pre-prepare), is deleted
   * by the second Ready, after the first has synced what recovery read: no message depended on it.
   */
  private recover(storage: StorageReader): void {
    // The group first: it lives with the stable checkpoint (records.ts), and the view is of its epoch.
    const stable = this.stableRecord.load(storage)
    if (stable !== undefined) {
      assert(this.executor.restore(stable.state), `pbft: the stored state at the stable checkpoint n${stable.seq} does not decode`)
      this.group = PbftGroup.of(stable.group, this.signer)
      this.previousGroup = stable.previous === null ? null : PbftGroup.of(stable.previous, this.signer)
      this.links = stable.links.slice()
      this.reputation.regroup(this.group.ids)
      this.stableSeq = stable.seq
      this.stableProof = stable.proof
      this.executedSeq = stable.seq
      const machineDigest = this.signer.digest(stable.state)
      this.snapshots.set(stable.seq, { state: stable.state, machineDigest, digest: checkpointDigest(this.signer, stable.group, machineDigest) })
    }
    const view = this.viewRecord.load(storage)
    if (view !== undefined && view.epoch === this.group.epoch) {
      this.viewNumber = view.view
      this.changing = view.changing
    } else if (view !== undefined && view.epoch > this.group.epoch) this.leftEpoch = true
    // (A view of an older epoch: the change to this one was stored, its first view record was not; it starts at view 0.)
    const newView = this.newViewRecord.load(storage)
    if (newView !== undefined && newView.signed.body.type === 'newView' && newView.signed.body.epoch === this.group.epoch && newView.signed.body.view === this.viewNumber && !this.changing) this.newViewMessage = newView
    const { slots, deletes } = loadSlots(storage, this.group.epoch, (seq, view) => seq > this.stableSeq && seq <= this.stableSeq + this.config.windowSeqs && (view === null || view <= this.viewNumber))
    for (const write of deletes) this.deletesQueued.push(write)
    for (const seq of [...slots.keys()].sort((a, b) => a - b)) this.recoverSlot(slots.get(seq)!)
    // What recovery read may still sit unsynced in a page cache that outlived the process: the first Ready syncs it,
    // and only the next one deletes what recovery found obsolete.
    if (this.deletesQueued.length > 0) this.mustSync = true
    // Never a second pre-prepare for a (view, seq) it signed: those of its slots, and those of its new-view message
    // (which may order sequence numbers beyond its own window that it never took into a slot).
    for (const slot of this.slots.values()) if (slot.prePrepare !== null) this.nextSeq = Math.max(this.nextSeq, slot.seq + 1)
    if (this.newViewMessage !== null && this.newViewMessage.signed.body.type === 'newView') for (const prePrepare of this.newViewMessage.signed.body.prePrepares) this.nextSeq = Math.max(this.nextSeq, prePrepare.body.seq + 1)
    this.nextSeq = Math.max(this.nextSeq, this.executedSeq + 1)
    if (this.changing && this.voting) {
      this.viewChangeAttempts = 1
      this.sendViewChange('restarted while changing view')
    }
    this.executeReady()
  }

  private recoverSlot(stored: StoredSlot): void {
    const slot = this.slotAt(stored.seq)
    for (const view of stored.prePrepares.keys()) slot.storedViews.push(view)
    for (const view of stored.certificates.keys()) slot.storedCertificateViews.push(view)
    for (const view of [...stored.certificates.keys()].sort((a, b) => b - a)) {
      const prePrepare = stored.prePrepares.get(view)
      if (prePrepare === undefined) continue
      slot.certificate = { certificate: { prePrepare: prePrepare.prePrepare, prepares: stored.certificates.get(view)! }, batch: prePrepare.batch }
      break
    }
    const current = this.changing ? undefined : stored.prePrepares.get(this.viewNumber)
    if (current !== undefined) {
      // As accept() left it: this replica's prepare (and commit, once prepared) signed again, the same vote it sent.
      slot.prePrepare = current.prePrepare
      slot.batch = current.batch
      for (const bundle of current.batch) this.ordered.set(bundleKey(bundle), slot.seq)
      const digest = current.prePrepare.body.digest
      if (current.prePrepare.body.replica !== this.id) slot.prepares.set(this.id, this.sign({ type: 'prepare', replica: this.id, epoch: this.group.epoch, view: this.viewNumber, seq: slot.seq, digest }))
      if (slot.certificate !== null && slot.certificate.certificate.prePrepare.body.view === this.viewNumber) {
        slot.prepared = true
        slot.commits.set(this.id, this.sign({ type: 'commit', replica: this.id, epoch: this.group.epoch, view: this.viewNumber, seq: slot.seq, digest }))
      }
    }
    if (stored.decided !== null) {
      const batch = stored.decided.batch ?? stored.prePrepares.get(stored.decided.view)?.batch
      if (batch !== undefined) {
        slot.decided = { view: stored.decided.view, digest: stored.decided.digest, batch }
        slot.decidedStored = true
        slot.decidedBatchStored = stored.decided.batch !== null
      } else this.deletesQueued.push({ key: decidedKey(slot.seq), value: null })
    }
    this.dropStaleRecords(slot, this.deletesQueued)
    if (slot.prePrepare === null && slot.certificate === null && slot.decided === null) this.slots.delete(slot.seq)
  }

  private get primary(): NodeId {
    return this.group.primaryOf(this.viewNumber)
  }

  /**
   * This replica takes part in its epoch: it is one of the group, holds the state the epoch starts from (a replica
   * built with a later group than its state waits for the epoch's first stable checkpoint), and did not leave it.
   */
  private get voting(): boolean {
    return !this.leftEpoch && this.group.has(this.id) && this.executedSeq >= this.group.startSeq
  }

  /** The last sequence number the current epoch may execute: an executed reconfiguration's start, else none. */
  private get lastEpochSeq(): number {
    return this.next === null ? Number.MAX_SAFE_INTEGER : this.next.startSeq
  }

  /** A group this replica knows `id` in (current, next or previous), for its key; null: a stranger. */
  private groupKnowing(id: NodeId): PbftGroup | null {
    if (this.group.has(id)) return this.group
    if (this.next !== null && this.next.has(id)) return this.next
    if (this.previousGroup !== null && this.previousGroup.has(id)) return this.previousGroup
    return null
  }

  /** Signature checks done in every group this replica held (they dominate the cost; benchmarks report them). */
  private get verifications(): number {
    return this.verificationsBefore + this.group.verifications + (this.next?.verifications ?? 0) + (this.previousGroup?.verifications ?? 0)
  }

  /** 'normal' in an installed view, 'viewChange' while waiting for the new view. */
  private get phase(): 'normal' | 'viewChange' {
    return this.changing ? 'viewChange' : 'normal'
  }

  /** This replica as plain data (copies): what viewers, checkers and tests read instead of its fields. */
  status(): PbftStatus {
    let sequence = this.executedSeq
    const slots: PbftSlotStatus[] = []
    for (const slot of this.slots.values()) {
      if (slot.prePrepare !== null || slot.decided !== null) sequence = Math.max(sequence, slot.seq)
      const certificateView = slot.certificate === null ? null : slot.certificate.certificate.prePrepare.body.view
      slots.push({ seq: slot.seq, view: slot.view, prePrepared: slot.prePrepare !== null, prepares: slot.prepares.size, commits: slot.commits.size, prepared: slot.prepared, certificateView, decided: slot.decided !== null })
    }
    slots.sort((a, b) => a.seq - b.seq)
    const stableDigest = this.stableProof[0]?.body.stateDigest
    const pendingCheckpoints: PbftPendingCheckpoint[] = []
    for (const seq of new Set([...this.checkpoints.keys(), ...this.snapshots.keys()])) {
      if (seq <= this.stableSeq) continue
      const bySender = this.checkpoints.get(seq)
      const own = this.snapshots.get(seq)
      let matchingOwn = 0
      if (bySender !== undefined && own !== undefined) matchingOwn = countMatchingCheckpoints(bySender, own.digest)
      pendingCheckpoints.push({ seq, votes: bySender?.size ?? 0, matchingOwn, taken: own !== undefined })
    }
    pendingCheckpoints.sort((a, b) => a.seq - b.seq)
    return {
      id: this.id,
      view: this.viewNumber,
      primary: this.primary,
      phase: this.phase,
      sequence,
      executed: this.executedSeq,
      lowWatermark: this.stableSeq,
      highWatermark: this.stableSeq + this.config.windowSeqs,
      slots,
      stableCheckpoint: { seq: this.stableSeq, stateDigest: stableDigest === undefined ? null : digestHex(stableDigest), signers: this.stableProof.map((checkpoint) => checkpoint.body.replica) },
      pendingCheckpoints,
      epoch: this.group.epoch,
      epochStartSeq: this.group.startSeq,
      members: this.group.ids.slice(),
      member: this.voting,
      nextGroup: this.next === null ? null : { epoch: this.next.epoch, startSeq: this.next.startSeq, members: this.next.ids.slice() },
      replicas: this.reputation.status(),
      recentEvidence: this.reputation.recentEvidence(),
      pendingRequests: this.gateway.pendingCount,
      queuedBundles: this.queue.size,
      metrics: { ...this.metrics, verifications: this.verifications },
    }
  }

  /** The invariants of invariants.ts that hold between inputs. */
  private checkInvariants(): void {
    this.invariants.check({ epoch: this.group.epoch, view: this.viewNumber, executed: this.executedSeq, lowWatermark: this.stableSeq, highWatermark: this.stableSeq + this.config.windowSeqs })
  }

  /** The timestamp of the last executed request of `client` entering here, or -1: a restarted gateway's next one must be later. */
  lastExecutedTimestamp(client: string): number {
    return this.executor.lastTimestamp(clientKey(this.id, client))
  }

  // ----- the engine contract -----

  step(from: NodeId, message: PbftMessage): Refusal | null {
    this.out.assertIdle('step')
    const refusal = this.stepChecked(from, message)
    this.metrics.verifications = this.verifications
    if (refusal !== null) this.metrics.refused++
    this.checkInvariants()
    return refusal
  }

  tick(): void {
    this.out.assertIdle('tick')
    this.tickCount++
    this.reputation.tick()
    if (!this.voting) {
      // One of no group (joining, left, or waiting for the state its epoch starts from): it only asks for state.
      if (this.tickCount % this.config.statusTicks === 0) this.sendStatus()
      this.checkInvariants()
      return
    }
    // Its epoch executed all it may (a reconfiguration waits for its checkpoint): nothing more to time out on.
    const epochDone = this.executedSeq >= this.lastEpochSeq
    if (!this.changing) {
      const oldest = this.watched.values().next().value
      if (epochDone || this.primary === this.id) {
        // Nothing to time out on: the epoch executed all it may (a reconfiguration waits for its checkpoint), or this replica leads.
      } else if (oldest !== undefined && this.tickCount - oldest.sinceTick >= this.config.requestTimeoutTicks) this.startViewChange(this.viewNumber + 1, 'request timeout')
      // An executed reconfiguration waits for the primary to fill the epoch up to its checkpoint.
      else if (this.next !== null && this.tickCount - this.boundaryProgressTick >= this.config.requestTimeoutTicks) this.startViewChange(this.viewNumber + 1, 'reconfiguration checkpoint not reached')
    } else if (this.tickCount - this.viewChangeStartTick >= this.config.viewChangeTicks * 2 ** Math.min(this.viewChangeAttempts - 1, viewChangeDoublingsMax)) {
      if (this.viewChangeSupporters() >= this.group.f) this.startViewChange(this.viewNumber + 1, 'view change timeout')
      else {
        // Alone in wanting this view: climbing further would only take it further from the group, so it waits here,
        // where the group's next view change will find it, and meanwhile learns the group's decisions (learn()).
        this.viewChangeStartTick = this.tickCount
        const own = this.viewChanges.get(this.id)
        if (own !== undefined) this.broadcast(own, 'viewChangesSent')
      }
    }
    for (const bundle of this.gateway.due(this.tickCount, this.config.retransmitTicks)) {
      // No answer: every replica learns of the bundle, so that a primary that ignores it is replaced.
      this.broadcast({ signed: bundle, batches: [] }, 'requestsSent')
      this.watch(bundle)
      if (this.primary === this.id && !this.changing) this.enqueue(bundle)
    }
    if (this.tickCount % this.config.statusTicks === 0) this.sendStatus()
    this.checkInvariants()
  }

  /**
   * Ticks until a tick may have work (core/ready.ts): a watched request's
   * timeout (on a backup), the view change's timeout, a gateway bundle's
   * retransmission, and the status broadcast every statusTicks. Reputation
   * decays every tick, but that is a pure function of the ticks run, which a
   * sleeping host runs before anyone reads or uses it.
   */
  ticksUntilWork(): number {
    const now = this.tickCount
    const statusTicks = this.config.statusTicks
    let due = now + statusTicks - (now % statusTicks)
    if (!this.changing) {
      const oldest = this.watched.values().next().value
      if (this.primary !== this.id && oldest !== undefined) due = Math.min(due, oldest.sinceTick + this.config.requestTimeoutTicks)
    } else due = Math.min(due, this.viewChangeStartTick + this.config.viewChangeTicks * 2 ** Math.min(this.viewChangeAttempts - 1, viewChangeDoublingsMax))
    due = Math.min(due, this.gateway.nextDueTick(this.config.retransmitTicks))
    return ticksUntil(due, now)
  }

  propose(command: PbftCommand): Refusal | null {
    this.out.assertIdle('propose')
    if (command.type === 'query') {
      this.out.applied.push({ type: 'query', readId: command.readId, reply: this.executor.query(command.query), executed: this.executedSeq })
      return null
    }
    if (!this.voting) return { code: 'notMember', message: `${this.id} is not a voting replica of the pbft group of epoch ${this.group.epoch} (${this.group.ids.join(', ')})` }
    if (command.type === 'reconfigure') return this.proposeReconfiguration(command.reconfiguration)
    if (command.client === reconfigureClient) return { code: 'invalid', message: `client id ${reconfigureClient} is reserved for reconfigurations` }
    const last = this.executor.lastTimestamp(clientKey(this.id, command.client))
    if (command.timestamp >= 0 && command.timestamp <= last) return { code: 'staleTimestamp', message: `client ${command.client} executed timestamp ${last} already; a request needs a later one` }
    return this.gateway.propose({ client: command.client, timestamp: command.timestamp, operation: command.operation })
  }

  /**
   * Checked here before it is ordered (and again where it executes): a reconfiguration from this epoch, approved by
   * a quorum of its replicas, while no other one waits for its checkpoint. It enters as a request of the reserved
   * client, with the next timestamp of that client at this gateway.
   */
  private proposeReconfiguration(reconfiguration: PbftReconfiguration): Refusal | null {
    if (this.next !== null) return { code: 'busy', message: `a reconfiguration to epoch ${this.next.epoch} waits for its checkpoint n${this.next.startSeq}` }
    const error = reconfigurationError(this.group, this.config, reconfiguration)
    if (error !== null) return { code: 'unauthorized', message: error }
    const timestamp = this.executor.lastTimestamp(clientKey(this.id, reconfigureClient)) + 1
    return this.gateway.propose({ client: reconfigureClient, timestamp, operation: encodeReconfiguration(reconfiguration) })
  }

  /** The group epoch this replica is in (cheaper than status() for hosts and checkers that look at every message). */
  get epoch(): number {
    return this.group.epoch
  }

  /** The current group as the replica layer needs it: epoch, the sequence number it orders after, members with keys. */
  groupConfig(): PbftGroupConfig {
    return this.group.config
  }

  /**
   * Free of side effects: true when something waits to go out, or when
   * `ready()` will bundle or order something. Bundling and ordering happen in
   * `ready()`, so the requests of several inputs between two Readies share a
   * bundle and a batch.
   */
  hasReady(): boolean {
    return !this.out.isHandedOut && (this.out.hasPending || this.mustSync || this.writes.length > 0 || this.deletesDue.length > 0 || this.deletesQueued.length > 0 || this.gateway.hasOutbox || this.canOrder())
  }

  ready(): Ready<PbftMessage, PbftApplied, PbftEvent> {
    this.flush()
    this.checkInvariants()
    this.metrics.verifications = this.verifications
    this.writeTwoSlotRecords()
    let writes = this.writes
    if (this.deletesDue.length > 0) writes = writes.length === 0 ? this.deletesDue : writes.concat(this.deletesDue)
    // Deletes queued this round wait for the next Ready: this one syncs the writes that made them obsolete.
    assert(this.deletesQueued.length === 0 || this.mustSync, 'pbft: deletes queued without a synced write that makes them obsolete')
    if (this.deletesDue.length > 0 || this.deletesQueued.length > 0) {
      // Never one array in both places: what is queued from now on must not join the deletes handed out now.
      this.deletesDue = this.deletesQueued
      this.deletesQueued = []
    }
    const ready = this.out.handOut(writes, this.mustSync)
    if (this.writes.length > 0) this.writes = []
    this.mustSync = false
    return ready
  }

  advance(ready: Ready<PbftMessage, PbftApplied, PbftEvent>): void {
    this.out.advance(ready)
  }

  // ----- storage (records.ts) -----

  /** A record a message of this round depends on: synced before the Ready's messages leave. */
  private persist(write: StorageWrite): void {
    this.writes.push(write)
    this.mustSync = true
  }

  /** The view record is written once per Ready, in ready(): see `viewChanged`. */
  private persistView(): void {
    this.viewChanged = true
    this.mustSync = true
  }

  /**
   * The records kept in two slots, written at most once per Ready (several
   * writes of one between two syncs could tear the slot holding the synced
   * value and lose the other write, taking recovery back two values).
   */
  private writeTwoSlotRecords(): void {
    if (this.viewChanged) this.writes.push(this.viewRecord.write({ epoch: this.group.epoch, view: this.viewNumber, changing: this.changing }))
    if (this.newViewChanged && this.newViewMessage !== null) this.writes.push(this.newViewRecord.write(this.newViewMessage))
    if (this.stableChanged) {
      const own = this.snapshots.get(this.stableSeq)!
      this.writes.push(this.stableRecord.write({ seq: this.stableSeq, proof: this.stableProof, state: own.state, group: this.group.config, previous: this.previousGroup?.config ?? null, links: this.links }))
    }
    this.viewChanged = this.newViewChanged = this.stableChanged = false
  }

  /**
   * Deletes (into `into`) the slot's records no longer needed: p and c records
   * of views other than the current pre-prepare's, the certificate's and the
   * one a decision without its own batch refers to.
   */
  private dropStaleRecords(slot: Slot, into: StorageWrite[]): void {
    const certificateView = slot.certificate === null ? -1 : slot.certificate.certificate.prePrepare.body.view
    const decidedView = slot.decided !== null && slot.decidedStored && !slot.decidedBatchStored ? slot.decided.view : -1
    const currentView = slot.prePrepare === null ? -1 : slot.view
    const needed = (view: number): boolean => view === currentView || view === certificateView || view === decidedView
    for (let index = slot.storedViews.length - 1; index >= 0; index--) {
      const view = slot.storedViews[index]!
      if (needed(view)) continue
      into.push({ key: prePrepareKey(slot.seq, view), value: null })
      slot.storedViews.splice(index, 1)
    }
    for (let index = slot.storedCertificateViews.length - 1; index >= 0; index--) {
      const view = slot.storedCertificateViews[index]!
      if (view === certificateView) continue
      into.push({ key: certificateKey(slot.seq, view), value: null })
      slot.storedCertificateViews.splice(index, 1)
    }
  }

  /** Deletes (into `into`) every record of a slot this replica forgets. */
  private dropSlotRecords(slot: Slot, into: StorageWrite[]): void {
    for (const view of slot.storedViews) into.push({ key: prePrepareKey(slot.seq, view), value: null })
    for (const view of slot.storedCertificateViews) into.push({ key: certificateKey(slot.seq, view), value: null })
    if (slot.decidedStored) into.push({ key: decidedKey(slot.seq), value: null })
    slot.storedViews.length = 0
    slot.storedCertificateViews.length = 0
    slot.decidedStored = false
  }

  /** Sets the slot's decision and stores it; the batch goes into the record unless the slot's p record of `view` holds it. */
  private decide(slot: Slot, view: number, digest: Uint8Array, batch: Batch): void {
    this.invariants.decided(slot.seq, slot.decided !== null)
    slot.decided = { view, digest, batch }
    slot.decidedBatchStored = !slot.storedViews.includes(view)
    slot.decidedStored = true
    this.persist(writeDecidedRecord(slot.seq, { epoch: this.group.epoch, view, digest, batch: slot.decidedBatchStored ? batch : null }))
  }

  // ----- sending -----

  private sign<B extends PbftBody>(body: B): Signed<B> {
    this.metrics.signatures++
    return signBody(this.signer, body)
  }

  private send(to: NodeId, message: PbftMessage, counter: keyof PbftMetrics): void {
    if (this.out.send(to, message, limits.readyMessagesMax)) this.metrics[counter]++
  }

  private broadcast(message: PbftMessage, counter: keyof PbftMetrics): void {
    for (const id of this.group.ids) if (id !== this.id) this.send(id, message, counter)
  }

  /** Bundles this gateway's waiting requests, and lets the primary order what it can. */
  private flush(): void {
    if (this.out.isHandedOut || !this.voting) return
    while (this.gateway.hasOutbox) {
      const requests = this.gateway.takeOutbox(this.config.bundleRequestsMax, pbftLimits.batchBytesMax / 2)
      const bundle = this.sign({ type: 'request', replica: this.id, epoch: this.group.epoch, requests })
      this.gateway.sent(bundle, this.tickCount)
      if (this.primary === this.id && !this.changing) this.enqueue(bundle)
      else this.send(this.primary, { signed: bundle, batches: [] }, 'requestsSent')
    }
    this.order()
  }

  // ----- evidence -----

  private evidence(replica: NodeId, kind: EvidenceKind, view: number, seq: number, detail: string): void {
    const evidence = this.reputation.record(replica, kind, view, seq, detail)
    if (evidence === null) return
    if (evidence.proven) this.metrics.evidenceProven++
    else this.metrics.evidenceSuspected++
    this.out.events.push({ kind: 'evidence', evidence, reputation: this.reputation.score(replica) })
  }

  private refuse(from: NodeId, kind: EvidenceKind, view: number, seq: number, detail: string): Refusal {
    this.evidence(from, kind, view, seq, detail)
    return { code: kind, message: detail }
  }

  // ----- receiving -----

  private stepChecked(from: NodeId, message: PbftMessage): Refusal | null {
    if (this.groupKnowing(from) === null) return { code: 'unknownPeer', message: `${from} is not a replica of this group (epoch ${this.group.epoch}), the next or the previous one` }
    const signed = message.signed
    const body = signed.body
    if (body.epoch !== this.group.epoch) return this.stepOtherEpoch(from, message)
    // A replica of no group (joining, or one that left) still says how far it is, to be sent the state it lacks.
    if (body.type === 'status' && from === body.replica && !this.group.has(from))
      return this.groupKnowing(from)!.verifyBytes(from, signed.bytes, signed.signature) ? this.handleStatus(body) : { code: 'badSignature', message: `status from ${from} does not verify` }
    if (!this.group.has(from)) return { code: 'notMember', message: `${from} is not a replica of epoch ${this.group.epoch}` }
    if (!this.voting && body.type !== 'checkpoint' && body.type !== 'state' && body.type !== 'reply' && body.type !== 'status') return { code: 'notVoting', message: `${this.id} votes in no group now (epoch ${this.group.epoch})` }
    if (this.isDuplicate(signed)) return null
    // A signature that does not verify under the named sender's key: the peer that sent it is faulty (or forges).
    if (!this.group.verify(signed)) return this.refuse(from, 'badSignature', 'view' in body ? body.view : 0, 'seq' in body ? body.seq : 0, `${body.type} claiming ${body.replica} does not verify`)
    switch (body.type) {
      case 'request':
        return this.handleRequest(from, signed as Signed<RequestBody>)
      case 'prePrepare':
      case 'commit':
        if (this.isLearnable(body)) return this.learn(signed as Signed<OrderBody>, message.batches[0])
        return body.type === 'prePrepare' ? this.handlePrePrepare(from, signed as Signed<OrderBody>, message.batches[0]) : this.handleVote(from, signed as Signed<OrderBody>)
      case 'prepare':
        return this.handleVote(from, signed as Signed<OrderBody>)
      case 'reply':
        return this.handleReply(body)
      case 'checkpoint':
        return this.handleCheckpoint(signed as Signed<CheckpointBody>)
      case 'viewChange':
        return this.handleViewChange({ signed: signed as Signed<Extract<PbftBody, { type: 'viewChange' }>>, batches: message.batches })
      case 'newView':
        return this.handleNewView(from, message)
      case 'status':
        return this.handleStatus(body)
      case 'state':
        return this.handleState(from, body)
    }
  }

  /** Results of requests that entered here, from a replica that executed them: f+1 matching ones of its epoch's group answer the client. */
  private handleReply(body: Extract<PbftBody, { type: 'reply' }>, group: PbftGroup = this.group): Refusal | null {
    if (body.gateway !== this.id) return { code: 'notGateway', message: `reply for gateway ${body.gateway}` }
    for (const result of body.results) this.vote(body.replica, result, group)
    return null
  }

  /**
   * A message of another epoch than this replica's. Those of an older one are refused and counted, except the
   * replies of the previous group (for requests it executed before the change: counted in its group) and statuses,
   * which show a replica behind a reconfiguration: it is sent the state and the links it lacks. A message of a later
   * epoch shows this replica is behind: its status goes to the sender, which answers it so.
   */
  private stepOtherEpoch(from: NodeId, message: PbftMessage): Refusal | null {
    const signed = message.signed
    const body = signed.body
    const keys = this.groupKnowing(body.replica)
    if (body.type === 'state' && body.epoch > this.group.epoch) {
      // Its links and proofs certify it (handleState checks them from this replica's group on); the sender's own
      // signature is checked when this replica knows its key.
      if (keys !== null && !keys.verifyBytes(body.replica, signed.bytes, signed.signature)) return { code: 'badSignature', message: `state claiming ${body.replica} does not verify` }
      return this.handleState(from, body)
    }
    this.metrics.epochRefused++
    if (body.epoch > this.group.epoch) {
      if (body.type === 'status' && from === body.replica && keys !== null && keys.verifyBytes(from, signed.bytes, signed.signature)) this.sendStatus(from)
      return { code: 'laterEpoch', message: `${body.type} of epoch ${body.epoch}, this replica is in epoch ${this.group.epoch}` }
    }
    if (body.type === 'reply' && this.previousGroup !== null && body.epoch === this.previousGroup.epoch && this.previousGroup.has(from) && this.previousGroup.verify(signed)) {
      this.metrics.epochRefused--
      return this.handleReply(body, this.previousGroup)
    }
    if (body.type === 'status' && from === body.replica && keys !== null && keys.verifyBytes(from, signed.bytes, signed.signature)) this.sendStateToOlderEpoch(body)
    return { code: 'olderEpoch', message: `${body.type} of epoch ${body.epoch}, this replica is in epoch ${this.group.epoch}` }
  }

  /** Sends a replica of an older epoch the stable checkpoint, with the links from its epoch on (when it stays stuck there). */
  private sendStateToOlderEpoch(body: Extract<PbftBody, { type: 'status' }>): void {
    const previous = this.peerExecuted.get(body.replica)
    this.peerExecuted.set(body.replica, body.executed)
    if (previous !== body.executed) return
    const links = this.links.filter((link) => link.group.epoch > body.epoch)
    const snapshot = this.snapshots.get(this.stableSeq)
    // Too far behind for the links kept (pbftLimits.epochLinksKept): it needs a newer group to start from.
    if (links.length === 0 || links[0]!.group.epoch !== body.epoch + 1 || snapshot === undefined) return
    const state = body.executed < this.stableSeq ? snapshot.state : new Uint8Array(0)
    this.send(body.replica, { signed: this.sign({ type: 'state', replica: this.id, epoch: this.group.epoch, seq: this.stableSeq, checkpoints: this.stableProof, links, state }), batches: [] }, 'statesSent')
  }

  /** A pre-prepare, prepare or commit this replica holds already, signature for signature (resent or duplicated): nothing to verify or do. */
  private isDuplicate(signed: Signed): boolean {
    const body = signed.body
    if (body.type !== 'prePrepare' && body.type !== 'prepare' && body.type !== 'commit') return false
    const slot = this.slots.get(body.seq)
    if (slot === undefined || slot.view !== body.view) return false
    const held = body.type === 'prePrepare' ? slot.prePrepare : (body.type === 'prepare' ? slot.prepares : slot.commits).get(body.replica)
    return held !== null && held !== undefined && sameBytes(held.signature, signed.signature)
  }

  private handleRequest(from: NodeId, bundle: Signed<RequestBody>): Refusal | null {
    const gateway = bundle.body.replica
    if (this.bundleDone(bundle)) {
      // Executed already: the gateway lost replies, so answer again from the client table.
      const results: ClientResult[] = []
      for (const request of bundle.body.requests) {
        const result = this.executor.resultAt(clientKey(gateway, request.client), request.timestamp)
        if (result !== undefined) results.push({ client: request.client, timestamp: request.timestamp, result })
      }
      if (results.length > 0 && gateway !== this.id)
        this.send(gateway, { signed: this.sign({ type: 'reply', replica: this.id, epoch: this.group.epoch, view: this.viewNumber, seq: this.executedSeq, gateway, results }), batches: [] }, 'repliesSent')
      return null
    }
    if (this.primary === this.id && !this.changing) return this.enqueue(bundle)
    if (from === gateway) {
      // A gateway that got no answer sent it to everyone: pass it to the primary and start waiting for it.
      if (this.watched.size >= pbftLimits.queuedBundlesMax) return { code: 'queueFull', message: `${this.watched.size} bundles watched, limit queuedBundlesMax=${pbftLimits.queuedBundlesMax}` }
      this.watch(bundle)
      if (!this.changing) this.send(this.primary, { signed: bundle, batches: [] }, 'requestsSent')
    }
    return null
  }

  /** Checks that a pre-prepare, prepare or commit belongs to this view and window; records stale or far messages as suspected. */
  private inWindow(from: NodeId, body: OrderBody): Refusal | null {
    if (body.view > this.viewNumber || (this.changing && body.view === this.viewNumber)) return { code: 'notInView', message: `v${body.view} is not installed here (v${this.viewNumber} ${this.phase})` }
    if (body.view < this.viewNumber) return this.refuse(from, 'wrongView', body.view, body.seq, `${body.type} of v${body.view} in v${this.viewNumber}`)
    if (body.seq <= this.stableSeq) return this.refuse(from, 'replay', body.view, body.seq, `${body.type} for n${body.seq} at or below the stable checkpoint n${this.stableSeq}`)
    if (body.seq > this.stableSeq + this.config.windowSeqs) return this.refuse(from, 'outsideWatermarks', body.view, body.seq, `${body.type} for n${body.seq} above the high watermark n${this.stableSeq + this.config.windowSeqs}`)
    // Above an executed reconfiguration's checkpoint the next group orders (a primary may have sent it before it executed the reconfiguration).
    if (body.seq > this.lastEpochSeq) return { code: 'afterEpoch', message: `${body.type} for n${body.seq} above n${this.lastEpochSeq}, where epoch ${this.group.epoch} ends` }
    return null
  }

  private slotAt(seq: number): Slot {
    let slot = this.slots.get(seq)
    if (slot === undefined) {
      slot = {
        seq,
        view: this.viewNumber,
        prePrepare: null,
        batch: null,
        prepares: new Map(),
        commits: new Map(),
        prepared: false,
        certificate: null,
        decided: null,
        shownTo: new Set(),
        lastSendTick: this.tickCount,
        storedViews: [],
        storedCertificateViews: [],
        decidedStored: false,
        decidedBatchStored: false,
      }
      this.slots.set(seq, slot)
    }
    return slot
  }

  private handlePrePrepare(from: NodeId, signed: Signed<OrderBody>, batch: Batch | undefined): Refusal | null {
    const body = signed.body
    if (body.replica !== this.group.primaryOf(body.view)) return this.refuse(body.replica, 'notPrimary', body.view, body.seq, `pre-prepare from ${body.replica}, not the primary of v${body.view}`)
    const outside = this.inWindow(from, body)
    if (outside !== null) return outside
    if (batch === undefined) return { code: 'malformed', message: 'pre-prepare without its batch' }
    // The batch travels unsigned beside the signed digest: whoever delivered a batch that does not match is at fault.
    if (!this.group.batchMatches(batch, body.digest)) return this.refuse(from, 'badDigest', body.view, body.seq, `batch of n${body.seq} does not match the pre-prepare's digest`)
    const slot = this.slotAt(body.seq)
    if (slot.prePrepare !== null) {
      if (sameBytes(slot.prePrepare.body.digest, body.digest)) return null
      return this.refuse(body.replica, 'equivocation', body.view, body.seq, `two pre-prepares for v${body.view} n${body.seq} with different digests`)
    }
    if (this.holdsForgedBundle(batch, body.replica)) return this.refuse(body.replica, 'badRequest', body.view, body.seq, `batch of n${body.seq} holds a bundle whose signature does not verify`)
    this.accept(slot, signed, batch)
    return null
  }

  /**
   * True when a bundle of the batch is not signed by its gateway. The primary's
   * own bundles are covered by its signature on the digest, and this replica's
   * own by its memory of what it signed; only the others cost a verification.
   */
  private holdsForgedBundle(batch: Batch, primary: NodeId): boolean {
    for (const bundle of batch) {
      const gateway = bundle.body.replica
      if (gateway === primary || (gateway === this.id && this.gateway.signedHere(bundle))) continue
      if (!this.group.verify(bundle)) return true
    }
    return false
  }

  /** Takes a pre-prepare into its slot: a backup prepares it. */
  private accept(slot: Slot, prePrepare: Signed<OrderBody>, batch: Batch): void {
    slot.prePrepare = prePrepare
    slot.batch = batch
    // Stored before this replica's prepare (or, at the primary, its pre-prepare) leaves: after a restart it still holds it.
    if (!slot.storedViews.includes(slot.view)) {
      this.persist(writePrePrepareRecord({ prePrepare, batch }))
      slot.storedViews.push(slot.view)
    }
    for (const bundle of batch) this.ordered.set(bundleKey(bundle), slot.seq)
    if (prePrepare.body.replica !== this.id) {
      const prepare = this.sign({ type: 'prepare', replica: this.id, epoch: this.group.epoch, view: slot.view, seq: slot.seq, digest: prePrepare.body.digest })
      slot.prepares.set(this.id, prepare)
      this.broadcast({ signed: prepare, batches: [] }, 'preparesSent')
    }
    slot.lastSendTick = this.tickCount
    // Someone prepared another digest: show it this pre-prepare, so that an equivocating primary is caught.
    for (const vote of slot.prepares.values()) this.showPrePrepare(slot, vote.body)
    this.progress(slot)
  }

  private handleVote(from: NodeId, signed: Signed<OrderBody>): Refusal | null {
    const body = signed.body
    if (body.type === 'prepare' && body.replica === this.group.primaryOf(body.view)) return { code: 'primaryPrepare', message: 'the primary sends no prepare' }
    const outside = this.inWindow(from, body)
    if (outside !== null) return outside
    const slot = this.slotAt(body.seq)
    const votes = body.type === 'prepare' ? slot.prepares : slot.commits
    const earlier = votes.get(body.replica)
    if (earlier !== undefined) {
      if (sameBytes(earlier.body.digest, body.digest)) return null
      return this.refuse(body.replica, 'equivocation', body.view, body.seq, `two ${body.type}s from ${body.replica} for v${body.view} n${body.seq} with different digests`)
    }
    votes.set(body.replica, signed)
    if (body.type === 'commit') this.checkCommit(slot, body)
    else this.showPrePrepare(slot, body)
    this.progress(slot)
    return null
  }

  /** A commit for another digest than the one this replica prepared: no correct replica could have prepared it. */
  private checkCommit(slot: Slot, commit: OrderBody): void {
    if (slot.prepared && slot.prePrepare !== null && !sameBytes(commit.digest, slot.prePrepare.body.digest)) {
      this.evidence(commit.replica, 'conflictingCommit', commit.view, commit.seq, `commit from ${commit.replica} for another digest than the prepared one at n${commit.seq}`)
    }
  }

  private showPrePrepare(slot: Slot, vote: OrderBody): void {
    if (slot.prePrepare === null || slot.batch === null || sameBytes(vote.digest, slot.prePrepare.body.digest) || slot.shownTo.has(vote.replica) || vote.replica === this.id) return
    slot.shownTo.add(vote.replica)
    this.send(vote.replica, { signed: slot.prePrepare, batches: [slot.batch] }, 'relaysSent')
  }

  /** Moves a slot on: prepared once 2f prepares match its pre-prepare, committed once 2f+1 commits do. */
  private progress(slot: Slot): void {
    const prePrepare = slot.prePrepare
    if (prePrepare === null || slot.batch === null) return
    const digest = prePrepare.body.digest
    if (!slot.prepared) {
      const matching: Signed<OrderBody>[] = []
      for (const prepare of slot.prepares.values()) if (sameBytes(prepare.body.digest, digest)) matching.push(prepare)
      if (matching.length < this.group.quorum - 1) return
      this.invariants.prepared(slot.seq, slot.view, slot.certificate === null ? -1 : slot.certificate.certificate.prePrepare.body.view)
      slot.prepared = true
      slot.certificate = { certificate: { prePrepare, prepares: matching }, batch: slot.batch }
      // Stored before the commit leaves; the certificate it replaces goes one Ready later.
      this.persist(writeCertificateRecord(slot.seq, slot.view, matching))
      slot.storedCertificateViews.push(slot.view)
      this.dropStaleRecords(slot, this.deletesQueued)
      for (const commit of slot.commits.values()) this.checkCommit(slot, commit.body)
      const commit = this.sign({ type: 'commit', replica: this.id, epoch: this.group.epoch, view: slot.view, seq: slot.seq, digest })
      slot.commits.set(this.id, commit)
      this.broadcast({ signed: commit, batches: [] }, 'commitsSent')
    }
    if (slot.decided !== null || this.commitsMatching(slot) < this.group.quorum) return
    this.decide(slot, slot.view, digest, slot.batch)
    this.executeReady()
  }

  // ----- learning the decisions of a view this replica has left -----

  /**
   * A pre-prepare or commit of an older view than this replica's, for a slot it
   * has not executed. Having asked for a later view, it may not vote in the old
   * one, but it may learn what the old view decided: a pre-prepare and 2f+1
   * commits that match it are a commit certificate, and every later view orders
   * the same batch there. This is how a replica that asked for a view change
   * alone (it heard nothing for a while) keeps executing with the group.
   */
  private isLearnable(body: OrderBody): boolean {
    return body.view < this.viewNumber && body.seq > this.executedSeq && body.seq <= this.stableSeq + this.config.windowSeqs
  }

  private learn(signed: Signed<OrderBody>, batch: Batch | undefined): Refusal | null {
    const body = signed.body
    const key = `${body.view}:${body.seq}`
    let learning = this.learning.get(key)
    if (learning === undefined) {
      if (this.learning.size >= this.config.windowSeqs * learningViewsMax) return { code: 'queueFull', message: `learning ${this.learning.size} slots of older views` }
      learning = { seq: body.seq, prePrepare: null, batch: null, commits: new Map() }
      this.learning.set(key, learning)
      // The commits of that view the slot holds already count too: its own (peers relay only the others'), and those
      // that arrived before it left the view (a relay of them again is dropped as a duplicate before it gets here).
      const slot = this.slots.get(body.seq)
      if (slot !== undefined && slot.view === body.view) for (const [replica, commit] of slot.commits) learning.commits.set(replica, commit)
    }
    if (body.type === 'prePrepare') {
      if (body.replica !== this.group.primaryOf(body.view) || batch === undefined || !this.group.batchMatches(batch, body.digest))
        return { code: 'malformed', message: `pre-prepare of v${body.view} n${body.seq} to learn from is not its primary's or lacks its batch` }
      if (this.holdsForgedBundle(batch, body.replica)) return { code: 'badRequest', message: `batch of v${body.view} n${body.seq} holds a bundle whose signature does not verify` }
      learning.prePrepare = signed
      learning.batch = batch
    } else learning.commits.set(body.replica, signed)
    if (learning.prePrepare === null || learning.batch === null) return null
    if (countMatching(learning.commits, learning.prePrepare.body.digest) < this.group.quorum) return null
    const slot = this.slotAt(body.seq)
    if (slot.decided === null) this.decide(slot, body.view, learning.prePrepare.body.digest, learning.batch)
    this.forgetLearning(body.seq)
    this.executeReady()
    return null
  }

  private forgetLearning(throughSeq: number): void {
    for (const [key, learning] of this.learning) if (learning.seq <= throughSeq) this.learning.delete(key)
  }

  // ----- execution -----

  private executeReady(): void {
    // Nothing above an executed reconfiguration's checkpoint executes in this epoch: the next group orders it.
    while (this.executedSeq < this.lastEpochSeq) {
      const slot = this.slots.get(this.executedSeq + 1)
      if (slot === undefined || slot.decided === null) break
      this.execute(slot.seq, slot.decided.view, slot.decided.digest, slot.decided.batch)
    }
    this.order()
  }

  private execute(seq: number, view: number, digest: Uint8Array, batch: Batch): void {
    const decided = this.slots.get(seq)?.decided
    this.invariants.executing(seq, this.executedSeq, decided !== undefined && decided !== null)
    this.invariants.executingInEpoch(seq, this.group.epoch, this.group.startSeq, this.lastEpochSeq)
    this.boundaryProgressTick = this.tickCount
    const requests: ExecutedRequest[] = []
    const resultsByGateway = new Map<NodeId, ClientResult[]>()
    for (const bundle of batch) {
      const gateway = bundle.body.replica
      for (const request of bundle.body.requests) {
        const reconfigure = request.client === reconfigureClient ? (operation: Uint8Array) => this.executeReconfiguration(seq, operation) : undefined
        const execution = this.executor.execute(clientKey(gateway, request.client), request.timestamp, request.operation, reconfigure)
        requests.push({ gateway, client: request.client, timestamp: request.timestamp, outcome: execution.outcome })
        if (execution.outcome === 'stale') {
          if (gateway === this.id && this.gateway.abandon(request.client, request.timestamp)) this.refuseRequest(request.client, request.timestamp, 'staleTimestamp')
          continue
        }
        if (execution.outcome === 'applied') this.metrics.requestsExecuted++
        let results = resultsByGateway.get(gateway)
        if (results === undefined) resultsByGateway.set(gateway, (results = []))
        results.push({ client: request.client, timestamp: request.timestamp, result: execution.result })
      }
      const key = bundleKey(bundle)
      this.ordered.delete(key)
      this.watched.delete(key)
      this.queue.delete(key)
    }
    this.executedSeq = seq
    this.metrics.decisions++
    this.out.applied.push({ type: 'executed', seq, epoch: this.group.epoch, view, digest, requests })
    for (const [gateway, results] of resultsByGateway) {
      if (gateway === this.id) for (const result of results) this.vote(this.id, result)
      else this.send(gateway, { signed: this.sign({ type: 'reply', replica: this.id, epoch: this.group.epoch, view: this.viewNumber, seq, gateway, results }), batches: [] }, 'repliesSent')
    }
    if (seq % this.config.checkpointInterval === 0) this.takeCheckpoint(seq)
  }

  /** A replica's result for a request that entered here, counted in the group of the reply's epoch. */
  private vote(replica: NodeId, result: ClientResult, group: PbftGroup = this.group): void {
    const answer = this.gateway.vote(replica, result.client, result.timestamp, result.result, group.f + 1, group.epoch)
    if (answer === null) return
    if (answer.client !== reconfigureClient) return void this.out.applied.push({ type: 'reply', ...answer })
    const verdict = decodeReconfigurationResult(answer.result)
    this.out.applied.push({ type: 'reconfigured', timestamp: answer.timestamp, result: verdict.ok ? verdict.value : { accepted: false, epoch: 0, startSeq: 0, detail: verdict.error.message } })
  }

  /** Tells the host a request that entered here will not execute (a reconfiguration gets its verdict instead). */
  private refuseRequest(client: string, timestamp: number, code: 'staleTimestamp' | 'groupChanged'): void {
    if (client !== reconfigureClient) return void this.out.applied.push({ type: 'refused', client, timestamp, code })
    const detail = code === 'staleTimestamp' ? 'a later reconfiguration of this gateway executed first' : `the group changed (epoch ${this.group.epoch}) before it was ordered`
    this.out.applied.push({ type: 'reconfigured', timestamp, result: { accepted: false, epoch: 0, startSeq: 0, detail } })
  }

  /**
   * Executes an ordered reconfiguration (the same verdict at every correct replica: it depends only on the request
   * and the executed state). Accepted, its group orders after the first checkpoint at or after `seq`.
   */
  private executeReconfiguration(seq: number, operation: Uint8Array): Uint8Array {
    const decoded = decodeReconfiguration(operation)
    let error = decoded.ok ? null : decoded.error.message
    if (error === null && this.next !== null) error = `a reconfiguration to epoch ${this.next.epoch} waits for its checkpoint n${this.next.startSeq}`
    if (error === null && decoded.ok) error = reconfigurationError(this.group, this.config, decoded.value)
    if (error !== null || !decoded.ok) return encodeReconfigurationResult({ accepted: false, epoch: 0, startSeq: 0, detail: error ?? 'undecodable' })
    const startSeq = Math.ceil(seq / this.config.checkpointInterval) * this.config.checkpointInterval
    this.next = new PbftGroup(decoded.value.replicas, this.signer, this.group.epoch + 1, startSeq)
    this.metrics.reconfigurationsOrdered++
    this.out.events.push({ kind: 'reconfigurationOrdered', seq, epoch: this.next.epoch, startSeq, members: this.next.ids.slice() })
    return encodeReconfigurationResult({ accepted: true, epoch: this.next.epoch, startSeq, detail: `epoch ${this.next.epoch} orders after n${startSeq}` })
  }

  /** True when every request of the bundle is executed (or superseded by a later one of its client). */
  private bundleDone(bundle: Signed<RequestBody>): boolean {
    for (const request of bundle.body.requests) if (this.executor.lastTimestamp(clientKey(bundle.body.replica, request.client)) < request.timestamp) return false
    return true
  }

  // ----- ordering (the primary) -----

  private enqueue(bundle: Signed<RequestBody>): Refusal | null {
    const key = bundleKey(bundle)
    if (this.queue.has(key) || this.ordered.has(key)) return null
    if (this.queue.size >= pbftLimits.queuedBundlesMax) return { code: 'queueFull', message: `${this.queue.size} bundles wait to be ordered, limit queuedBundlesMax=${pbftLimits.queuedBundlesMax}` }
    this.queue.set(key, bundle)
    return null
  }

  /** This replica leads the view, bundles wait, and the window and the pipeline have room. */
  private canOrder(): boolean {
    return (
      !this.changing &&
      this.primary === this.id &&
      this.voting &&
      (this.queue.size > 0 || this.fillsEpoch()) &&
      this.nextSeq <= Math.min(this.stableSeq + this.config.windowSeqs, this.lastEpochSeq) &&
      this.nextSeq - 1 - this.executedSeq < this.config.inflightBatchesMax
    )
  }

  /** An executed reconfiguration takes effect at its checkpoint: the primary fills the epoch up to it (null requests when idle). */
  private fillsEpoch(): boolean {
    return this.next !== null && this.nextSeq <= this.next.startSeq
  }

  /** Pre-prepares batches while there is work, room in the window and in the pipeline. */
  private order(): void {
    while (this.canOrder()) {
      const batch: Signed<RequestBody>[] = []
      let requests = 0
      let bytes = 0
      for (const [key, bundle] of this.queue) {
        const size = bundle.bytes.length + bundle.signature.length + 8
        const count = bundle.body.requests.length
        if (batch.length > 0 && (requests + count > this.config.batchRequestsMax || bytes + size > pbftLimits.batchBytesMax || batch.length >= pbftLimits.batchBundlesMax)) break
        this.queue.delete(key)
        if (this.ordered.has(key) || this.bundleDone(bundle)) continue
        batch.push(bundle)
        requests += count
        bytes += size
      }
      if (batch.length === 0 && !this.fillsEpoch()) continue
      const seq = this.nextSeq++
      const prePrepare = this.sign({ type: 'prePrepare', replica: this.id, epoch: this.group.epoch, view: this.viewNumber, seq, digest: this.group.digestOf(batch) })
      this.broadcast({ signed: prePrepare, batches: [batch] }, 'prePreparesSent')
      this.accept(this.slotAt(seq), prePrepare, batch)
    }
  }

  // ----- checkpoints and state transfer -----

  /** Its digest covers the group that orders after `seq`: the next one at an executed reconfiguration's checkpoint (groupConfig.ts). */
  private takeCheckpoint(seq: number): void {
    const state = this.executor.snapshot()
    const machineDigest = this.signer.digest(state)
    const groupAfter = this.next !== null && this.next.startSeq === seq ? this.next : this.group
    const digest = checkpointDigest(this.signer, groupAfter.config, machineDigest)
    this.snapshots.set(seq, { state, machineDigest, digest })
    if (!this.voting) return
    const checkpoint = this.sign({ type: 'checkpoint', replica: this.id, epoch: this.group.epoch, seq, stateDigest: digest })
    this.broadcast({ signed: checkpoint, batches: [] }, 'checkpointsSent')
    // The replicas that join learn of the checkpoint that admits them, and ask for its state.
    if (groupAfter !== this.group) for (const id of groupAfter.ids) if (!this.group.has(id) && id !== this.id) this.send(id, { signed: checkpoint, batches: [] }, 'checkpointsSent')
    this.handleCheckpoint(checkpoint)
  }

  private handleCheckpoint(signed: Signed<CheckpointBody>): Refusal | null {
    const body = signed.body
    if (body.seq <= this.stableSeq) return null
    if (body.seq > this.stableSeq + this.config.windowSeqs || body.seq % this.config.checkpointInterval !== 0) return { code: 'outsideWatermarks', message: `checkpoint n${body.seq} outside the window` }
    let bySender = this.checkpoints.get(body.seq)
    if (bySender === undefined) this.checkpoints.set(body.seq, (bySender = new Map()))
    const earlier = bySender.get(body.replica)
    if (earlier !== undefined) {
      if (sameBytes(earlier.body.stateDigest, body.stateDigest)) return null
      return this.refuse(body.replica, 'equivocation', this.viewNumber, body.seq, `two checkpoints from ${body.replica} for n${body.seq} with different states`)
    }
    bySender.set(body.replica, signed)
    const matching = [...bySender.values()].filter((checkpoint) => sameBytes(checkpoint.body.stateDigest, body.stateDigest))
    if (matching.length < this.group.quorum) return null
    const own = this.snapshots.get(body.seq)
    if (own !== undefined && sameBytes(own.digest, body.stateDigest)) this.makeStable(body.seq, matching)
    else if (this.executedSeq < body.seq) this.sendStatus() // behind a stable checkpoint: ask for the state
    return null
  }

  private makeStable(seq: number, proof: readonly Signed<CheckpointBody>[]): void {
    if (seq <= this.stableSeq) return
    const own = this.snapshots.get(seq)
    assert(own !== undefined, `pbft: n${seq} made stable without this replica's state at it`)
    this.stableSeq = seq
    this.stableProof = proof
    // The checkpoint with the state at it, synced before anything below it is deleted (one Ready later).
    this.stableChanged = true
    this.mustSync = true
    for (const [key, slot] of this.slots) {
      if (key > seq) continue
      this.dropSlotRecords(slot, this.deletesQueued)
      this.slots.delete(key)
    }
    for (const key of this.checkpoints.keys()) if (key <= seq) this.checkpoints.delete(key)
    for (const key of this.snapshots.keys()) if (key < seq) this.snapshots.delete(key)
    this.forgetLearning(seq)
    if (this.nextSeq <= seq) this.nextSeq = seq + 1
    this.out.events.push({ kind: 'checkpoint', seq })
    // The checkpoint an executed reconfiguration waits for: the old group's proof of it links the epochs.
    if (this.next !== null && seq === this.next.startSeq) this.enterEpoch(this.next, [{ group: this.next.config, machineDigest: own.machineDigest, proof }])
    this.order()
  }

  /**
   * Enters the epoch of `group` at the stable checkpoint its links end at (this replica's stable one, or the one a
   * state transfer brings next): view 0 of the new group; the old epoch's slots above the checkpoint are void, its
   * messages are refused from now on. A replica of the new group bundles its waiting requests again for the new
   * epoch; one that left gives them up, and stops voting and ordering.
   */
  private enterEpoch(group: PbftGroup, links: readonly EpochLink[]): void {
    const previous = links.length >= 2 ? PbftGroup.of(links[links.length - 2]!.group, this.signer) : this.group
    this.verificationsBefore += this.group.verifications + (this.next?.verifications ?? 0) + (this.previousGroup?.verifications ?? 0)
    this.previousGroup = previous
    this.group = group
    this.next = null
    this.links = [...this.links, ...links].slice(-pbftLimits.epochLinksKept)
    this.leftEpoch = false
    // The epoch's start needs no proof in it (the link holds the old group's).
    if (this.stableSeq === group.startSeq) this.stableProof = []
    this.viewNumber = 0
    this.changing = false
    this.viewChangeAttempts = 0
    this.newViewMessage = null
    this.viewChanges.clear()
    this.learning.clear()
    this.peerExecuted.clear()
    this.persistView()
    this.newViewChanged = false
    // The old epoch's slots and checkpoints above its end are void; up to it (where a transfer may make this
    // replica's own state stable next) they go when that checkpoint is stable.
    const oldEnd = Math.max(this.stableSeq, group.startSeq)
    for (const [seq, slot] of this.slots) {
      if (seq <= oldEnd) continue
      this.dropSlotRecords(slot, this.deletesQueued)
      this.slots.delete(seq)
    }
    this.checkpoints.clear()
    for (const seq of this.snapshots.keys()) if (seq > oldEnd) this.snapshots.delete(seq)
    this.queue.clear()
    this.ordered.clear()
    this.watched.clear()
    this.nextSeq = oldEnd + 1
    this.boundaryProgressTick = this.tickCount
    this.reputation.regroup(group.ids)
    // The group lives in the stable record: written (and synced) with the view of the new epoch.
    this.stableChanged = true
    this.mustSync = true
    this.metrics.groupChanges++
    const member = group.has(this.id)
    this.out.events.push({ kind: 'groupChanged', epoch: group.epoch, startSeq: group.startSeq, members: group.ids.slice(), member })
    // A reconfiguration proposed here: its verdict is this replica's own execution of it, or it never executed.
    for (const request of [...this.gateway.pendingRequests()]) {
      if (request.client !== reconfigureClient) continue
      const result = this.executor.resultAt(clientKey(this.id, reconfigureClient), request.timestamp)
      this.gateway.abandon(request.client, request.timestamp)
      const verdict = result === undefined ? null : decodeReconfigurationResult(result)
      if (verdict !== null && verdict.ok) this.out.applied.push({ type: 'reconfigured', timestamp: request.timestamp, result: verdict.value })
      else this.refuseRequest(request.client, request.timestamp, 'groupChanged')
    }
    if (!member) {
      // It can ask for no more replies: what it executed before leaving it answers with its own result (it executed
      // it in the order the group agreed on, so its host trusts it as it trusts the replica); the rest will not run.
      for (const request of this.gateway.drain()) {
        const result = this.executor.resultAt(clientKey(this.id, request.client), request.timestamp)
        if (result !== undefined) this.out.applied.push({ type: 'reply', client: request.client, timestamp: request.timestamp, result })
        else this.refuseRequest(request.client, request.timestamp, 'groupChanged')
      }
      return
    }
    this.gateway.rebundle()
    // Requests this replica executed already count for it in the new epoch too (the others answer them again there).
    for (const request of this.gateway.pendingRequests()) {
      const result = this.executor.resultAt(clientKey(this.id, request.client), request.timestamp)
      if (result !== undefined) this.vote(this.id, { client: request.client, timestamp: request.timestamp, result })
    }
  }

  /**
   * Follows the links of a state message from this replica's epoch on: each must be the next epoch, its group valid,
   * and proven by a quorum of checkpoints of the group before it whose digest covers that group. Returns the links
   * that lead past this replica's epoch (empty: the state is of its own epoch), or why they do not hold.
   */
  private followLinks(links: readonly EpochLink[]): { readonly groups: PbftGroup[]; readonly links: EpochLink[] } | string {
    let group = this.group
    const groups: PbftGroup[] = []
    const followed: EpochLink[] = []
    for (const link of links) {
      if (link.group.epoch <= group.epoch) continue
      if (link.group.epoch !== group.epoch + 1) return `a link to epoch ${link.group.epoch} follows epoch ${group.epoch}`
      const invalid = replicasError(link.group.replicas)
      if (invalid !== null) return `the group of epoch ${link.group.epoch}: ${invalid}`
      const proven = checkpointProofDigest(group, link.group.startSeq, link.proof)
      if (proven === null || !sameBytes(proven, checkpointDigest(this.signer, link.group, link.machineDigest))) return `the link to epoch ${link.group.epoch} lacks a quorum of checkpoints of epoch ${group.epoch} for it`
      group = PbftGroup.of(link.group, this.signer)
      groups.push(group)
      followed.push(link)
    }
    return { groups, links: followed }
  }

  /**
   * A stable checkpoint's state: of this replica's epoch (its proof checked by this group), or of a later one that
   * the message's links lead to from this epoch (a replica that was left behind by reconfigurations, or joins).
   */
  private handleState(from: NodeId, body: Extract<PbftBody, { type: 'state' }>): Refusal | null {
    const followed = this.followLinks(body.links)
    if (typeof followed === 'string') return this.refuse(body.replica, 'badCertificate', this.viewNumber, body.seq, `state for n${body.seq}: ${followed}`)
    const target = followed.groups[followed.groups.length - 1] ?? this.group
    const lastLink = followed.links[followed.links.length - 1]
    // At the start of a later epoch the link proves the state; else a quorum of the epoch's checkpoints does.
    const atLinkStart = lastLink !== undefined && body.seq === target.startSeq
    if (!atLinkStart && body.seq === target.startSeq) return null
    const digest = atLinkStart ? checkpointDigest(this.signer, target.config, lastLink.machineDigest) : checkpointProofDigest(target, body.seq, body.checkpoints)
    if (digest === null) return this.refuse(body.replica, 'badCertificate', this.viewNumber, body.seq, `state for n${body.seq} without a valid checkpoint proof`)
    const proof = atLinkStart ? [] : body.checkpoints
    if (body.seq <= this.stableSeq) return null
    if (this.executedSeq >= body.seq) {
      const own = this.snapshots.get(body.seq)
      if (own === undefined || !sameBytes(own.digest, digest)) return null
      if (target !== this.group) this.enterEpoch(target, followed.links)
      this.makeStable(body.seq, proof)
      return null
    }
    if (body.state.length === 0) return null
    const machineDigest = this.signer.digest(body.state)
    if (!sameBytes(checkpointDigest(this.signer, target.config, machineDigest), digest) || !this.executor.restore(body.state))
      return this.refuse(body.replica, 'badCertificate', this.viewNumber, body.seq, `state for n${body.seq} does not match its checkpoint`)
    if (target !== this.group) this.enterEpoch(target, followed.links)
    this.executedSeq = body.seq
    this.snapshots.set(body.seq, { state: body.state, machineDigest, digest })
    this.metrics.stateTransfers++
    this.out.events.push({ kind: 'stateTransfer', seq: body.seq, from })
    this.makeStable(body.seq, body.checkpoints)
    for (const [key, watched] of this.watched) if (this.bundleDone(watched.bundle)) this.watched.delete(key)
    for (const request of this.gateway.pendingRequests()) {
      const result = this.executor.resultAt(clientKey(this.id, request.client), request.timestamp)
      if (result !== undefined) this.vote(this.id, { client: request.client, timestamp: request.timestamp, result })
    }
    this.executeReady()
    return null
  }

  // ----- status: what a lagging replica lacks -----

  /** Tells every replica of the group (or only `to`) how far this one is; a voting replica also resends what may have been lost. */
  private sendStatus(to?: NodeId): void {
    const status: PbftMessage = { signed: this.sign({ type: 'status', replica: this.id, epoch: this.group.epoch, view: this.viewNumber, executed: this.executedSeq, stableSeq: this.stableSeq }), batches: [] }
    if (to !== undefined) return this.send(to, status, 'statusSent')
    this.broadcast(status, 'statusSent')
    if (!this.voting) return
    // Own checkpoints not yet stable: they may have been lost, and without 2f+1 of them the window never moves.
    for (const bySender of this.checkpoints.values()) {
      const own = bySender.get(this.id)
      if (own !== undefined) this.broadcast({ signed: own, batches: [] }, 'checkpointsSent')
    }
    if (this.changing) {
      const own = this.viewChanges.get(this.id)
      if (own !== undefined) this.broadcast(own, 'viewChangesSent')
      return
    }
    // Own messages of slots that have not committed in this view for a while: they may have been lost. A slot decided
    // in an earlier view and ordered again in this one still needs this replica's votes here, for the others to commit it.
    for (const slot of this.slots.values()) {
      if (slot.prePrepare === null || slot.batch === null || this.tickCount - slot.lastSendTick < this.config.statusTicks) continue
      if (slot.decided !== null && (slot.decided.view === this.viewNumber || this.commitsMatching(slot) >= this.group.quorum)) continue
      slot.lastSendTick = this.tickCount
      if (slot.prePrepare.body.replica === this.id) this.broadcast({ signed: slot.prePrepare, batches: [slot.batch] }, 'prePreparesSent')
      for (const votes of [slot.prepares, slot.commits]) {
        const own = votes.get(this.id)
        if (own !== undefined) this.broadcast({ signed: own, batches: [] }, own.body.type === 'prepare' ? 'preparesSent' : 'commitsSent')
      }
    }
  }

  /** Commits of this view that match the slot's pre-prepare. */
  private commitsMatching(slot: Slot): number {
    return slot.prePrepare === null ? 0 : countMatching(slot.commits, slot.prePrepare.body.digest)
  }

  private handleStatus(body: Extract<PbftBody, { type: 'status' }>): Refusal | null {
    const peer = body.replica
    if (peer === this.id) return null
    // A peer is sent what it lacks only once it made no progress for a status period: one merely behind by the
    // pipeline gets there by itself, and a resend would only arrive late (and be taken for a replay).
    const previous = this.peerExecuted.get(peer)
    this.peerExecuted.set(peer, body.executed)
    const stuck = previous === body.executed
    if (body.view < this.viewNumber && this.voting && this.group.has(peer)) {
      if (!this.changing && this.newViewMessage !== null) this.send(peer, this.newViewMessage, 'relaysSent')
      else if (this.changing) {
        const own = this.viewChanges.get(this.id)
        if (own !== undefined) this.send(peer, own, 'relaysSent')
      }
    }
    if (!stuck) return null
    // The epoch's start has no proof in this epoch (the previous group's is a link the peer could not check): a peer
    // of this epoch behind it (one built with this group, without its state) waits for the epoch's first stable checkpoint.
    if (this.stableSeq > 0 && body.stableSeq < this.stableSeq && this.stableSeq > this.group.startSeq) {
      const snapshot = this.snapshots.get(this.stableSeq)
      const state = body.executed < this.stableSeq && snapshot !== undefined ? snapshot.state : new Uint8Array(0)
      this.send(peer, { signed: this.sign({ type: 'state', replica: this.id, epoch: this.group.epoch, seq: this.stableSeq, checkpoints: this.stableProof, links: [], state }), batches: [] }, 'statesSent')
      return null
    }
    // Slots it has not executed: in its view it takes part again, in a later view it learns their decisions.
    if (!this.voting || !this.group.has(peer) || body.view < this.viewNumber || body.executed >= this.executedSeq) return null
    for (let seq = body.executed + 1; seq <= Math.min(this.executedSeq, body.executed + relaySeqsMax); seq++) {
      const slot = this.slots.get(seq)
      if (slot === undefined || slot.prePrepare === null || slot.batch === null) continue
      this.send(peer, { signed: slot.prePrepare, batches: [slot.batch] }, 'relaysSent')
      // A peer in a later view can only learn from commits; prepares of this view would be stale there.
      for (const votes of body.view > this.viewNumber ? [slot.commits] : [slot.prepares, slot.commits]) {
        for (const vote of votes.values()) if (vote.body.replica !== peer && sameBytes(vote.body.digest, slot.prePrepare.body.digest)) this.send(peer, { signed: vote, batches: [] }, 'relaysSent')
      }
    }
    return null
  }

  // ----- view change -----

  private watch(bundle: Signed<RequestBody>): void {
    const key = bundleKey(bundle)
    if (!this.watched.has(key) && !this.bundleDone(bundle) && this.watched.size < pbftLimits.queuedBundlesMax) this.watched.set(key, { bundle, sinceTick: this.tickCount })
  }

  private startViewChange(view: number, reason: string): void {
    if (view <= this.viewNumber) return
    if (!this.changing && reason === 'request timeout') this.evidence(this.primary, 'viewTimeout', this.viewNumber, this.executedSeq, `v${this.viewNumber} left after a request timeout`)
    this.viewNumber = view
    this.changing = true
    this.viewChangeAttempts++
    this.metrics.viewChanges++
    // Stored before the view change leaves: a restarted replica never votes in a view it asked to leave.
    this.persistView()
    this.sendViewChange(reason)
  }

  /** Sends this replica's view change for the view it is changing to: the prepared certificates above its stable checkpoint. */
  private sendViewChange(reason: string): void {
    const view = this.viewNumber
    this.viewChangeStartTick = this.tickCount
    const prepared: PreparedCertificate[] = []
    const batches: Batch[] = []
    for (const seq of [...this.slots.keys()].sort((a, b) => a - b)) {
      const slot = this.slots.get(seq)!
      if (seq <= this.stableSeq || slot.certificate === null) continue
      prepared.push(slot.certificate.certificate)
      batches.push(slot.certificate.batch)
    }
    const signed = this.sign({ type: 'viewChange', replica: this.id, epoch: this.group.epoch, view, stableSeq: this.stableSeq, checkpoints: this.stableProof, prepared })
    const message: ViewChangeMessage = { signed, batches }
    this.viewChanges.set(this.id, message)
    this.broadcast(message, 'viewChangesSent')
    this.out.events.push({ kind: 'view', view, primary: this.group.primaryOf(view), phase: 'changing', reason })
    this.maybeSendNewView()
  }

  private handleViewChange(message: ViewChangeMessage): Refusal | null {
    const body = message.signed.body
    if (body.view < this.viewNumber || (body.view === this.viewNumber && !this.changing)) {
      // It is behind: the new view it waits for is installed already.
      if (body.view === this.viewNumber && this.newViewMessage !== null) this.send(body.replica, this.newViewMessage, 'relaysSent')
      return null
    }
    const earlier = this.viewChanges.get(body.replica)
    if (earlier !== undefined && earlier.signed.body.view >= body.view) return null
    const error = viewChangeError(this.group, message, this.config.windowSeqs, true)
    if (error !== null) return this.refuse(body.replica, 'badCertificate', body.view, body.stableSeq, `view change: ${error}`)
    this.viewChanges.set(body.replica, message)
    // f+1 replicas want a later view: at least one correct one timed out, so join rather than wait for an own timeout.
    const later: number[] = []
    for (const [replica, change] of this.viewChanges) if (replica !== this.id && change.signed.body.view > this.viewNumber) later.push(change.signed.body.view)
    if (later.length >= this.group.f + 1) this.startViewChange(Math.min(...later), 'f+1 replicas changing view')
    this.maybeSendNewView()
    return null
  }

  /** Other replicas that asked for this replica's view or a later one. */
  private viewChangeSupporters(): number {
    let count = 0
    for (const [replica, change] of this.viewChanges) if (replica !== this.id && change.signed.body.view >= this.viewNumber) count++
    return count
  }

  private viewChangesFor(view: number): ViewChangeMessage[] {
    return [...this.viewChanges.values()].filter((change) => change.signed.body.view === view)
  }

  private maybeSendNewView(): void {
    if (!this.changing || this.primary !== this.id) return
    const changes = this.viewChangesFor(this.viewNumber)
    if (changes.length < this.group.quorum) return
    const { stableSeq, stableProof, order } = computeNewViewOrder(this.group, changes)
    const prePrepares = order.map((ordered) => this.sign({ type: 'prePrepare', replica: this.id, epoch: this.group.epoch, view: this.viewNumber, seq: ordered.seq, digest: ordered.digest }))
    const signed = this.sign({ type: 'newView', replica: this.id, epoch: this.group.epoch, view: this.viewNumber, viewChanges: changes.map((change) => change.signed), prePrepares })
    const message: PbftMessage = { signed, batches: order.map((ordered) => ordered.batch ?? emptyBatch) }
    this.broadcast(message, 'newViewsSent')
    this.enterView(message, stableSeq, stableProof, prePrepares, message.batches)
  }

  private handleNewView(from: NodeId, message: PbftMessage): Refusal | null {
    const body = message.signed.body as Extract<PbftBody, { type: 'newView' }>
    if (body.view < this.viewNumber || (body.view === this.viewNumber && !this.changing)) return null
    if (body.replica !== this.group.primaryOf(body.view)) return this.refuse(body.replica, 'notPrimary', body.view, 0, `new view from ${body.replica}, not the primary of v${body.view}`)
    const error = this.newViewError(message)
    if (error !== null) return this.refuse(from === body.replica ? body.replica : from, 'badCertificate', body.view, 0, `new view: ${error}`)
    const changes = body.viewChanges.map((signed) => ({ signed, batches: [] }))
    const { stableSeq, stableProof } = computeNewViewOrder(this.group, changes)
    this.enterView(message, stableSeq, stableProof, body.prePrepares, message.batches)
    return null
  }

  /** Why a new-view message is invalid, or null: a quorum of valid view changes, and exactly the order they imply. */
  private newViewError(message: PbftMessage): string | null {
    const body = message.signed.body as Extract<PbftBody, { type: 'newView' }>
    const senders = new Set<NodeId>()
    for (const signed of body.viewChanges) {
      if (signed.body.view !== body.view || senders.has(signed.body.replica)) return `view change of v${signed.body.view} from ${signed.body.replica} twice or for another view`
      if (!this.group.verify(signed)) return `view change from ${signed.body.replica} has a bad signature`
      const error = viewChangeError(this.group, { signed, batches: [] }, this.config.windowSeqs, false)
      if (error !== null) return error
      senders.add(signed.body.replica)
    }
    if (senders.size < this.group.quorum) return `${senders.size} view changes, needs ${this.group.quorum}`
    const { order } = computeNewViewOrder(
      this.group,
      body.viewChanges.map((signed) => ({ signed, batches: [] })),
    )
    if (order.length !== body.prePrepares.length || message.batches.length !== order.length) return `orders ${body.prePrepares.length} sequence numbers, the view changes imply ${order.length}`
    for (let index = 0; index < order.length; index++) {
      const expected: Ordered = order[index]!
      const prePrepare = body.prePrepares[index]!
      const { seq, view, digest, replica } = prePrepare.body
      if (seq !== expected.seq || view !== body.view || replica !== body.replica || !sameBytes(digest, expected.digest)) return `pre-prepare for n${seq} differs from the order the view changes imply`
      if (!this.group.verify(prePrepare)) return `pre-prepare for n${seq} has a bad signature`
      if (!this.group.batchMatches(message.batches[index]!, digest)) return `batch of n${seq} does not match its digest`
    }
    return null
  }

  private enterView(message: PbftMessage, stableSeq: number, stableProof: readonly Signed<CheckpointBody>[], prePrepares: readonly Signed<OrderBody>[], batches: readonly Batch[]): void {
    const view = message.signed.body.type === 'newView' ? message.signed.body.view : this.viewNumber
    this.viewNumber = view
    this.changing = false
    this.viewChangeAttempts = 0
    this.newViewMessage = message
    this.persistView()
    this.newViewChanged = true
    for (const [replica, change] of this.viewChanges) if (change.signed.body.view <= view) this.viewChanges.delete(replica)
    if (stableSeq > this.stableSeq) {
      const own = this.snapshots.get(stableSeq)
      const digest = checkpointProofDigest(this.group, stableSeq, stableProof)
      if (own !== undefined && digest !== null && sameBytes(own.digest, digest)) this.makeStable(stableSeq, stableProof)
      // Otherwise this replica is behind the new view's checkpoint: its next status brings the state.
    }
    // The messages of the old view are void; certificates and decisions stay.
    for (const slot of this.slots.values()) {
      slot.view = view
      slot.prePrepare = null
      slot.batch = null
      slot.prepares.clear()
      slot.commits.clear()
      slot.prepared = false
      slot.shownTo.clear()
    }
    this.ordered.clear()
    let lastSeq = Math.max(stableSeq, this.stableSeq, this.executedSeq)
    prePrepares.forEach((prePrepare, index) => {
      const seq = prePrepare.body.seq
      lastSeq = Math.max(lastSeq, seq)
      if (seq <= this.stableSeq || seq > this.stableSeq + this.config.windowSeqs) return
      this.accept(this.slotAt(seq), prePrepare, batches[index]!)
    })
    for (const [seq, slot] of this.slots) {
      if (seq > lastSeq && slot.prePrepare === null && slot.decided === null) {
        this.dropSlotRecords(slot, this.deletesQueued)
        this.slots.delete(seq)
      } else this.dropStaleRecords(slot, this.deletesQueued)
    }
    this.nextSeq = lastSeq + 1
    for (const watched of this.watched.values()) watched.sinceTick = this.tickCount
    this.out.events.push({ kind: 'view', view, primary: this.primary, phase: 'active', reason: 'new view installed' })
    // Outstanding bundles go to the new primary.
    for (const bundle of this.gateway.unanswered()) {
      if (this.primary === this.id) this.enqueue(bundle)
      else this.send(this.primary, { signed: bundle, batches: [] }, 'requestsSent')
    }
    if (this.primary === this.id) for (const watched of this.watched.values()) this.enqueue(watched.bundle)
    else this.queue.clear()
    this.order()
  }
}
