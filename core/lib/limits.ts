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
