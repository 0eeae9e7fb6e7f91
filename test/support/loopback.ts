/**
 * Helpers for tests of real sockets on 127.0.0.1: servers on free ports,
 * waiting for a condition (bounded, never a timing assertion), fake peers
 * that speak the hello wrongly on purpose.
 */
import { randomBytes } from 'node:crypto'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import WebSocket from 'ws'
import { Hello, type HelloIdentity } from '../../node/peer/hello.ts'
import { wireSizes } from '../../node/peer/wire.ts'

/** Listens on 127.0.0.1 on a free port; resolves with the port. */
export function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))
  })
}

export function closeServer(server: Server): Promise<void> {
  server.closeAllConnections()
  return new Promise((resolve) => server.close(() => resolve()))
}

/** Polls `predicate` every 10 ms until it holds; fails naming `what` after `timeoutMs`. */
export async function waitFor(what: string, predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

export function newSession(): Uint8Array {
  return new Uint8Array(randomBytes(wireSizes.sessionBytes))
}

export interface FakePeerOutcome {
  readonly code: number
  readonly reason: string
}

/**
 * Dials `url` and runs the hello with `identity` (which may lie), optionally
 * sending `first` before anything else; resolves with how the node closed the socket.
 */
export function fakePeer(url: string, identity: HelloIdentity | null, first: Uint8Array | string | null = null): Promise<FakePeerOutcome> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url)
    const hello = identity === null ? null : new Hello(identity, null, new Uint8Array(randomBytes(wireSizes.nonceBytes)))
    socket.on('open', () => {
      if (first !== null) socket.send(first, { binary: typeof first !== 'string' })
      if (hello !== null) socket.send(hello.challenge())
    })
    socket.on('message', (data: Buffer) => {
      if (hello === null) return
      const bytes = new Uint8Array(data)
      const step = bytes[0] === 0x01 ? hello.onChallenge(bytes) : hello.onProof(bytes)
      if (step.kind === 'proof') socket.send(step.proof)
    })
    socket.on('error', () => {})
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))
    setTimeout(() => reject(new Error(`fake peer at ${url}: the node did not close the socket`)), 15_000).unref()
  })
}
