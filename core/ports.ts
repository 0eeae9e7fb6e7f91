/**
 * Ports: the only ways the core reaches the world. Each host (node process,
 * Durable Object, simulator) implements them; real and simulated twins carry
 * the same names. Everything here is synchronous so that the core stays a
 * deterministic function of its inputs.
 */
import type { Rng } from './lib/prng.ts'

export type { Rng }

/** Node ids and cluster ids: short ASCII tokens, see `isValidId`. */
export type NodeId = string

/**
 * Wall-clock time as the host sees it. Engines that need physical time (hybrid
 * logical clocks, leases) read it here; protocol timeouts use ticks instead.
 * The simulator's clock is virtual; a node process reads the system clock.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. Not required to be monotonic across restarts. */
  nowMs(): number
}

/**
 * Durable storage as the core sees it: read-only. The core reads it when an
 * engine starts or restarts; every change it wants goes out as `Ready.writes`
 * and the host applies them (etcd's Storage is read-only to raft the same way).
 */
export interface StorageReader {
  get(key: string): Uint8Array | undefined
  /** Keys starting with `prefix`, in ascending code-unit order. */
  keys(prefix: string): string[]
}

/** One change to durable storage: `value: null` deletes the key. */
export interface StorageWrite {
  readonly key: string
  readonly value: Uint8Array | null
}

/**
 * Signatures (Ed25519 on every real host) and the digest signed messages refer
 * to (SHA-256 on every real host). Synchronous so the core can sign and verify
 * inside `step`; hosts back it with a synchronous implementation. The
 * simulator's twin is deterministic and cheap, and still refuses a signature
 * made with another node's key.
 */
export interface Signer {
  readonly publicKey: Uint8Array
  sign(message: Uint8Array): Uint8Array
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean
  /** A collision-resistant digest of `data` (32 bytes on real hosts). */
  digest(data: Uint8Array): Uint8Array
}
