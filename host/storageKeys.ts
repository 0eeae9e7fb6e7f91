/**
 * Storage keys as every host stores them (node/sqliteStorage.ts,
 * durable-objects/sqlStorage.ts): as their UTF-8 bytes, so that the keys
 * with a prefix are one byte range and a prefix scan is a range scan.
 */

/** The exclusive upper end of the keys that start with `prefix` (its UTF-8 bytes): 0xFF never occurs in UTF-8, so prefix + 0xFF is above them all. */
export function prefixEndBytes(prefix: Uint8Array): Uint8Array {
  const end = new Uint8Array(prefix.length + 1)
  end.set(prefix)
  end[prefix.length] = 0xff
  return end
}
