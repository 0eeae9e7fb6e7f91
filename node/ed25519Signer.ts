/**
 * The Signer port on a Node host: Ed25519 signatures and SHA-256 digests
 * from node:crypto (OpenSSL), synchronous as the core needs them. WebCrypto's
 * Ed25519 is the same algorithm and interoperates with these keys, but its API
 * is asynchronous, and the core signs and verifies inside `step`.
 *
 * Keys come from a 32-byte seed (RFC 8032's private key), so a node keeps one
 * secret on disk and derives the rest; public keys travel as their 32 raw bytes.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto'
import type { Signer } from '../core/index.ts'

/** DER prefixes that wrap a raw 32-byte Ed25519 key as PKCS#8 (private) and SPKI (public). */
const pkcs8Prefix = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])
const spkiPrefix = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])
export const ed25519SeedBytes = 32
/** Peer public keys whose KeyObject is cached (a group has at most a few dozen). */
const cachedKeysMax = 1024

function wrap(prefix: Uint8Array, key: Uint8Array): Buffer {
  return Buffer.concat([prefix, key])
}

export class Ed25519Signer implements Signer {
  readonly publicKey: Uint8Array
  private readonly privateKey: KeyObject
  private readonly publicKeys = new Map<string, KeyObject>()
  private readonly keysByArray = new WeakMap<Uint8Array, KeyObject>()

  constructor(seed: Uint8Array) {
    if (seed.length !== ed25519SeedBytes) throw new RangeError(`an Ed25519 seed has ${ed25519SeedBytes} bytes, got ${seed.length}`)
    this.privateKey = createPrivateKey({ key: wrap(pkcs8Prefix, seed), format: 'der', type: 'pkcs8' })
    const spki = createPublicKey(this.privateKey).export({ format: 'der', type: 'spki' })
    this.publicKey = new Uint8Array(spki.subarray(spki.length - 32))
  }

  sign(message: Uint8Array): Uint8Array {
    return sign(null, message, this.privateKey)
  }

  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    if (publicKey.length !== 32 || signature.length !== 64) return false
    return verify(null, message, this.keyObject(publicKey), signature)
  }

  digest(data: Uint8Array): Uint8Array {
    return createHash('sha256').update(data).digest()
  }

  private keyObject(publicKey: Uint8Array): KeyObject {
    // Hosts pass the same key arrays again and again: look them up by identity before building a hex key.
    const known = this.keysByArray.get(publicKey)
    if (known !== undefined) return known
    const id = Buffer.from(publicKey).toString('hex')
    let key = this.publicKeys.get(id)
    if (key === undefined) {
      if (this.publicKeys.size >= cachedKeysMax) this.publicKeys.clear()
      key = createPublicKey({ key: wrap(spkiPrefix, publicKey), format: 'der', type: 'spki' })
      this.publicKeys.set(id, key)
    }
    this.keysByArray.set(publicKey, key)
    return key
  }
}
