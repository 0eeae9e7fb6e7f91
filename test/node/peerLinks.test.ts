import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { connect } from 'node:net'
import { WebSocketServer } from 'ws'
import { afterEach, describe, expect, it } from 'vitest'
import { Ed25519Signer } from '../../node/ed25519Signer.ts'
import { Hello, type HelloIdentity } from '../../node/peer/hello.ts'
import { refusalCloseCodes } from '../../node/peer/refusals.ts'
import { writeBatch } from '../../node/peer/wire.ts'
import type { PeerLinkLimits } from '../../node/peer/limits.ts'
import { interRegionLatency } from '../../node/peer/wanLatency.ts'
import { PeerLinks, peerEndpointOf, type PeerMember } from '../../node/peerLinks.ts'
import { closeServer, fakePeer, listen, newSession, waitFor } from '../support/loopback.ts'

interface TestNode {
  readonly id: string
  readonly signer: Ed25519Signer
  readonly server: Server
  readonly url: string
  links: PeerLinks | null
  readonly received: { from: string; frame: Uint8Array }[]
}

const clusterId = 'test'
const nodes: TestNode[] = []
const cleanups: (() => void)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup()
  for (const node of nodes.splice(0)) {
    await node.links?.close()
    await closeServer(node.server)
  }
})

function newSigner(): Ed25519Signer {
  return new Ed25519Signer(new Uint8Array(randomBytes(32)))
}

/** Servers for `ids` on free ports (each hands upgrades to its node's links), and their members. */
async function servers(ids: readonly string[]): Promise<{ testNodes: TestNode[]; members: PeerMember[] }> {
  const testNodes: TestNode[] = []
  for (const id of ids) {
    const server = createServer()
    const node: TestNode = { id, signer: newSigner(), server, url: `http://127.0.0.1:${await listen(server)}`, links: null, received: [] }
    // Without links (yet) the socket is left to other listeners (a test's own fake peer).
    server.on('upgrade', (request, socket, head) => node.links?.accept(request, socket, head))
    testNodes.push(node)
    nodes.push(node)
  }
  const regions = ['eu', 'us', 'ap']
  return { testNodes, members: testNodes.map((node, index) => ({ id: node.id, region: regions[index % regions.length]!, url: node.url, publicKey: node.signer.publicKey })) }
}

function startLinks(node: TestNode, members: PeerMember[], options: { secret?: string; limits?: Partial<PeerLinkLimits> } = {}): PeerLinks {
  const links = new PeerLinks({
    self: node.id,
    clusterId,
    members,
    signer: node.signer,
    secret: options.secret === undefined ? null : new TextEncoder().encode(options.secret),
    limits: options.limits,
    onFrame: (from, frame) => node.received.push({ from, frame: new Uint8Array(frame) }),
  })
  node.links = links
  links.start()
  return links
}

async function linkCluster(ids: readonly string[], options: { secret?: string; limits?: Partial<PeerLinkLimits> } = {}) {
  const { testNodes, members } = await servers(ids)
  for (const node of testNodes) startLinks(node, members, options)
  return { testNodes, members }
}

function peerStatus(node: TestNode, peer: string) {
  return node.links!.status().peers.find((status) => status.id === peer)!
}

function allConnected(testNodes: TestNode[]): boolean {
  return testNodes.every((node) => node.links!.status().peers.every((peer) => peer.connected))
}

function frameOf(tag: number, bytes = 16): Uint8Array {
  const frame = new Uint8Array(bytes)
  frame.fill(tag & 0xff)
  new DataView(frame.buffer).setUint32(0, tag)
  return frame
}

describe('peer links', () => {
  it('run the hello, keep one link per pair, and carry frames in order, batched', async () => {
    const { testNodes } = await linkCluster(['n1', 'n2', 'n3'])
    const [n1, n2, n3] = testNodes as [TestNode, TestNode, TestNode]
    await waitFor('every link up and every hello done', () => allConnected(testNodes) && testNodes.every((node) => node.links!.status().pendingHellos === 0))
    // Both sides use the same socket: one dialed it, the other accepted it.
    for (const [a, b] of [
      [n1, n2],
      [n1, n3],
      [n2, n3],
    ] as const) {
      await waitFor(`one link between ${a.id} and ${b.id}`, () => peerStatus(b, a.id).direction === (peerStatus(a, b.id).direction === 'out' ? 'in' : 'out'))
    }
    // Both dialed at start: the duplicates were settled.
    expect(testNodes.reduce((sum, node) => sum + node.links!.status().duplicatesClosed, 0)).toBeGreaterThan(0)
    for (let tag = 0; tag < 500; tag++) n1.links!.send('n2', frameOf(tag))
    for (let tag = 0; tag < 10; tag++) n3.links!.send('n1', frameOf(1000 + tag))
    await waitFor('frames at n2 and n1', () => n2.received.length === 500 && n1.received.length === 10)
    expect(n2.received.map(({ from, frame }) => `${from}:${new DataView(frame.buffer).getUint32(0)}`)).toEqual(Array.from({ length: 500 }, (_, tag) => `n1:${tag}`))
    expect(n1.received.every(({ from }) => from === 'n3')).toBe(true)
    const out = peerStatus(n1, 'n2')
    // Sent in one synchronous run: one flush, far fewer messages than frames.
    expect(out.framesOut).toBe(500)
    expect(out.batchesOut).toBeLessThan(10)
    expect(peerStatus(n2, 'n1').framesIn).toBe(500)
    for (const node of testNodes) expect(Object.values(node.links!.status().refused).every((count) => count === 0)).toBe(true)
  })

  it('follow configurations: a member added gets a link and its hello is accepted; a removed one is closed, refused and counted', async () => {
    const { testNodes, members } = await servers(['n1', 'n2', 'n3'])
    const [n1, n2, n3] = testNodes as [TestNode, TestNode, TestNode]
    const first = members.slice(0, 2)
    startLinks(n1, first)
    startLinks(n2, first)
    await waitFor('n1 and n2 linked', () => allConnected([n1, n2]))
    // n3 is not a member yet: it dials n1 and n2 with the full list, and they refuse its hello.
    startLinks(n3, members)
    await waitFor('n3 refused as unknownMember', () => n1.links!.status().refused.unknownMember + n2.links!.status().refused.unknownMember > 0)
    expect(peerStatus(n3, 'n1').connected).toBe(false)

    // A configuration adds n3 at n1 and n2: they dial it, and its hellos are accepted from now on.
    expect(n1.links!.setMembers(members)).toEqual({ added: ['n3'], removed: [] })
    expect(n2.links!.setMembers(members)).toEqual({ added: ['n3'], removed: [] })
    await waitFor('every pair linked', () => allConnected(testNodes))
    n1.links!.send('n3', frameOf(7))
    await waitFor('a frame from n1 at n3', () => n3.received.some(({ from }) => from === 'n1'))

    // A later one removes n3: its links close with removedMember, frames for it are dropped, and its redials are refused.
    const refusedBefore = n1.links!.status().refused.unknownMember
    expect(n1.links!.setMembers(first)).toEqual({ added: [], removed: ['n3'] })
    expect(n2.links!.setMembers(first)).toEqual({ added: [], removed: ['n3'] })
    expect(n1.links!.status().refused.removedMember).toBe(1)
    expect(n1.links!.has('n3')).toBe(false)
    n1.links!.send('n3', frameOf(8))
    expect(n1.links!.status().framesToUnknown).toBe(1)
    await waitFor('n3 lost both links', () => !peerStatus(n3, 'n1').connected && !peerStatus(n3, 'n2').connected)
    await waitFor('n3 redials refused as unknownMember', () => n1.links!.status().refused.unknownMember > refusedBefore)
    expect(peerStatus(n3, 'n1').lastError).toMatch(/removedMember|unknownMember/)
    expect(n3.received.filter(({ from }) => from === 'n1')).toHaveLength(1)
    // n1 and n2 still talk.
    n1.links!.send('n2', frameOf(9))
    await waitFor('n1 to n2 still works', () => n2.received.some(({ from, frame }) => from === 'n1' && new DataView(frame.buffer).getUint32(0) === 9))
  })

  it('refuse and count garbage, frames before the hello, wrong cluster, unknown member, bad signature and bad secret, closing only that socket', async () => {
    const secret = 'cluster secret'
    const { testNodes } = await linkCluster(['n1', 'n2', 'n3'], { secret })
    const [n1, n2] = testNodes as [TestNode, TestNode, TestNode]
    await waitFor('every link up', () => allConnected(testNodes))
    const endpoint = peerEndpointOf(n1.url)
    const keys = new Map(testNodes.map((node) => [node.id, node.signer.publicKey]))
    const honest = { clusterId, self: 'n2', signer: n2.signer, secret: new TextEncoder().encode(secret), session: newSession(), publicKeyOf: (id: string) => keys.get(id) ?? null }

    const garbage = await fakePeer(endpoint, null, Uint8Array.of(0x99, 1, 2, 3))
    expect(garbage.code).toBe(refusalCloseCodes.malformed)
    const text = await fakePeer(endpoint, null, 'hello?')
    expect(text.code).toBe(refusalCloseCodes.malformed)
    const early = await fakePeer(endpoint, null, writeBatch([frameOf(1)]))
    expect(early).toEqual({ code: refusalCloseCodes.unauthenticated, reason: expect.stringMatching(/before the hello/) })
    const wrongCluster = await fakePeer(endpoint, { ...honest, clusterId: 'other' })
    expect(wrongCluster).toEqual({ code: refusalCloseCodes.wrongCluster, reason: expect.stringMatching(/cluster other, this is test/) })
    const unknown = await fakePeer(endpoint, { ...honest, self: 'n9' })
    expect(unknown.code).toBe(refusalCloseCodes.unknownMember)
    const wrongKey = await fakePeer(endpoint, { ...honest, signer: newSigner() })
    expect(wrongKey).toEqual({ code: refusalCloseCodes.badSignature, reason: expect.stringMatching(/n2's hello signature/) })
    const wrongSecret = await fakePeer(endpoint, { ...honest, secret: new TextEncoder().encode('guess') })
    expect(wrongSecret.code).toBe(refusalCloseCodes.badSecret)
    const noSecret = await fakePeer(endpoint, { ...honest, secret: null })
    expect(noSecret.code).toBe(refusalCloseCodes.badSecret)
    // Raw bytes that are not even WebSocket framing, after a proper upgrade.
    await rawGarbageAfterUpgrade(n1.url)

    await waitFor('the raw garbage refused', () => n1.links!.status().refused.malformed === 3)
    expect(n1.links!.status().refused).toMatchObject({ malformed: 3, unauthenticated: 1, wrongCluster: 1, unknownMember: 1, badSignature: 1, badSecret: 2 })
    // The real links stayed up through all of it, and still carry frames.
    expect(allConnected(testNodes)).toBe(true)
    expect(peerStatus(n1, 'n2').reconnects).toBe(0)
    n2.links!.send('n1', frameOf(7))
    await waitFor('a frame from n2', () => n1.received.some(({ from }) => from === 'n2'))
    expect(n1.links!.status().pendingHellos).toBe(0)
  })

  it('a node whose secret differs cannot link, and both sides say why', async () => {
    const { testNodes, members } = await servers(['n1', 'n2'])
    const [n1, n2] = testNodes as [TestNode, TestNode]
    startLinks(n1, members, { secret: 'right' })
    startLinks(n2, members, { secret: 'wrong' })
    await waitFor('refusals on both sides', () => n1.links!.status().refused.badSecret > 0 && n2.links!.status().refused.badSecret > 0)
    await waitFor('n1 names the problem', () => /badSecret/.test(peerStatus(n1, 'n2').lastError ?? ''))
    expect(peerStatus(n1, 'n2').connected).toBe(false)
    expect(n1.received).toHaveLength(0)
  })

  it('drop and count frames for a peer that is down once its queue is full, and keep serving the others', async () => {
    const limits = { queueFramesMax: 10, queueBytesMax: 1024 * 1024 }
    const { testNodes, members } = await servers(['n1', 'n2', 'n3'])
    const [n1, n2, n3] = testNodes as [TestNode, TestNode, TestNode]
    startLinks(n1, members, { limits })
    startLinks(n2, members, { limits })
    await closeServer(n3.server)
    await waitFor('n1 and n2 linked', () => peerStatus(n1, 'n2').connected)
    for (let tag = 0; tag < 100; tag++) n1.links!.send('n3', frameOf(tag))
    for (let tag = 0; tag < 5; tag++) n1.links!.send('n2', frameOf(tag))
    const down = peerStatus(n1, 'n3')
    expect(down.queueFrames).toBe(10)
    expect(down.dropsOut.queueFull).toBe(90)
    await waitFor('n2 served', () => n2.received.length === 5)
    await waitFor('n1 redialing n3', () => peerStatus(n1, 'n3').dials >= 2)
    expect(peerStatus(n1, 'n3').lastError).toMatch(/ECONNREFUSED/)
  })

  it('a peer that stops reading fills only its own queue: frames for it are dropped and counted, the others flow', async () => {
    const limits = { queueFramesMax: 1_000, queueBytesMax: 2 * 1024 * 1024, socketBufferedBytesMax: 256 * 1024 }
    const { testNodes, members } = await servers(['n1', 'n2', 'n3'])
    const [n1, n2, n3] = testNodes as [TestNode, TestNode, TestNode]
    startLinks(n1, members, { limits })
    startLinks(n2, members, { limits })
    // n3 runs a real hello, then stops reading its socket (a stalled process).
    const keys = new Map(members.map((member) => [member.id, member.publicKey]))
    stallAfterHello(n3, { clusterId, self: 'n3', signer: n3.signer, secret: null, session: newSession(), publicKeyOf: (id) => keys.get(id) ?? null })
    await waitFor('n1 linked to n2 and to the stalling n3', () => peerStatus(n1, 'n2').connected && peerStatus(n1, 'n3').connected)
    const big = new Uint8Array(64 * 1024).fill(1)
    let rounds = 0
    while (peerStatus(n1, 'n3').dropsOut.queueFull === 0) {
      if (++rounds > 2_000) throw new Error('no frame for the stalled peer was ever dropped')
      for (let index = 0; index < 16; index++) n1.links!.send('n3', big)
      n1.links!.send('n2', frameOf(rounds))
      expect(peerStatus(n1, 'n3').queueBytes).toBeLessThanOrEqual(limits.queueBytesMax)
      await new Promise((resolve) => setImmediate(resolve))
    }
    const stalledStatus = peerStatus(n1, 'n3')
    expect(stalledStatus.queueBytes).toBeLessThanOrEqual(limits.queueBytesMax)
    expect(stalledStatus.connected).toBe(true)
    // n2 got every frame sent to it meanwhile.
    await waitFor('n2 served', () => n2.received.length === rounds)
  })

  it('reconnect to a restarted peer, replacing the link of its earlier life', async () => {
    const { testNodes, members } = await linkCluster(['n1', 'n2'])
    const [n1, n2] = testNodes as [TestNode, TestNode]
    await waitFor('linked', () => allConnected(testNodes))
    await n2.links!.close()
    await waitFor('n1 sees n2 gone', () => !peerStatus(n1, 'n2').connected)
    startLinks(n2, members)
    await waitFor('linked again', () => allConnected(testNodes))
    expect(peerStatus(n1, 'n2').reconnects).toBe(1)
    n1.links!.send('n2', frameOf(3))
    await waitFor('a frame on the new link', () => n2.received.length === 1)
  })

  it('the fault switch partitions both ways, delays frames, and heals', async () => {
    const { testNodes } = await linkCluster(['n1', 'n2'])
    const [n1, n2] = testNodes as [TestNode, TestNode]
    await waitFor('linked', () => allConnected(testNodes))
    n1.links!.faults.set({ partition: ['n2'] })
    n1.links!.send('n2', frameOf(1))
    n2.links!.send('n1', frameOf(2))
    await waitFor('n2 frame dropped at n1', () => peerStatus(n1, 'n2').dropsIn.partition === 1)
    expect(peerStatus(n1, 'n2').dropsOut.partition).toBe(1)
    expect(n1.received).toHaveLength(0)
    expect(n2.received).toHaveLength(0)
    n1.links!.faults.set({ partition: null, latencyMs: 300 })
    n1.links!.send('n2', frameOf(3))
    n1.links!.flush()
    // Not due yet: it waits in the queue, then leaves on its own.
    expect(peerStatus(n1, 'n2').queueFrames).toBe(1)
    await waitFor('the delayed frame', () => n2.received.length === 1)
    n1.links!.faults.set({ latencyMs: null, loss: 1 })
    n1.links!.send('n2', frameOf(4))
    expect(peerStatus(n1, 'n2').dropsOut.loss).toBe(1)
    expect(n1.links!.faults.state()).toEqual({ partition: null, latencyMs: null, loss: 1, pause: false })
    expect(() => n1.links!.faults.set({ loss: 2 })).toThrow(/loss must be a probability/)
  })

  it('static WAN latency delays frames between regions only', () => {
    const wan = interRegionLatency(80)
    expect(wan('eu', 'us')).toBe(80)
    expect(wan('eu', 'eu')).toBe(0)
    expect(() => interRegionLatency(-1)).toThrow(/WAN latency/)
  })
})

/** Accepts peer sockets at `node`'s server as `identity`, and stops reading each one once its hello is done. */
function stallAfterHello(node: TestNode, identity: HelloIdentity): void {
  const server = new WebSocketServer({ noServer: true })
  cleanups.push(() => {
    for (const ws of server.clients) ws.terminate()
  })
  node.server.on('upgrade', (request, socket, head) =>
    server.handleUpgrade(request, socket, head, (ws) => {
      const hello = new Hello(identity, null, new Uint8Array(randomBytes(32)))
      ws.send(hello.challenge())
      ws.on('message', (data: Buffer) => {
        const bytes = new Uint8Array(data)
        const step = bytes[0] === 0x01 ? hello.onChallenge(bytes) : hello.onProof(bytes)
        if (step.kind === 'proof') ws.send(step.proof)
        if (step.kind === 'authenticated') ws.pause()
      })
    }),
  )
}

/** Upgrades a raw TCP connection to /v1/peer, then writes bytes that are not WebSocket framing. */
function rawGarbageAfterUpgrade(url: string): Promise<void> {
  const { port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(`GET /v1/peer HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`)
    })
    let upgraded = false
    socket.on('data', (data) => {
      if (!upgraded && data.toString().startsWith('HTTP/1.1 101')) {
        upgraded = true
        socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00, 0x13, 0x37]))
      }
    })
    socket.on('close', () => (upgraded ? resolve() : reject(new Error('the upgrade was refused'))))
    socket.on('error', () => {})
  })
}
