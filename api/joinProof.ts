/**
 * What a joining node proves, as bytes both sides build the same way: the
 * joiner signs them with its node key (and MACs them with the cluster secret
 * when the cluster has one); the member it asks rebuilds them from the join
 * body and checks both through the host's crypto port (api/membershipRoutes.ts).
 *
 *   "dwcp/join/1" 0x00  field(clusterId)  challenge[32]  field(id)  field(region)
 *   field(url)  publicKey[32]  u16 tagCount  (field(name) field(value))*
 *
 * where field(x) is a u16 big-endian length and the UTF-8 bytes. Tags go in
 * name order. The challenge (fresh, single use, from the member asked) makes
 * a proof good for one join only; everything the joiner asks to be is bound.
 * Runtime-neutral: the signing and the MAC are the hosts' (node/join.ts).
 */
import { concatBytes } from '../core/index.ts'

export const joinDomain = 'dwcp/join/1'

export interface JoinClaim {
  readonly clusterId: string
  readonly challenge: Uint8Array
  readonly id: string
  readonly region: string
  readonly url: string
  readonly publicKey: Uint8Array
  readonly tags: Readonly<Record<string, string>>
}

const encoder = new TextEncoder()
/** A field's length fits its u16 prefix. */
const fieldBytesMax = 0xffff

export function joinTranscript(claim: JoinClaim): Uint8Array {
  if (claim.challenge.length !== 32) throw new RangeError(`a join challenge has 32 bytes, got ${claim.challenge.length}`)
  if (claim.publicKey.length !== 32) throw new RangeError(`a node public key has 32 bytes, got ${claim.publicKey.length}`)
  const parts: Uint8Array[] = [encoder.encode(joinDomain), Uint8Array.of(0)]
  const field = (text: string) => {
    const bytes = encoder.encode(text)
    if (bytes.length > fieldBytesMax) throw new RangeError(`a join field has at most ${fieldBytesMax} bytes`)
    parts.push(Uint8Array.of(bytes.length >> 8, bytes.length & 0xff), bytes)
  }
  field(claim.clusterId)
  parts.push(claim.challenge)
  field(claim.id)
  field(claim.region)
  field(claim.url)
  parts.push(claim.publicKey)
  const tags = Object.entries(claim.tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  parts.push(Uint8Array.of(tags.length >> 8, tags.length & 0xff))
  for (const [name, value] of tags) {
    field(name)
    field(value)
  }
  return concatBytes(parts)
}
