/**
 * Transport: framed peer messages/s through PeerLinks, in the arrangement of
 * the raw ws anchor (bench/anchors/rawWs.ts): one process, a sender and a
 * receiver on loopback. Two PeerLinks (n1, n2), each behind a bare HTTP
 * server that hands it /v1/peer upgrades, run the signed hello; then n1 sends
 * `frameBytes` frames to n2 as fast as the links take them. The sender holds
 * back while more than `inFlightFramesMax` frames are sent and not yet
 * received (below the send queue's bound, so nothing is dropped), yielding to
 * the event loop between runs as the anchor does. Messages/s at the receiver,
 * first frame to last.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { Ed25519Signer } from '../../node/ed25519Signer.ts'
import { peerLinkLimits } from '../../node/peer/limits.ts'
import { PeerLinks, type PeerMember } from '../../node/peerLinks.ts'

export const transportLimits = {
  /** Frames sent and not yet received; half the send queue's bound, so a full run never drops. */
  inFlightFramesMax: peerLinkLimits.queueFramesMax / 2,
  /** Frames sent between two looks at the window (the anchor sends 64 between two looks at its buffer). */
  sendRunFrames: 64,
  /** The links come up (dial, hello) within this. */
  connectTimeoutMs: 10_000,
  /** After the sending stops, what is in flight may arrive within this. */
  drainMs: 2_000,
} as const

export interface PeerLinksOneWayResult {
  readonly messagesPerSecond: number
  readonly bytesPerSecond: number
  readonly messages: number
  /** Frames the links dropped (queue full, expired): 0 in a sound run. */
  readonly dropped: number
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port))
  })
}

export async function peerLinksOneWay(frameBytes: number, durationMs: number): Promise<PeerLinksOneWayResult> {
  const ids = ['n1', 'n2'] as const
  const servers = ids.map(() => createServer())
  const signers = ids.map(() => new Ed25519Signer(new Uint8Array(randomBytes(32))))
  const members: PeerMember[] = []
  for (const [index, id] of ids.entries()) members.push({ id, region: 'eu', url: `http://127.0.0.1:${await listen(servers[index]!)}`, publicKey: signers[index]!.publicKey })
  let received = 0
  let firstAt = 0
  let lastAt = 0
  const links = ids.map(
    (id, index) =>
      new PeerLinks({
        self: id,
        clusterId: 'bench',
        members,
        signer: signers[index]!,
        secret: null,
        onFrame: () => {
          if (received === 0) firstAt = performance.now()
          received++
          lastAt = performance.now()
        },
      }),
  )
  for (const [index, server] of servers.entries()) server.on('upgrade', (request, socket, head) => links[index]!.accept(request, socket, head))
  const sender = links[0]!
  try {
    for (const link of links) link.start()
    const connectBy = performance.now() + transportLimits.connectTimeoutMs
    while (!links.every((link) => link.status().peers.every((peer) => peer.connected))) {
      if (performance.now() > connectBy) throw new Error(`peer links not connected within ${transportLimits.connectTimeoutMs} ms`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    const frame = new Uint8Array(frameBytes).fill(7)
    let sent = 0
    const endAt = performance.now() + durationMs
    while (performance.now() < endAt) {
      while (sent - received < transportLimits.inFlightFramesMax && performance.now() < endAt) {
        for (let index = 0; index < transportLimits.sendRunFrames; index++) sender.send('n2', frame)
        sent += transportLimits.sendRunFrames
      }
      await new Promise((resolve) => setImmediate(resolve))
    }
    const drainUntil = performance.now() + transportLimits.drainMs
    while (received < sent && performance.now() < drainUntil) await new Promise((resolve) => setTimeout(resolve, 10))
    const drops = sender.status().peers.find((peer) => peer.id === 'n2')!.dropsOut
    const seconds = Math.max(1e-3, (lastAt - firstAt) / 1000)
    return { messagesPerSecond: Math.round(received / seconds), bytesPerSecond: Math.round((received * frameBytes) / seconds), messages: received, dropped: drops.queueFull + drops.expired }
  } finally {
    await Promise.all(links.map((link) => link.close()))
    for (const server of servers) server.closeAllConnections()
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
  }
}
