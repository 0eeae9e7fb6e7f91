import { describe, expect, it } from 'vitest'
import { replicaCodec } from '../../core/replica/codec.ts'
import type { ReplicaMessage } from '../../core/replica/messages.ts'
import type { FeedItem } from '../../host/eventLog.ts'
import { PeerFrames } from '../../host/peerFrames.ts'
import { hostedCluster as cluster } from '../support/hostedCluster.ts'

describe('ReplicaHost', () => {
  it('elects a leader and answers a strong write exactly once, on any node', async () => {
    const { nodes, advance } = cluster(7)
    advance(3_000)
    const leaders = nodes.filter((node) => node.host.snapshot().raft?.role === 'leader')
    expect(leaders).toHaveLength(1)
    const follower = nodes.find((node) => node !== leaders[0])!
    const outcomes: unknown[] = []
    const pending = follower.host.call({ type: 'put', key: 'cfg/a', value: 'x', consistency: 'strong' }).then((outcome) => outcomes.push(outcome))
    advance(500)
    await pending
    expect(outcomes).toHaveLength(1)
    expect(outcomes[0]).toMatchObject({ kind: 'reply', reply: { ok: true, path: 'raft' } })
    const read = nodes[2]!.host.call({ type: 'get', key: 'cfg/a', consistency: 'strong' })
    advance(500)
    expect(await read).toMatchObject({ kind: 'reply', reply: { ok: true, value: 'x' } })
    expect(follower.host.snapshot().kernel.inFlight).toBe(0)
  })

  it('leave hands the news to the transport at once; the others mark the node left, and a second leave is refused', () => {
    const { nodes, advance, wire } = cluster(9)
    advance(1_000)
    const [stays, alsoStays, leaves] = [nodes[0]!, nodes[1]!, nodes[2]!]
    const stateOf = (node: (typeof nodes)[number], id: string) => node.host.snapshot().members.find((member) => member.id === id)?.state
    wire.length = 0
    expect(leaves.host.leave()).toBeNull()
    expect(wire.filter((sent) => sent.from === leaves.id).length).toBeGreaterThan(0)
    expect(leaves.host.leave()).toMatchObject({ code: 'leaving' })
    advance(50)
    expect([stateOf(stays, leaves.id), stateOf(alsoStays, leaves.id)]).toEqual(['left', 'left'])
    expect(stateOf(stays, alsoStays.id)).toBe('alive')
  })

  it('refuses a call that the replica refuses, without waiting', async () => {
    const { nodes } = cluster(3)
    const outcome = await nodes[0]!.host.call({ type: 'put', key: 'cfg/' + 'k'.repeat(10_000), value: 'x' })
    expect(outcome.kind === 'refused' || (outcome.kind === 'reply' && !outcome.reply.ok)).toBe(true)
  })

  it('numbers events per incarnation and resumes a viewer after the last number it saw', () => {
    const { nodes, advance } = cluster(11)
    const host = nodes[0]!.host
    const subscription = host.subscribe(null)
    if (!('take' in subscription)) throw new Error(subscription.message)
    advance(3_000)
    const items: FeedItem<unknown>[] = subscription.take(100)
    expect(items.length).toBeGreaterThan(0)
    const seqs = items.flatMap((item) => (item.kind === 'event' ? [item.seq] : []))
    expect(seqs).toEqual(seqs.map((_, index) => seqs[0]! + index))
    const { epoch } = host.snapshot().events
    const resumed = host.subscribe({ epoch, seq: seqs[1]! })
    if (!('take' in resumed)) throw new Error(resumed.message)
    expect(resumed.take(1)[0]).toMatchObject({ kind: 'event', seq: seqs[2] })
  })

  it('refuses frames for another cluster, another node or from a sender the link did not authenticate', () => {
    const { nodes } = cluster(5)
    const [a, b] = [nodes[0]!, nodes[1]!]
    const other = new PeerFrames<ReplicaMessage>({ codec: replicaCodec, clusterId: 'other', self: 'n1', messageIdStart: 0 })
    const message: ReplicaMessage = { engine: 'replica', message: { type: 'forwardRead', requestId: 1, key: 'cfg/a', boot: 1 } }
    const frame = other.encode('n2', message)[0]!
    expect(b.frames.receive('n1', frame)).toMatchObject({ kind: 'refused', code: 'wrongCluster' })
    expect(b.frames.receive('n1', new Uint8Array([1, 2, 3]))).toMatchObject({ kind: 'refused', code: 'malformed' })
    const good = a.frames.encode('n3', message)[0]!
    expect(b.frames.receive('n1', good)).toMatchObject({ kind: 'refused', code: 'wrongDestination' })
    expect(nodes[2]!.frames.receive('n2', good)).toMatchObject({ kind: 'refused', code: 'wrongSender' })
    expect(b.frames.metrics.refusedWrongCluster + b.frames.metrics.refusedMalformed + b.frames.metrics.refusedWrongDestination).toBe(3)
  })
})
