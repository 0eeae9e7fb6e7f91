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
import { refusalCloseCodes } from '../../node/peer/refusals.ts'
import { eventually, leaderElected, regionStub } from './edgeCluster.ts'
import { dialPeer, joinAsNode, nodeSigner } from './nodePeer.ts'

describe('node processes as peers of the region objects', () => {
  it('a node joins through the Worker, authenticates its peer socket, receives replica frames, and keeps the socket over an eviction', async () => {
    await leaderElected()
    const signer = nodeSigner()
    const joined = await joinAsNode('dc-node-1', signer)
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
