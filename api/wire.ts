/**
 * JSON as the API sends it: byte arrays (Yjs updates in events) as base64
 * strings, which is what `Wire<T>` (api/contract.ts) says of their types.
 */

/** Bytes converted per String.fromCharCode call (its argument count is bounded). */
const base64ChunkBytes = 0x8000

export function base64Of(bytes: Uint8Array): string {
  let binary = ''
  for (let start = 0; start < bytes.length; start += base64ChunkBytes) binary += String.fromCharCode(...bytes.subarray(start, start + base64ChunkBytes))
  return btoa(binary)
}

export function bytesOfBase64(text: string): Uint8Array {
  const binary = atob(text)
  const bytes = new Uint8Array(binary.length)
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index)
  return bytes
}

/** JSON text of `value`, byte arrays as base64. */
export function wireJson(value: unknown): string {
  return JSON.stringify(value, (_key, field: unknown) => (field instanceof Uint8Array ? base64Of(field) : field))
}

/** Base64url without padding (RFC 4648 §5): public keys, join challenges and proofs in JSON. */
export function base64urlOf(bytes: Uint8Array): string {
  return base64Of(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** The bytes of base64url text (padding optional); throws on characters outside the alphabet. */
export function bytesOfBase64url(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(text)) throw new RangeError('not base64url')
  const plain = text.replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/')
  return bytesOfBase64(plain + '='.repeat((4 - (plain.length % 4)) % 4))
}
