/**
 * Small non-cryptographic hashes: FNV-1a (32-bit) for labels and checksums of
 * stored records, and a 32-bit finalizer for mixing seeds. Deterministic on every
 * runtime; not for anything an adversary controls.
 */

const fnvOffset32 = 0x811c9dc5
const fnvPrime32 = 0x01000193

export function fnv1a32Bytes(bytes: Uint8Array, seed = fnvOffset32): number {
  let hash = seed >>> 0
  for (let i = 0; i < bytes.length; i++) {
    hash ^= bytes[i]!
    hash = Math.imul(hash, fnvPrime32)
  }
  return hash >>> 0
}

/** fnv1a32Bytes of the first `length` bytes, without making a view of them (record checksums, on every stored write). */
export function fnv1a32Prefix(bytes: Uint8Array, length: number): number {
  let hash = fnvOffset32
  for (let i = 0; i < length; i++) {
    hash ^= bytes[i]!
    hash = Math.imul(hash, fnvPrime32)
  }
  return hash >>> 0
}

/** Hashes the UTF-16 code units of `text`; enough for labels and trace lines. */
export function fnv1a32String(text: string, seed = fnvOffset32): number {
  let hash = seed >>> 0
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, fnvPrime32)
  }
  return hash >>> 0
}

/** murmur3's 32-bit finalizer: spreads every input bit over the output. */
export function mix32(value: number): number {
  let h = value >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** Hex of a 32-bit value, zero padded to 8 characters. */
export function hex32(value: number): string {
  return (value >>> 0).toString(16).padStart(8, '0')
}
