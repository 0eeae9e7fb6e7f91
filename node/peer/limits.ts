/**
 * Named limits of the peer links: every queue, buffer, batch and wait has
 * one. `PeerLinks` takes overrides (tests shrink them); the defaults are
 * sized for a cluster of a few dozen nodes on loopback or the internet.
 */
import { limits } from '../../core/index.ts'

export const peerLinkLimits = {
  /** Frames waiting for one peer; beyond it new frames for that peer are dropped and counted (a slow peer never grows memory). */
  queueFramesMax: 16_384,
  /** Bytes waiting for one peer: one largest message in chunk frames (a Raft snapshot, a PBFT state transfer) and room beside it. */
  queueBytesMax: limits.messageBytesMax + 8 * 1024 * 1024,
  /** A frame still queued this long after it was due is dropped (expired): a peer back after an outage gets fresh messages, not stale ones. */
  frameWaitMsMax: 10_000,
  /** One WebSocket message carries frames up to this many bytes (one frame always fits: frameBytesMax plus its length prefix). */
  batchBytesMax: 4 * 1024 * 1024,
  /** Frames in one WebSocket message. */
  batchFramesMax: 4_096,
  /** Bytes handed to one socket and not yet written to the kernel; above it frames wait in the peer's queue. */
  socketBufferedBytesMax: 8 * 1024 * 1024,
  /** Accepted sockets in their hello at once; more are refused at the upgrade (503). */
  pendingHellosMax: 64,
  /** A hello not done within this closes the socket. */
  helloTimeoutMs: 5_000,
  /** A dial (TCP, TLS, upgrade) that has not opened within this fails. */
  dialTimeoutMs: 5_000,
  /** First reconnect delay; it doubles with each failed dial up to dialDelayMsMax, with jitter. */
  dialDelayMsMin: 100,
  dialDelayMsMax: 5_000,
  /** Each link is pinged this often... */
  pingIntervalMs: 2_000,
  /** ...and closed when nothing (pong, hello, batch) came from it for this long. */
  pingTimeoutMs: 10_000,
  /** close() waits this long for sockets to close cleanly before it cuts them. */
  closeWaitMs: 1_000,
} as const

export type PeerLinkLimits = { readonly [K in keyof typeof peerLinkLimits]: number }

/** The limits with `overrides` applied, checked. */
export function resolvePeerLinkLimits(overrides: Partial<PeerLinkLimits> = {}): PeerLinkLimits {
  const resolved: PeerLinkLimits = { ...peerLinkLimits, ...overrides }
  for (const [name, value] of Object.entries(resolved)) {
    if (!(Number.isSafeInteger(value) && value > 0)) throw new RangeError(`peer link limit ${name} must be a positive integer, got ${value}`)
  }
  if (resolved.batchBytesMax < limits.frameBytesMax + 16) throw new RangeError(`batchBytesMax=${resolved.batchBytesMax} must hold one frame of frameBytesMax=${limits.frameBytesMax}`)
  if (resolved.dialDelayMsMax < resolved.dialDelayMsMin) throw new RangeError('dialDelayMsMax must be at least dialDelayMsMin')
  if (resolved.pingTimeoutMs <= resolved.pingIntervalMs) throw new RangeError('pingTimeoutMs must be above pingIntervalMs')
  return resolved
}
