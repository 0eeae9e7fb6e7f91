/**
 * The simulator's twin of the Signer port: deterministic and cheap, so that
 * thousands of signed messages per virtual second cost little, yet it keeps
 * the property PBFT relies on: a signature made with one node's key does not
 * verify under another's. Each node's secret comes from the run's seed; the
 * keyring (the simulator's, never a node's) maps public keys to secrets to
 * check signatures. A Byzantine wrapper holds only its own node's signer, so it
 * can sign as itself and nobody else.
 *
 * Digests and signatures are keyed 128-bit hashes, fine against the simulated
 * adversary (who does not search for collisions), not against a real one.
 */
import type { Rng } from '../core/lib/prng.ts'
import type { Signer } from '../core/ports.ts'

/** Four 32-bit lanes over the bytes, each with its own seed, mixed at the end: 16 bytes. */
function hash128(data: Uint8Array, key: readonly number[]): Uint8Array {
  let a = key[0]! ^ data.length
  let b = key[1]!
  let c = key[2]!
  let d = key[3]!
  for (let index = 0; index < data.length; index++) {
    const byte = data[index]!
    a = Math.imul(a ^ byte, 0x01000193)
    b = Math.imul(b ^ byte, 0x5bd1e995) ^ (b >>> 15)
    c = Math.imul(c + byte, 0x85ebca6b) ^ (c >>> 13)
    d = Math.imul(d ^ (byte + index), 0xc2b2ae35) ^ (d >>> 16)
  }
  const out = new Uint8Array(16)
  const view = new DataView(out.buffer)
  const lanes = [a, b, c, d]
  for (let lane = 0; lane < 4; lane++) {
    let h = lanes[lane]! ^ lanes[(lane + 1) % 4]! ^ (lanes[(lane + 2) % 4]! >>> 7)
    h ^= h >>> 16
    h = Math.imul(h, 0x85ebca6b)
    h ^= h >>> 13
    h = Math.imul(h, 0xc2b2ae35)
    h ^= h >>> 16
    view.setUint32(lane * 4, h >>> 0)
  }
  return out
}

/** The key of unkeyed digests (and of public keys derived from secrets): fixed, so every node computes the same. */
const digestSeed = [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344]

function hexOf(bytes: Uint8Array): string {
  let text = ''
  for (const byte of bytes) text += byte.toString(16).padStart(2, '0')
  return text
}

export class SimKeyring {
  private readonly secrets = new Map<string, readonly number[]>()
  private readonly rng: Rng

  constructor(rng: Rng) {
    this.rng = rng
  }

  /** A new key pair's signer; every call gives another key. */
  signer(): Signer {
    const secret = [this.rng.nextU32(), this.rng.nextU32(), this.rng.nextU32(), this.rng.nextU32()]
    const publicKey = hash128(Uint8Array.from(secret.flatMap((word) => [word >>> 24, (word >>> 16) & 0xff, (word >>> 8) & 0xff, word & 0xff])), digestSeed)
    this.secrets.set(hexOf(publicKey), secret)
    const secrets = this.secrets
    return {
      publicKey,
      sign: (message) => hash128(message, secret),
      verify: (key, message, signature) => {
        const owner = secrets.get(hexOf(key))
        if (owner === undefined || signature.length !== 16) return false
        const expected = hash128(message, owner)
        for (let index = 0; index < 16; index++) if (expected[index] !== signature[index]) return false
        return true
      },
      digest: (data) => hash128(data, digestSeed),
    }
  }
}
