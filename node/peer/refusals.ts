/**
 * Why a peer socket is refused, and the WebSocket close code each reason
 * closes it with (4000-4999 are the application's). Refusals are counted by
 * reason; the close reason text names the problem for the other side's log.
 */

export const refusalCloseCodes = {
  /** Bytes that are no message of the wire format (wire.ts), a text message, a WebSocket protocol error. */
  malformed: 4000,
  /** A batch (or a proof) before the hello got that far. */
  unauthenticated: 4001,
  /** A hello of another protocol version. */
  version: 4002,
  wrongCluster: 4003,
  /** The hello names a node that is not a member of the cluster (or this node itself). */
  unknownMember: 4004,
  /** A dialed peer answered with another member's id. */
  wrongPeer: 4005,
  /** The signature does not verify with the member's public key from the cluster file. */
  badSignature: 4006,
  /** The cluster secret's proof is missing, wrong, or present where this node has no secret. */
  badSecret: 4007,
  helloTimeout: 4008,
  /** TLS is on and the peer's client certificate did not verify against the CA (refused at the upgrade, no close code). */
  tlsUnauthorized: 4009,
  /** Too many sockets in their hello (refused at the upgrade, no close code). */
  overloaded: 4010,
  /** The member was removed by a configuration this node applied: its links are closed, and a later hello from it is unknownMember. */
  removedMember: 4011,
} as const

export type PeerRefusalReason = keyof typeof refusalCloseCodes

export const peerRefusalReasons = Object.keys(refusalCloseCodes) as PeerRefusalReason[]

/** Not refusals: a second link between the same pair, closed to keep one; a link replaced by one from the peer's newer life. */
export const linkCloseCodes = {
  duplicate: 4100,
  replaced: 4101,
  /** The peer stopped answering pings. */
  silent: 4102,
  /** This node is shutting down. */
  goingAway: 1001,
} as const

export interface PeerRefusal {
  readonly kind: 'refused'
  readonly reason: PeerRefusalReason
  readonly message: string
}

export function refusal(reason: PeerRefusalReason, message: string): PeerRefusal {
  return { kind: 'refused', reason, message }
}

/** The reason named by a close code, if it is one of the refusals. */
export function refusalOfCloseCode(code: number): PeerRefusalReason | null {
  for (const reason of peerRefusalReasons) if (refusalCloseCodes[reason] === code) return reason
  return null
}

/** A close reason fits in 123 bytes (RFC 6455); ours are ASCII. */
export function closeReasonText(text: string): string {
  return text.length <= 123 ? text : `${text.slice(0, 120)}...`
}

export function emptyRefusalCounts(): Record<PeerRefusalReason, number> {
  return Object.fromEntries(peerRefusalReasons.map((reason) => [reason, 0])) as Record<PeerRefusalReason, number>
}
