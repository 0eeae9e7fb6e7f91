/**
 * The signed hello of a peer link, the same on both sides of a socket:
 *
 *   1. each side sends a challenge (wire.ts): protocol version, cluster id,
 *      its node id, its session and a fresh 32-byte nonce;
 *   2. on the other's challenge, a side checks version, cluster and that the
 *      id is another member (a dialer: the member it dialed), then sends its
 *      proof: an Ed25519 signature with its node key over the transcript
 *
 *        "dwcp/peer-hello/1" 0x00  u8 n clusterId  u8 n signerId  u8 n verifierId
 *        signerSession[16]  verifierSession[16]  verifierNonce[32]  signerNonce[32]
 *
 *      and, with a cluster secret, HMAC-SHA256(secret, transcript): the
 *      secret itself never leaves the node;
 *   3. on the other's proof, a side verifies the signature with the public
 *      key the cluster file gives that member, and the mac; the link is then
 *      authenticated as that member, and batches may flow.
 *
 * The verifier's nonce makes a proof good for one socket only; the ids,
 * sessions and cluster in the transcript bind what the proof vouches for.
 * Without TLS, a machine in the middle could still relay a whole hello and
 * then alter frames: use --tls-* across untrusted networks.
 *
 * Pure logic: the socket side is link.ts.
 */
import { concatBytes, type NodeId, type Signer } from '../../core/index.ts'
import { refusal, type PeerRefusal } from './refusals.ts'
import { secretMac, secretProofProblem } from './secretProof.ts'
import { readChallenge, readProof, wireSizes, WireError, writeChallenge, writeProof, type Challenge } from './wire.ts'

export const helloDomain = 'dwcp/peer-hello/1'

/** What a node proves and checks in every hello. */
export interface HelloIdentity {
  readonly clusterId: string
  readonly self: NodeId
  readonly signer: Pick<Signer, 'sign' | 'verify'>
  /** The cluster secret's bytes, or null when the cluster has none. */
  readonly secret: Uint8Array | null
  /** This node life's session (wire.ts Challenge.session). */
  readonly session: Uint8Array
  /** A member's Ed25519 public key from the cluster file; null for a node that is not a member. */
  publicKeyOf(id: NodeId): Uint8Array | null
}

export type HelloStep = { readonly kind: 'proof'; readonly proof: Uint8Array } | { readonly kind: 'authenticated'; readonly peer: NodeId; readonly session: Uint8Array } | PeerRefusal

const encoder = new TextEncoder()

/** The bytes `signerId` signs (and MACs) for `verifierId` on one socket. */
export function helloTranscript(clusterId: string, signer: { id: NodeId; session: Uint8Array; nonce: Uint8Array }, verifier: { id: NodeId; session: Uint8Array; nonce: Uint8Array }): Uint8Array {
  const parts: Uint8Array[] = [encoder.encode(helloDomain), Uint8Array.of(0)]
  for (const id of [clusterId, signer.id, verifier.id]) {
    const bytes = encoder.encode(id)
    parts.push(Uint8Array.of(bytes.length), bytes)
  }
  parts.push(signer.session, verifier.session, verifier.nonce, signer.nonce)
  return concatBytes(parts)
}

/** The cluster secret's proof over a hello transcript (peer/secretProof.ts, shared with the join). */
export const helloMac = secretMac

/** One side of one socket's hello. */
export class Hello {
  readonly nonce: Uint8Array
  private readonly identity: HelloIdentity
  private readonly expectedPeer: NodeId | null
  private peer: Challenge | null = null
  private done = false

  /** `expectedPeer`: the member a dialer dialed (null when accepting); `nonce`: 32 fresh random bytes. */
  constructor(identity: HelloIdentity, expectedPeer: NodeId | null, nonce: Uint8Array) {
    if (nonce.length !== wireSizes.nonceBytes) throw new RangeError(`a hello nonce has ${wireSizes.nonceBytes} bytes`)
    if (identity.session.length !== wireSizes.sessionBytes) throw new RangeError(`a session has ${wireSizes.sessionBytes} bytes`)
    this.identity = identity
    this.expectedPeer = expectedPeer
    this.nonce = nonce
  }

  get authenticated(): boolean {
    return this.done
  }

  /** This side's challenge, sent first. */
  challenge(): Uint8Array {
    return writeChallenge({ version: wireSizes.version, clusterId: this.identity.clusterId, nodeId: this.identity.self, session: this.identity.session, nonce: this.nonce })
  }

  /** The other side's challenge: the proof to send back, or why the socket is refused. */
  onChallenge(bytes: Uint8Array): HelloStep {
    if (this.peer !== null) return refusal('malformed', 'a second challenge on one socket')
    const read = readOrRefuse(readChallenge, bytes)
    if (!read.ok) return read.refusal
    const challenge = read.value
    const { identity } = this
    if (challenge.version !== wireSizes.version) return refusal('version', `hello version ${challenge.version}, this node speaks ${wireSizes.version}`)
    if (challenge.clusterId !== identity.clusterId) return refusal('wrongCluster', `hello for cluster ${challenge.clusterId}, this is ${identity.clusterId}`)
    if (challenge.nodeId === identity.self || identity.publicKeyOf(challenge.nodeId) === null) return refusal('unknownMember', `${challenge.nodeId} is not a member of cluster ${identity.clusterId} (or is this node)`)
    if (this.expectedPeer !== null && challenge.nodeId !== this.expectedPeer) return refusal('wrongPeer', `dialed ${this.expectedPeer}, answered by ${challenge.nodeId}`)
    this.peer = challenge
    const transcript = helloTranscript(identity.clusterId, { id: identity.self, session: identity.session, nonce: this.nonce }, { id: challenge.nodeId, session: challenge.session, nonce: challenge.nonce })
    const mac = identity.secret === null ? null : helloMac(identity.secret, transcript)
    return { kind: 'proof', proof: writeProof({ signature: identity.signer.sign(transcript), mac }) }
  }

  /** The other side's proof: the member this socket is authenticated as, or why it is refused. */
  onProof(bytes: Uint8Array): HelloStep {
    const peer = this.peer
    if (peer === null) return refusal('unauthenticated', 'a proof before the challenge')
    if (this.done) return refusal('malformed', 'a second proof on one socket')
    const read = readOrRefuse(readProof, bytes)
    if (!read.ok) return read.refusal
    const proof = read.value
    const { identity } = this
    const transcript = helloTranscript(identity.clusterId, { id: peer.nodeId, session: peer.session, nonce: peer.nonce }, { id: identity.self, session: identity.session, nonce: this.nonce })
    if (!identity.signer.verify(identity.publicKeyOf(peer.nodeId)!, transcript, proof.signature)) return refusal('badSignature', `${peer.nodeId}'s hello signature does not verify with its key in the cluster file`)
    const secretProblem = secretProofProblem(identity.secret, transcript, proof.mac, peer.nodeId)
    if (secretProblem !== null) return refusal('badSecret', secretProblem)
    this.done = true
    return { kind: 'authenticated', peer: peer.nodeId, session: peer.session }
  }
}

/** `read(bytes)`, or a malformed refusal when the bytes are no such message; any other error is a bug and goes on up. */
function readOrRefuse<T>(read: (bytes: Uint8Array) => T, bytes: Uint8Array): { readonly ok: true; readonly value: T } | { readonly ok: false; readonly refusal: PeerRefusal } {
  try {
    return { ok: true, value: read(bytes) }
  } catch (error) {
    if (error instanceof WireError) return { ok: false, refusal: refusal('malformed', error.message) }
    throw error
  }
}
