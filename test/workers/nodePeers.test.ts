/**
 * A node process as a peer of the region objects, in workerd: the node's own
 * join client (node/join.ts) joins through the Worker, then a peer socket is
 * dialed to `/v1/peer?region=…` and runs the node link's signed hello
 * (node/peer/hello.ts) as a node does. The region object authenticates it
 * against the key the join put in the configuration, sends it replica frames
 * (node/peer/wire.ts batches), keeps the socket over an eviction
 * (hibernation) and refuses a socket that cannot prove a member's key.
 */
import { exports } from 'cloudflare:workers'
import { evictDurableObject, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { replicaCodec, type ReplicaMessage } from '../../core/index.ts'
import { PeerFrames } from '../../host/peerFrames.ts'
import { Ed25519Signer } from '../../node/ed25519Signer.ts'
import { joinCluster } from '../../node/join.ts'
import { Hello } from '../../node/peer/hello.ts'
import { refusalCloseCodes } from '../../node/peer/refusals.ts'
import { kindOf, readBatch, wireKinds, wireSizes } from '../../node/peer/wire.ts'
import { cluster, eventually, leaderElected, regionStub } from './edgeCluster.ts'

const secret = new TextEncoder().encode('workers-test-cluster-secret')
const workerFetch: typeof fetch = (input, init) => exports.default.fetch(input as RequestInfo, init)

/** A node's key (a fresh random seed). */
function nodeSigner(): Ed25519Signer {
  return new Ed25519Signer(crypto.getRandomValues(new Uint8Array(32)))
}

/** Joins `id` through the Worker as `dwcp node --join https://<worker>` does. */
async function join(id: string, signer: Ed25519Signer) {
  return joinCluster({ urls: ['https://edge.test'], id, region: 'dc', url: `http://127.0.0.1:7999`, tags: {}, signer, secret, token: null, fetch: workerFetch, deadlineMs: 30_000 })
}

interface PeerSocket {
  readonly socket: WebSocket
  /** Resolves with the member the hello authenticated, or rejects with the close that refused it. */
  readonly authenticated: Promise<string>
  /** Replica messages received after the hello, decoded. */
  readonly messages: { from: string; message: ReplicaMessage }[]
  readonly closed: Promise<{ code: number; reason: string }>
}

/** Dials `regionId`'s object as node `id` and runs the node's side of the hello. */
async function dialPeer(regionId: string, id: string, signer: Ed25519Signer, publicKeyOf: (peer: string) => Uint8Array | null): Promise<PeerSocket> {
  const region = cluster.regions.find((candidate) => candidate.id === regionId)!
  const response = await exports.default.fetch(`https://edge.test/v1/peer?region=${regionId}`, { headers: { upgrade: 'websocket' } })
  expect(response.status).toBe(101)
  const socket = response.webSocket!
  socket.accept()
  socket.binaryType = 'arraybuffer'
  const session = crypto.getRandomValues(new Uint8Array(wireSizes.sessionBytes))
  const hello = new Hello({ clusterId: cluster.clusterId, self: id, signer, secret, session, publicKeyOf }, region.member, crypto.getRandomValues(new Uint8Array(wireSizes.nonceBytes)))
  const frames = new PeerFrames<ReplicaMessage>({ codec: replicaCodec, clusterId: cluster.clusterId, self: id, messageIdStart: 1 })
  const messages: { from: string; message: ReplicaMessage }[] = []
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
        const result = frames.receive(region.member, frame)
        if (result.kind === 'message') messages.push({ from: result.from, message: result.message })
      }
    }
  })
  socket.send(hello.challenge())
  return { socket, authenticated, messages, closed }
}

describe('node processes as peers of the region objects', () => {
  it('a node joins through the Worker, authenticates its peer socket, receives replica frames, and keeps the socket over an eviction', async () => {
    await leaderElected()
    const signer = nodeSigner()
    const joined = await join('dc-node-1', signer)
    expect(joined.via).toBe('https://edge.test')
    expect(joined.configuration.raftLearners).toContain('dc-node-1')
    const keyOf = (peer: string) => joined.configuration.members.find((member) => member.id === peer)?.publicKey ?? null

    // The configuration reaches every region (Raft); then apac takes the node's hello.
    await eventually('apac applied the join', async () => ((await regionStub('apac').snapshot()).configuration.members.some((member) => member.id === 'dc-node-1') ? true : undefined))
    const peer = await dialPeer('apac', 'dc-node-1', signer, keyOf)
    expect(await peer.authenticated).toBe('region-apac')
    await eventually('apac lists the node peer', async () => ((await regionStub('apac').wakeCounters()).nodePeers.includes('dc-node-1') ? true : undefined))
    // SWIM probes (every probe interval) and the rest reach the node as frames of its link.
    await eventually('a replica message from region-apac', async () => (peer.messages.length > 0 ? true : undefined))
    const attachments = await runInDurableObject(regionStub('apac'), (_instance, state) => state.getWebSockets('peer').map((socket) => socket.deserializeAttachment()))
    expect(attachments).toEqual([{ kind: 'nodePeer', peer: 'dc-node-1' }])

    // Hibernation: the instance goes, the socket stays; the next life finds it by its attachment and keeps sending on it.
    await evictDurableObject(regionStub('apac'))
    const heardBefore = peer.messages.length
    await eventually('a message from the next life of region-apac', async () => (peer.messages.length > heardBefore ? true : undefined))
    const counters = await regionStub('apac').wakeCounters()
    expect(counters.nodePeersResumed).toBe(1)
    expect(counters.nodePeers).toEqual(['dc-node-1'])
    peer.socket.close(1000, 'done')
  })

  it('refuses a peer socket whose hello names no member, and counts it in /metrics', async () => {
    await leaderElected()
    const regionKeys = new Map((await regionStub('wnam').snapshot()).configuration.members.map((member) => [member.id, hexBytes(member.publicKeyHex)]))
    // A node that never joined: the object refuses its challenge (unknownMember) and closes the socket.
    const stranger = await dialPeer('wnam', 'dc-stranger', nodeSigner(), (peer) => regionKeys.get(peer) ?? null)
    await expect(stranger.authenticated).rejects.toThrow(/unknownMember/)
    expect((await stranger.closed).code).toBe(refusalCloseCodes.unknownMember)
    expect(stranger.messages).toEqual([])
    const metrics = await (await exports.default.fetch('https://edge.test/metrics', { headers: { 'x-dwcp-region': 'wnam' } })).text()
    expect(metrics).toMatch(/dwcp_peer_sockets_refused_total\{reason="unknownMember"\} 1\b/)
    expect((await regionStub('wnam').wakeCounters()).nodePeers).toEqual([])
  })
})

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16))
}
