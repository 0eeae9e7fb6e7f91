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
