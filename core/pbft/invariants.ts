/**
 * PBFT's local invariants, asserted by the engine as it runs (DESIGN §1.5:
 * engines check their own invariants; the simulator's checkers check the
 * global ones). Each failure names the invariant it broke. A failure is a bug
 * in this replica's code, never a peer's fault: what peers send is checked
 * and refused before it can move any of these.
 *
 * After every step and tick and in every Ready (O(1) each; a proposal only
 * queues a request or reads, so it moves none of them):
 *   epochMonotone       the group epoch never decreases
 *   viewMonotone        the view never decreases within an epoch (each epoch
 *                       starts at view 0)
 *   executedMonotone    the executed sequence number never moves back
 *   stableMonotone      the stable checkpoint (low watermark) never moves back
 *   watermarks          low watermark <= executed <= high watermark
 *
 * Where a slot changes (O(1) each):
 *   onePreparedDigest   at most one digest prepared per (view, sequence
 *                       number): a slot's prepared certificate is only ever
 *                       replaced by one of a later view
 *   committedFinal      a slot's decision, once made, is never replaced
 *   executeInOrder      a batch executes only at executed + 1, once decided
 *   executeInEpoch      a batch executes only in the epoch whose range holds
 *                       it: above the group's start, and at or below the
 *                       checkpoint where an executed reconfiguration ends it
 *                       (so no sequence number executes under two groups;
 *                       the simulator's checker asserts it across replicas)
 */
import { assertFailed } from '../lib/assert.ts'

export interface PbftProgress {
  readonly epoch: number
  readonly view: number
  readonly executed: number
  readonly lowWatermark: number
  readonly highWatermark: number
}

export class PbftInvariants {
  private epoch: number
  private view: number
  private executed: number
  private lowWatermark: number
  private readonly id: string

  /** `start`: what the replica recovered; nothing may go below it. */
  constructor(id: string, start: PbftProgress) {
    this.id = id
    this.epoch = start.epoch
    this.view = start.view
    this.executed = start.executed
    this.lowWatermark = start.lowWatermark
    this.check(start)
  }

  /** The progress after an input or a Ready. */
  check(now: PbftProgress): void {
    if (now.epoch < this.epoch) this.violated('epochMonotone', `epoch went back from ${this.epoch} to ${now.epoch}`)
    if (now.epoch === this.epoch && now.view < this.view) this.violated('viewMonotone', `view went back from v${this.view} to v${now.view} in epoch ${now.epoch}`)
    if (now.executed < this.executed) this.violated('executedMonotone', `executed went back from n${this.executed} to n${now.executed}`)
    if (now.lowWatermark < this.lowWatermark) this.violated('stableMonotone', `stable checkpoint went back from n${this.lowWatermark} to n${now.lowWatermark}`)
    if (now.lowWatermark > now.executed || now.executed > now.highWatermark) this.violated('watermarks', `low n${now.lowWatermark} <= executed n${now.executed} <= high n${now.highWatermark} does not hold`)
    this.epoch = now.epoch
    this.view = now.view
    this.executed = now.executed
    this.lowWatermark = now.lowWatermark
  }

  /** A slot prepares in `view`; `certificateView` is the view of the certificate it held before (-1: none). */
  prepared(seq: number, view: number, certificateView: number): void {
    if (certificateView >= view) this.violated('onePreparedDigest', `n${seq} prepared again in v${view}, holding a certificate of v${certificateView}`)
  }

  /** A slot is decided; `decidedBefore`: it already held a decision. */
  decided(seq: number, decidedBefore: boolean): void {
    if (decidedBefore) this.violated('committedFinal', `n${seq} decided a second time`)
  }

  /** The batch at `seq` executes with the replica at `executed`; `decided`: the slot holds a decision. */
  executing(seq: number, executed: number, decided: boolean): void {
    if (seq !== executed + 1 || !decided) this.violated('executeInOrder', `n${seq} executed after n${executed}${decided ? '' : ' without a decision'}`)
  }

  /** The batch at `seq` executes in `epoch`, whose group orders after `startSeq` up to `lastSeq`. */
  executingInEpoch(seq: number, epoch: number, startSeq: number, lastSeq: number): void {
    if (seq <= startSeq || seq > lastSeq) this.violated('executeInEpoch', `n${seq} executed in epoch ${epoch}, which orders (n${startSeq}, n${lastSeq}]`)
  }

  private violated(invariant: string, detail: string): never {
    return assertFailed(`pbft invariant ${invariant} at ${this.id}: ${detail}`)
  }
}
