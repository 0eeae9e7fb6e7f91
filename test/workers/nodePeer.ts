/**
 * A node process's side of the edge cluster, inside a workerd test: its own
 * join client (node/join.ts) through the Worker's fetch, and a peer socket to
 * a region object (`/v1/peer?region=…`) running the node link's signed hello
 * (node/peer/hello.ts), then decoding the batches it receives.
 */
import { exports } from 'cloudflare:workers'
import { expect } from 'vitest'
import { replicaCodec, type ReplicaMessage } from '../../core/index.ts'
import { PeerFrames } from '../../host/peerFrames.ts'
import { Ed25519Signer } from '../../node/ed25519Signer.ts'
import { joinCluster } from '../../node/join.ts'
import { Hello } from '../../node/peer/hello.ts'
import { kindOf, readBatch, wireKinds, wireSizes } from '../../node/peer/wire.ts'
import { cluster } from './edgeCluster.ts'

export const nodeSecret = new TextEncoder().encode('workers-test-cluster-secret')
const workerFetch: typeof fetch = (input, init) => exports.default.fetch(input as RequestInfo, init)

/** A node's key (a fresh random seed). */
export function nodeSigner(): Ed25519Signer {
  return new Ed25519Signer(crypto.getRandomValues(new Uint8Array(32)))
}

/** Joins `id` through the Worker as `dwcp node --join https://<worker>` does. */
export async function joinAsNode(id: string, signer: Ed25519Signer) {
  return joinCluster({ urls: ['https://edge.test'], id, region: 'dc', url: `http://127.0.0.1:7999`, tags: {}, signer, secret: nodeSecret, token: null, fetch: workerFetch, deadlineMs: 30_000 })
}

export interface PeerSocket {
  readonly socket: WebSocket
  /** Resolves with the member the hello authenticated, or rejects with the close that refused it. */
  readonly authenticated: Promise<string>
  /** Replica messages received after the hello, decoded. */
  readonly messages: { from: string; message: ReplicaMessage }[]
  /** The frames received after the hello, raw. */
  readonly frames: Uint8Array[]
  readonly closed: Promise<{ code: number; reason: string }>
}

/** Dials `regionId`'s object as node `id` and runs the node's side of the hello. */
export async function dialPeer(regionId: string, id: string, signer: Ed25519Signer, publicKeyOf: (peer: string) => Uint8Array | null): Promise<PeerSocket> {
  const region = cluster.regions.find((candidate) => candidate.id === regionId)!
  const response = await exports.default.fetch(`https://edge.test/v1/peer?region=${regionId}`, { headers: { upgrade: 'websocket' } })
  expect(response.status).toBe(101)
  const socket = response.webSocket!
  socket.accept()
  socket.binaryType = 'arraybuffer'
  const session = crypto.getRandomValues(new Uint8Array(wireSizes.sessionBytes))
  const hello = new Hello({ clusterId: cluster.clusterId, self: id, signer, secret: nodeSecret, session, publicKeyOf }, region.member, crypto.getRandomValues(new Uint8Array(wireSizes.nonceBytes)))
  const frames = new PeerFrames<ReplicaMessage>({ codec: replicaCodec, clusterId: cluster.clusterId, self: id, messageIdStart: 1 })
  const messages: { from: string; message: ReplicaMessage }[] = []
  const received: Uint8Array[] = []
  let authenticate: (peer: string) => void = () => {}
  let refuse: (error: Error) => void = () => {}
  const authenticated = new Promise<string>((resolve, reject) => ((authenticate = resolve), (refuse = reject)))
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.addEventListener('close', (event) => {
      refuse(new Error(`closed ${event.code}: ${event.reason}`))
      resolve({ code: event.code, reason: event.reason })
    }),
  )
  socket.addEventListener('message', (event) => {
    const bytes = new Uint8Array(event.data as ArrayBuffer)
    if (kindOf(bytes) === wireKinds.challenge) {
      const step = hello.onChallenge(bytes)
      if (step.kind === 'proof') socket.send(step.proof)
      else socket.close(4000, 'refused')
    } else if (kindOf(bytes) === wireKinds.proof) {
      const step = hello.onProof(bytes)
      if (step.kind === 'authenticated') authenticate(step.peer)
    } else if (kindOf(bytes) === wireKinds.batch) {
      for (const frame of readBatch(bytes, 4_096)) {
        received.push(frame.slice())
        const result = frames.receive(region.member, frame)
        if (result.kind === 'message') messages.push({ from: result.from, message: result.message })
      }
    }
  })
  socket.send(hello.challenge())
  return { socket, authenticated, messages, frames: received, closed }
}
