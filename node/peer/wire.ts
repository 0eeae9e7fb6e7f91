/**
 * The peer link's wire format. Every WebSocket message is binary and starts
 * with one kind byte:
 *
 *   challenge := 0x01  u8 version  u8 n  clusterId[n]  u8 n  nodeId[n]  session[16]  nonce[32]
 *   proof     := 0x02  signature[64]  u8 m  mac[m]            (m is 0, or 32 with a cluster secret)
 *   batch     := 0x03  frame+                                  (at least one)
 *   frame     := varuint length  bytes[length]                 (1 ≤ length ≤ frameBytesMax; varuint: 7 bits a byte, low first, shortest form)
 *
 * Ids are 1..64 ASCII characters of [A-Za-z0-9._-] (core `isValidId`). A
 * side sends its challenge first, its proof once it has the other's challenge
 * (hello.ts), and batches only after the other's proof checked out. Each
 * frame in a batch is one peer frame of core/codec (envelope or chunk), handed
 * as is to PeerFrames. Anything else is garbage: the socket is closed.
 */
import { isValidId, limits } from '../../core/index.ts'

/** The path of the peer link endpoint: on every node's one port, and on an edge Worker (to a region object, `?region=<id>`). */
export const peerPath = '/v1/peer'

export const wireKinds = { challenge: 0x01, proof: 0x02, batch: 0x03 } as const

export const wireSizes = {
  version: 1,
  sessionBytes: 16,
  nonceBytes: 32,
  signatureBytes: 64,
  macBytes: 32,
} as const

export interface Challenge {
  readonly version: number
  readonly clusterId: string
  readonly nodeId: string
  /** Random per PeerLinks instance (one life of the node): a link from a newer session replaces an older one. */
  readonly session: Uint8Array
  /** Random per link: what the other side must sign. */
  readonly nonce: Uint8Array
}

export interface Proof {
  readonly signature: Uint8Array
  /** HMAC-SHA256 of the transcript under the cluster secret, or null without one. */
  readonly mac: Uint8Array | null
}

export class WireError extends Error {
  override readonly name = 'WireError'
}

const ascii = new TextEncoder()
const asciiDecoder = new TextDecoder()

export function writeChallenge(challenge: Challenge): Uint8Array {
  const cluster = ascii.encode(challenge.clusterId)
  const node = ascii.encode(challenge.nodeId)
  const out = new Uint8Array(2 + 1 + cluster.length + 1 + node.length + wireSizes.sessionBytes + wireSizes.nonceBytes)
  let at = 0
  out[at++] = wireKinds.challenge
  out[at++] = challenge.version
  out[at++] = cluster.length
  out.set(cluster, at)
  at += cluster.length
  out[at++] = node.length
  out.set(node, at)
  at += node.length
  out.set(challenge.session, at)
  at += wireSizes.sessionBytes
  out.set(challenge.nonce, at)
  return out
}

export function readChallenge(bytes: Uint8Array): Challenge {
  const reader = new Reader(bytes, 'challenge')
  reader.expectKind(wireKinds.challenge)
  const version = reader.byte('version')
  const clusterId = reader.id('cluster id')
  const nodeId = reader.id('node id')
  const session = reader.bytes(wireSizes.sessionBytes, 'session')
  const nonce = reader.bytes(wireSizes.nonceBytes, 'nonce')
  reader.expectEnd()
  return { version, clusterId, nodeId, session, nonce }
}

export function writeProof(proof: Proof): Uint8Array {
  const macLength = proof.mac === null ? 0 : proof.mac.length
  const out = new Uint8Array(1 + wireSizes.signatureBytes + 1 + macLength)
  out[0] = wireKinds.proof
  out.set(proof.signature, 1)
  out[1 + wireSizes.signatureBytes] = macLength
  if (proof.mac !== null) out.set(proof.mac, 2 + wireSizes.signatureBytes)
  return out
}

export function readProof(bytes: Uint8Array): Proof {
  const reader = new Reader(bytes, 'proof')
  reader.expectKind(wireKinds.proof)
  const signature = reader.bytes(wireSizes.signatureBytes, 'signature')
  const macLength = reader.byte('mac length')
  if (macLength !== 0 && macLength !== wireSizes.macBytes) throw new WireError(`proof: a mac has 0 or ${wireSizes.macBytes} bytes, got ${macLength}`)
  const mac = macLength === 0 ? null : reader.bytes(macLength, 'mac')
  reader.expectEnd()
  return { signature, mac }
}

function varUintBytes(value: number): number {
  let bytes = 1
  while (value >= 0x80) {
    value = Math.floor(value / 0x80)
    bytes++
  }
  return bytes
}

/** Bytes a frame of `frameBytes` takes in a batch. */
export function batchEntryBytes(frameBytes: number): number {
  return varUintBytes(frameBytes) + frameBytes
}

/** One batch message carrying `frames` (which the caller sized with batchEntryBytes). */
export function writeBatch(frames: readonly Uint8Array[]): Uint8Array {
  if (frames.length === 0) throw new WireError('a batch carries at least one frame')
  let total = 1
  for (const frame of frames) total += batchEntryBytes(frame.length)
  const out = new Uint8Array(total)
  let at = 0
  out[at++] = wireKinds.batch
  for (const frame of frames) {
    let length = frame.length
    while (length >= 0x80) {
      out[at++] = (length & 0x7f) | 0x80
      length = Math.floor(length / 0x80)
    }
    out[at++] = length
    out.set(frame, at)
    at += frame.length
  }
  return out
}

/** The frames of a batch message, as views into `bytes`; a WireError names what is wrong. */
export function readBatch(bytes: Uint8Array, framesMax: number): Uint8Array[] {
  const reader = new Reader(bytes, 'batch')
  reader.expectKind(wireKinds.batch)
  const frames: Uint8Array[] = []
  while (!reader.done) {
    if (frames.length >= framesMax) throw new WireError(`batch: more than batchFramesMax=${framesMax} frames`)
    const length = reader.varUint('frame length')
    if (length < 1 || length > limits.frameBytesMax) throw new WireError(`batch: a frame of ${length} bytes (1 to frameBytesMax=${limits.frameBytesMax})`)
    frames.push(reader.bytes(length, 'frame'))
  }
  if (frames.length === 0) throw new WireError('batch: no frames')
  return frames
}

/** The kind byte of a message, or null for an empty one. */
export function kindOf(bytes: Uint8Array): number | null {
  return bytes.length === 0 ? null : bytes[0]!
}

class Reader {
  private at = 0
  private readonly input: Uint8Array
  private readonly what: string

  constructor(input: Uint8Array, what: string) {
    this.input = input
    this.what = what
  }

  get done(): boolean {
    return this.at >= this.input.length
  }

  expectKind(kind: number): void {
    const got = this.byte('kind')
    if (got !== kind) throw new WireError(`${this.what}: kind ${got}, expected ${kind}`)
  }

  byte(field: string): number {
    if (this.at >= this.input.length) throw new WireError(`${this.what}: input ended inside ${field}`)
    return this.input[this.at++]!
  }

  bytes(length: number, field: string): Uint8Array {
    if (this.at + length > this.input.length) throw new WireError(`${this.what}: input ended inside ${field} (${length} bytes)`)
    // A plain view (never a Buffer, whose slice would not copy): the core may keep or copy it.
    const view = new Uint8Array(this.input.buffer, this.input.byteOffset + this.at, length)
    this.at += length
    return view
  }

  id(field: string): string {
    const length = this.byte(`${field} length`)
    const id = asciiDecoder.decode(this.bytes(length, field))
    if (!isValidId(id)) throw new WireError(`${this.what}: ${field} ${JSON.stringify(id)} is not 1 to ${limits.idBytesMax} characters of [A-Za-z0-9._-]`)
    return id
  }

  varUint(field: string): number {
    let value = 0
    let multiplier = 1
    for (let index = 0; index < 4; index++) {
      const byte = this.byte(field)
      value += (byte & 0x7f) * multiplier
      if (byte < 0x80) {
        if (byte === 0 && index > 0) throw new WireError(`${this.what}: ${field} is not in its shortest encoding`)
        return value
      }
      multiplier *= 0x80
    }
    throw new WireError(`${this.what}: ${field} longer than 4 bytes`)
  }

  expectEnd(): void {
    if (this.at !== this.input.length) throw new WireError(`${this.what}: ${this.input.length - this.at} bytes after the end`)
  }
}
