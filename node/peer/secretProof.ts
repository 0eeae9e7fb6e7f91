/**
 * The cluster secret's proof, shared by the peer hello (peer/hello.ts) and
 * the join (node/join.ts, node/membershipPort.ts): HMAC-SHA256 of the secret
 * over a transcript that binds what is proven (and a fresh nonce or challenge
 * of the verifier), so the secret itself never leaves the node.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

export const secretProofBytes = 32

export function secretMac(secret: Uint8Array, transcript: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', Buffer.from(secret)).update(transcript).digest())
}

/** Whether `mac` is the secret's over `transcript` (compared in constant time). */
export function secretMacMatches(secret: Uint8Array, transcript: Uint8Array, mac: Uint8Array): boolean {
  return mac.length === secretProofBytes && timingSafeEqual(mac, secretMac(secret, transcript))
}

/**
 * Why `proof` is not the right proof of `secret` over `transcript`, or null:
 * a node with a secret wants its proof; one without wants none.
 */
export function secretProofProblem(secret: Uint8Array | null, transcript: Uint8Array, proof: Uint8Array | null, who: string): string | null {
  if (secret === null) return proof === null ? null : `${who} proves a cluster secret; this node has none`
  if (proof === null) return `${who} proves no cluster secret; this node has one`
  return secretMacMatches(secret, transcript, proof) ? null : `${who} does not know the cluster secret`
}
