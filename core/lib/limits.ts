/**
 * Named limits, units last. Every size, queue and count in DWCP has one; input
 * beyond a limit is refused with a typed error, never silently truncated.
 * Engines add their own limits in their config; these are the ones shared by
 * the wire format and every host.
 */
export const limits = {
  /** Largest encoded peer frame, envelope included. Larger frames are refused before decoding. */
  frameBytesMax: 1024 * 1024,
  /** Largest engine message body inside an envelope. */
  bodyBytesMax: 1024 * 1024 - 256,
  /**
   * Largest engine message, encoded as one frame would be: one above a frame
   * travels as chunk frames (core/codec/chunks.ts). It holds a snapshot or a
   * state transfer of stateBytesMax, or a PBFT new view of a window of batches.
   */
  messageBytesMax: 80 * 1024 * 1024,
  /** A put's value on every path (eventual, strong, auto, byzantine, published): etcd's request limit is 1.5 MiB. */
  valueBytesMax: 1024 * 1024,
  /** A Yjs document: one update, and so one document's whole state. */
  docBytesMax: 16 * 1024 * 1024,
  /**
   * A replicated state machine's whole state (a Raft snapshot, a PBFT checkpoint's
   * state): it is built, held and sent whole, in memory, so it bounds what
   * keysMax × valueBytesMax would allow (100,000 keys of 1 MiB is 100 GB).
   */
  stateBytesMax: 64 * 1024 * 1024,
  /** Node and cluster ids are short ASCII tokens (see `isValidId`). */
  idBytesMax: 64,
  /** Members in one cluster. */
  membersMax: 16_384,
  /** Engine message types per engine (the type is one varuint on the wire). */
  messageTypesMax: 256,
  /** Messages one engine may hand to the host in one Ready. */
  readyMessagesMax: 65_536,
} as const

/** Ids on the wire: 1..idBytesMax characters from [A-Za-z0-9._-]. */
export function isValidId(id: string): boolean {
  if (id.length === 0 || id.length > limits.idBytesMax) return false
  for (let i = 0; i < id.length; i++) {
    if (!isIdCharCode(id.charCodeAt(i))) return false
  }
  return true
}

export function isIdCharCode(code: number): boolean {
  return (
    (code >= 0x30 && code <= 0x39) || // 0-9
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x61 && code <= 0x7a) || // a-z
    code === 0x2e || // .
    code === 0x5f || // _
    code === 0x2d // -
  )
}
