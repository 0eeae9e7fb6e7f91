/**
 * What a leader knows of one follower's log (etcd's Progress):
 *
 *   probe      the leader does not know where the logs agree: one append at a
 *              time, each answered before the next (a heartbeat answer also
 *              lets the next one go)
 *   replicate  the logs agree up to `match`: appends stream ahead of the
 *              acknowledgements, up to `inflightMessagesMax` in flight
 *   snapshot   the entries it needs are compacted away: a snapshot is on its way
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot'

export class Progress {
  /** Highest index known to match the leader's log. */
  match = 0
  /** Next index to send. */
  next: number
  state: ProgressState = 'probe'
  /** Probe: an append is out and unanswered. */
  probeSent = false
  /** Replicate: last index of each append in flight, oldest first. */
  readonly inflight: number[] = []
  /** Snapshot: the index of the snapshot sent, and the tick it went out. */
  pendingSnapshot = 0
  snapshotSentTick = 0
  /** Heard from since the last check-quorum round. */
  recentActive = true
  /** The latest heartbeat round this follower answered (ReadIndex and leases). */
  ackedRound = 0

  constructor(next: number) {
    this.next = next
  }

  becomeProbe(): void {
    // After a snapshot the follower holds at least the snapshot: probe from there.
    this.next = this.state === 'snapshot' ? Math.max(this.match + 1, this.pendingSnapshot + 1) : this.match + 1
    this.state = 'probe'
    this.probeSent = false
    this.inflight.length = 0
  }

  becomeReplicate(): void {
    this.state = 'replicate'
    this.next = this.match + 1
    this.inflight.length = 0
  }

  becomeSnapshot(index: number, tick: number): void {
    this.state = 'snapshot'
    this.pendingSnapshot = index
    this.snapshotSentTick = tick
    this.inflight.length = 0
  }

  /** Whether another append may go out now. */
  isPaused(inflightMessagesMax: number): boolean {
    if (this.state === 'probe') return this.probeSent
    if (this.state === 'replicate') return this.inflight.length >= inflightMessagesMax
    return true
  }

  /** Records an acknowledged match; false when it tells nothing new. */
  maybeUpdate(index: number): boolean {
    // Acknowledgements up to `index` free the appends that carried them.
    while (this.inflight.length > 0 && this.inflight[0]! <= index) this.inflight.shift()
    if (index <= this.match) return false
    this.match = index
    this.next = Math.max(this.next, index + 1)
    this.probeSent = false
    return true
  }

  /**
   * A refusal of the append at `rejected`: move `next` back, to just past
   * where the follower's hint says the logs may agree. False when the refusal
   * is stale (it answers an append sent before a later one).
   */
  maybeDecrease(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false
      this.becomeProbe()
      return true
    }
    if (this.next - 1 !== rejected) return false
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1)
    this.probeSent = false
    return true
  }
}
