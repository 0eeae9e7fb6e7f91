/** Configuration of the CRDT engine; every value says why. */
export interface CrdtConfig {
  /** Ticks between two sync rounds: every tick keeps replication lag to one tick plus latency. */
  readonly syncTicks: number
  /** Peers synced with per round: 2 reaches everyone in about log2(N) rounds even when links drop. */
  readonly fanout: number
  /** Least ticks between two digests to one peer, so a slow digest exchange is not started twice. */
  readonly digestTicks: number
  /** Deltas kept for peers that have not acknowledged them; beyond it the oldest go and those peers get a digest sync. */
  readonly deltaBufferEntriesMax: number
  /** Buffered deltas joined into one delta message. */
  readonly deltaBatchEntriesMax: number
  /** Ticks to wait for an acknowledgement before sending a peer its deltas again (a WAN round trip is ~25 ticks). */
  readonly resendTicks: number
  /** Acknowledgements waiting for the host; beyond it operations are refused. */
  readonly pendingAcksMax: number
  /** Messages waiting for the host; beyond it a sync round is skipped (it repeats). */
  readonly outboxMessagesMax: number
  /** Keys one store holds; creating more is refused. At most crdtMessageLimits.keysMax (one digest holds them all). */
  readonly keysMax: number
  /**
   * Updates appended to a document's storage before they are compacted into a
   * new base (the whole state): recovery applies at most this many updates,
   * and a large document is rewritten once per this many changes, not each.
   */
  readonly docUpdatesBeforeCompaction: number
  /** Bytes of appended updates of one document beyond which it is compacted, however few they are. */
  readonly docAppendedBytesMax: number
}

export const defaultCrdtConfig: CrdtConfig = {
  syncTicks: 1,
  fanout: 2,
  digestTicks: 20,
  deltaBufferEntriesMax: 4096,
  deltaBatchEntriesMax: 128,
  resendTicks: 30,
  pendingAcksMax: 1024,
  outboxMessagesMax: 4096,
  keysMax: 4096,
  docUpdatesBeforeCompaction: 256,
  docAppendedBytesMax: 1024 * 1024,
}
