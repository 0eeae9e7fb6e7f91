import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeWith, encodeWith } from '../../core/codec/envelope.ts'
import { BroadcastQueue, retransmitLimit } from '../../core/gossip/broadcastQueue.ts'
import { defaultGossipConfig, lanGossipConfig, toTicks, wanGossipConfig } from '../../core/gossip/config.ts'
import { GossipEngine, pushPullScale, type GossipApplied, type GossipCommand, type GossipEvent } from '../../core/gossip/engine.ts'
import { gossipBodyBytes, readGossipBody, writeGossipBody, gossipMessageType, updateLimits, type GossipMessage, type MemberState, type MemberSummary, type News } from '../../core/gossip/messages.ts'
import { UpdateStore } from '../../core/gossip/updateStore.ts'
import { Rng } from '../../core/lib/prng.ts'
import { hosted, runTicks, type HostedNode } from '../support/memoryHost.ts'
import { SimStorage } from '../../sim/storage.ts'

const tickMs = 50

type Node = HostedNode<GossipCommand, GossipMessage, GossipApplied, GossipEvent> & { engine: GossipEngine }

function node(id: string, storage = new SimStorage(), lifeguard = true): Node {
  return hosted(new GossipEngine({ id, seeds: ['a'], storage, rng: Rng.fromSeed(3).split(id), tickMs, config: { ...defaultGossipConfig, lifeguard } }), storage) as Node
}

/** Runs `ticks` ticks; messages arrive at the next tick (50 ms), never to a down node. */
const run = (nodes: Record<string, Node>, ticks: number) => runTicks(nodes, ticks)

const seconds = (s: number) => Math.round((s * 1000) / tickMs)

/** The members a node knows, itself included, sorted by id. */
function view(n: Node): MemberSummary[] {
  return [...n.engine.status().members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

function stateOf(n: Node, member: string): MemberState | undefined {
  return n.engine.status().members.find((summary) => summary.id === member)?.state
}

describe('SWIM engine', () => {
  it('joins through a seed until everyone knows everyone', () => {
    const nodes = Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((id) => [id, node(id)]))
    run(nodes, seconds(20))
    for (const n of Object.values(nodes)) expect(view(n).map((member) => `${member.id}:${member.state}`)).toEqual(['a:alive', 'b:alive', 'c:alive', 'd:alive', 'e:alive'])
  })

  it('suspects and then declares a crashed member dead, and everyone learns it', () => {
    const nodes = Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((id) => [id, node(id)]))
    run(nodes, seconds(20))
    nodes.e!.down = true
    run(nodes, seconds(60))
    for (const id of ['a', 'b', 'c', 'd']) expect(stateOf(nodes[id]!, 'e')).toBe('dead')
    const reasons = nodes.a!.events.filter((event) => event.kind === 'member' && event.member === 'e').map((event) => (event.kind === 'member' ? event.reason : ''))
    expect(reasons).toContain('suspected')
    expect(reasons[reasons.length - 1]).toBe('dead')
  })

  it('lets a suspected member refute with a higher incarnation', () => {
    const nodes = Object.fromEntries(['a', 'b', 'c'].map((id) => [id, node(id)]))
    run(nodes, seconds(10))
    const before = view(nodes.c!).find((member) => member.id === 'c')!.incarnation
    nodes.a!.step('b', { type: 'gossip', news: [{ kind: 'suspect', member: 'c', incarnation: before, from: 'b' }] })
    expect(stateOf(nodes.a!, 'c')).toBe('suspect')
    run(nodes, seconds(10))
    expect(stateOf(nodes.a!, 'c')).toBe('alive')
    expect(nodes.c!.engine.status().metrics.refutations).toBeGreaterThan(0)
    expect(view(nodes.c!).find((member) => member.id === 'c')!.incarnation).toBeGreaterThan(before)
  })

  it('marks a member that leaves as left, and lets it rejoin after a restart with a higher incarnation', () => {
    const nodes = Object.fromEntries(['a', 'b', 'c'].map((id) => [id, node(id)]))
    run(nodes, seconds(10))
    expect(nodes.c!.propose({ type: 'leave' })).toBeNull()
    run(nodes, seconds(5))
    expect(stateOf(nodes.a!, 'c')).toBe('left')
    nodes.c = node('c', nodes.c!.storage)
    run(nodes, seconds(20))
    expect(stateOf(nodes.a!, 'c')).toBe('alive')
    expect(stateOf(nodes.b!, 'c')).toBe('alive')
  })

  it('spreads a published update to every member, and keeps it through a crash of the publisher', () => {
    const nodes = Object.fromEntries(['a', 'b', 'c', 'd'].map((id) => [id, node(id)]))
    run(nodes, seconds(10))
    expect(nodes.b!.propose({ type: 'publish', key: 'k', version: 2, value: new Uint8Array([7]) })).toBeNull()
    expect(nodes.b!.propose({ type: 'publish', key: 'k', version: 1, value: new Uint8Array([1]) })).toMatchObject({ code: 'staleVersion' })
    nodes.b!.storage.crash(Rng.fromSeed(1), { lostProbability: 1, tornProbability: 0 })
    nodes.b = node('b', nodes.b!.storage)
    expect(nodes.b.engine.update('k')?.version).toBe(2)
    run(nodes, seconds(10))
    for (const n of Object.values(nodes)) expect(n.engine.update('k')).toEqual({ key: 'k', version: 2, value: new Uint8Array([7]) })
  })

  it('repairs an update that gossip missed through the update digest, long before the next push-pull', () => {
    const nodes = Object.fromEntries(['a', 'b', 'c', 'd'].map((id) => [id, node(id)]))
    run(nodes, seconds(10))
    nodes.d!.down = true
    expect(nodes.a!.propose({ type: 'publish', key: 'k', version: 1, value: new Uint8Array([5]) })).toBeNull()
    run(nodes, seconds(5)) // gossip spends its retransmits while d is away
    nodes.d!.down = false
    nodes.d!.outbox.length = 0
    expect(nodes.d!.engine.update('k')).toBeUndefined()
    // Two update-sync intervals, far below the 30 s push-pull interval.
    run(nodes, seconds((2 * defaultGossipConfig.updateSyncIntervalMs) / 1000 + 1))
    expect(nodes.d!.engine.update('k')?.version).toBe(1)
  })

  it('shows members, its incarnation, local health and suspicions in progress through status()', () => {
    const nodes = Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((id) => [id, node(id)]))
    run(nodes, seconds(20))
    const before = nodes.a!.engine.status()
    expect(before).toMatchObject({ id: 'a', incarnation: 1, joined: true, leaving: false, suspicions: [], localHealth: { score: 0, max: defaultGossipConfig.awarenessMax, timeoutMultiplier: 1 } })
    expect(before.members.map((member) => `${member.id}:${member.state}@${member.incarnation}`).sort()).toEqual(['a:alive@1', 'b:alive@1', 'c:alive@1', 'd:alive@1', 'e:alive@1'])
    // b suspects c and d confirms: a holds one suspicion of c, its deadline moved earlier by the confirmation.
    nodes.a!.step('b', { type: 'gossip', news: [{ kind: 'suspect', member: 'c', incarnation: 1, from: 'b' }] })
    const raised = nodes.a!.engine.status().suspicions
    nodes.a!.step('d', { type: 'gossip', news: [{ kind: 'suspect', member: 'c', incarnation: 1, from: 'd' }] })
    const confirmed = nodes.a!.engine.status().suspicions
    expect(raised).toEqual([{ member: 'c', accusers: ['b'], startTick: seconds(20), deadlineTick: expect.any(Number) }])
    expect(confirmed).toEqual([{ member: 'c', accusers: ['b', 'd'], startTick: seconds(20), deadlineTick: expect.any(Number) }])
    expect(confirmed[0]!.deadlineTick).toBeLessThan(raised[0]!.deadlineTick)
    // c hears it and refutes: a higher incarnation, and Lifeguard takes being suspected as a sign that it is the slow one.
    nodes.c!.step('b', { type: 'gossip', news: [{ kind: 'suspect', member: 'c', incarnation: 1, from: 'b' }] })
    expect(nodes.c!.engine.status()).toMatchObject({ incarnation: 2, localHealth: { score: 1, timeoutMultiplier: 2 }, metrics: { refutations: 1 } })
    // The refutation reaches a: the suspicion is over.
    run(nodes, seconds(2))
    expect(nodes.a!.engine.status().suspicions).toEqual([])
    expect(stateOf(nodes.a!, 'c')).toBe('alive')
  })

  it('derives LAN and WAN configs from one default, and ticks from milliseconds', () => {
    expect(lanGossipConfig).toEqual(defaultGossipConfig)
    expect(wanGossipConfig.probeIntervalMs).toBeGreaterThan(lanGossipConfig.probeIntervalMs)
    expect(wanGossipConfig.probeTimeoutMs).toBeLessThan(wanGossipConfig.probeIntervalMs)
    expect(toTicks(1000, 50)).toBe(20)
    expect(toTicks(1, 50)).toBe(1)
    // Push-pull stretches with the cluster as memberlist's does: x1 up to 32 members, +1 per doubling.
    expect([pushPullScale(600, 32), pushPullScale(600, 64), pushPullScale(600, 1000), pushPullScale(600, 10_000)]).toEqual([600, 1200, 3600, 6000])
  })
})

/** News about `member` in a message, if it carries any. */
const newsAbout = (message: GossipMessage, member: string) => 'news' in message && message.news.some((news) => news.kind !== 'update' && news.member === member)
const incarnationOf = (n: Node, member: string) => view(n).find((summary) => summary.id === member)?.incarnation
const declaredDead = (n: Node, member: string) => n.events.some((event) => event.kind === 'member' && event.member === member && event.state === 'dead')

describe('SWIM engine: a live member accused while it could not hear', () => {
  // The periodic push-pull would repair all of these in the end; these tests look at what comes before it.
  const noPushPull = { ...defaultGossipConfig, pushPullIntervalMs: 3_600_000 }
  const quietNode = (id: string, storage = new SimStorage()) => hosted(new GossipEngine({ id, seeds: ['a'], storage, rng: Rng.fromSeed(3).split(id), tickMs, config: noPushPull }), storage) as Node

  it('hears that it was declared dead, refutes with a higher incarnation and is alive again everywhere', () => {
    const nodes = Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((id) => [id, quietNode(id)]))
    run(nodes, seconds(20))
    const before = incarnationOf(nodes.c!, 'c')!
    // a's suspicion of c timed out and its news never reached c: every other member holds c dead.
    for (const id of ['a', 'b', 'd', 'e']) {
      nodes[id]!.step('a', { type: 'gossip', news: [{ kind: 'dead', member: 'c', incarnation: before, from: 'a' }] })
      expect(stateOf(nodes[id]!, 'c')).toBe('dead')
    }
    // While that news is fresh (its retransmits not yet spent), none of it reaches c.
    runTicks(nodes, seconds(3), (_from, to, message) => to === 'c' && newsAbout(message, 'c'))
    run(nodes, seconds(10))
    for (const id of ['a', 'b', 'd', 'e']) expect(stateOf(nodes[id]!, 'c'), `${id}'s view of c`).toBe('alive')
    expect(incarnationOf(nodes.a!, 'c')).toBeGreaterThan(before)
    expect(nodes.c!.engine.status().metrics.refutations).toBeGreaterThan(0)
  })

  it('refutes a suspicion whose news it missed when the suspecting member probes it', () => {
    const nodes = Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((id) => [id, quietNode(id)]))
    run(nodes, seconds(20))
    const before = incarnationOf(nodes.c!, 'c')!
    nodes.a!.step('a', { type: 'gossip', news: [{ kind: 'suspect', member: 'c', incarnation: before, from: 'a' }] })
    // The suspicion spreads, but nothing that carries it reaches c until its retransmits are spent.
    runTicks(nodes, seconds(3), (_from, to, message) => to === 'c' && newsAbout(message, 'c'))
    run(nodes, seconds(30))
    for (const id of ['a', 'b', 'd', 'e']) {
      expect(declaredDead(nodes[id]!, 'c'), `${id} declared c dead`).toBe(false)
      expect(stateOf(nodes[id]!, 'c')).toBe('alive')
    }
  })

  it('answers an accusation about an incarnation it has already refuted, so the accuser does not declare it dead', () => {
    const nodes = Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((id) => [id, quietNode(id)]))
    run(nodes, seconds(20))
    const old = incarnationOf(nodes.c!, 'c')!
    // c is suspected and refutes; a hears neither the suspicion nor the refutation.
    nodes.b!.step('b', { type: 'gossip', news: [{ kind: 'suspect', member: 'c', incarnation: old, from: 'b' }] })
    runTicks(nodes, seconds(5), (_from, to, message) => to === 'a' && newsAbout(message, 'c'))
    expect(incarnationOf(nodes.c!, 'c')).toBeGreaterThan(old)
    expect(incarnationOf(nodes.a!, 'c')).toBe(old)
    // Later a suspects c at the old incarnation (a lost probe, say).
    nodes.a!.step('a', { type: 'gossip', news: [{ kind: 'suspect', member: 'c', incarnation: old, from: 'a' }] })
    run(nodes, seconds(30))
    expect(declaredDead(nodes.a!, 'c')).toBe(false)
    expect(stateOf(nodes.a!, 'c')).toBe('alive')
    expect(incarnationOf(nodes.a!, 'c')).toBeGreaterThan(old)
  })

  it('rejoins the whole cluster when it restarts together with the seed', () => {
    const nodes = Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((id) => [id, quietNode(id)]))
    run(nodes, seconds(20))
    // a (everyone's seed) and b come back at the same instant, knowing no one.
    nodes.a = quietNode('a', nodes.a!.storage)
    nodes.b = quietNode('b', nodes.b!.storage)
    run(nodes, seconds(15))
    for (const id of ['a', 'b'])
      expect(
        view(nodes[id]!).map((member) => `${member.id}:${member.state}`),
        `${id}'s view`,
      ).toEqual(['a:alive', 'b:alive', 'c:alive', 'd:alive', 'e:alive'])
  })
})

describe('update store', () => {
  const update = (key: string, version: number) => ({ key, version, value: new Uint8Array([version & 0xff]) })

  it('has one digest for one set of versions, whatever the order it was reached in', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd'), fc.integer({ min: 1, max: 2 ** 40 })), { maxLength: 12 }), fc.integer(), (entries, seed) => {
        const forward = new UpdateStore()
        const shuffled = new UpdateStore()
        for (const [key, version] of entries) forward.accept(update(key, version))
        for (const [key, version] of Rng.fromSeed(seed).shuffle([...entries])) shuffled.accept(update(key, version))
        expect(shuffled.digest()).toEqual(forward.digest())
        expect(shuffled.matches(forward.digest())).toBe(true)
        // One more version anywhere changes the digest.
        const [key, version] = entries[0] ?? ['a', 1]
        shuffled.accept(update(key, (forward.get(key)?.version ?? version) + 1))
        expect(shuffled.matches(forward.digest())).toBe(false)
        expect(forward.missingFrom(shuffled.versions())).toEqual([])
        expect(shuffled.missingFrom(forward.versions()).map((held) => held.key)).toEqual([key])
      }),
    )
  })

  it('refuses stale versions and keeps its size limit', () => {
    const store = new UpdateStore()
    expect(store.accept(update('k', 2))).toBe('stored')
    expect(store.accept(update('k', 2))).toBe('stale')
    expect(store.accept(update('k', 1))).toBe('stale')
    for (let index = 1; index < updateLimits.updatesMax; index++) store.accept(update(`k${index}`, 1))
    expect(store.accept(update('one-too-many', 1))).toBe('full')
    expect(store.size).toBe(updateLimits.updatesMax)
  })
})

describe('broadcast queue', () => {
  it('sends each item at most `limit` times, least-sent first, newer news replacing older', () => {
    const queue = new BroadcastQueue(16)
    queue.add({ kind: 'alive', member: 'x', incarnation: 1 })
    queue.add({ kind: 'alive', member: 'y', incarnation: 1 })
    queue.add({ kind: 'suspect', member: 'x', incarnation: 1, from: 'z' })
    expect(queue.length).toBe(2)
    const sent: News[] = []
    for (let round = 0; round < 10; round++) sent.push(...queue.take(1, 3))
    const about = (member: string) => sent.filter((news) => news.kind !== 'update' && news.member === member)
    expect(about('x')).toHaveLength(3)
    expect(about('y')).toHaveLength(3)
    expect(about('x').every((news) => news.kind === 'suspect')).toBe(true)
    expect(queue.length).toBe(0)
    expect(retransmitLimit(4, 1000)).toBe(16)
  })
})

const idArbitrary = fc.stringMatching(/^[a-z0-9]{1,8}$/)
const newsArbitrary: fc.Arbitrary<News> = fc.oneof(
  fc.record({ kind: fc.constant('update' as const), key: idArbitrary, version: fc.nat(), value: fc.uint8Array({ maxLength: 32 }) }),
  fc.record({ kind: fc.constant('alive' as const), member: idArbitrary, incarnation: fc.nat(0xffff_ffff) }),
  fc.record({ kind: fc.constantFrom('suspect' as const, 'dead' as const), member: idArbitrary, incarnation: fc.nat(0xffff_ffff), from: idArbitrary }),
)
const messageArbitrary: fc.Arbitrary<GossipMessage> = fc.oneof(
  fc.record({ type: fc.constantFrom('ping' as const, 'pingReq' as const), seq: fc.nat(), target: idArbitrary, news: fc.array(newsArbitrary, { maxLength: 5 }) }),
  fc.record({ type: fc.constantFrom('ack' as const, 'nack' as const), seq: fc.nat(), news: fc.array(newsArbitrary, { maxLength: 5 }) }),
  fc.record({ type: fc.constant('gossip' as const), news: fc.array(newsArbitrary, { maxLength: 5 }) }),
  fc.record({
    type: fc.constant('pushPull' as const),
    reply: fc.boolean(),
    members: fc.array(fc.record({ id: idArbitrary, incarnation: fc.nat(0xffff_ffff), state: fc.constantFrom('alive' as const, 'suspect' as const, 'dead' as const, 'left' as const) }), { maxLength: 5 }),
    versions: fc.array(fc.tuple(idArbitrary, fc.nat()), { maxLength: 5 }),
  }),
  fc.record({ type: fc.constant('updates' as const), updates: fc.array(fc.record({ key: idArbitrary, version: fc.nat(), value: fc.uint8Array({ maxLength: 32 }) }), { maxLength: 4 }) }),
  fc.record({ type: fc.constant('digest' as const), count: fc.nat(4096), hash: fc.nat(0xffff_ffff) }),
  fc.record({ type: fc.constant('versions' as const), reply: fc.boolean(), versions: fc.array(fc.tuple(idArbitrary, fc.nat()), { maxLength: 5 }) }),
)

describe('gossip messages', () => {
  it('round-trip through their encoding', () => {
    fc.assert(
      fc.property(messageArbitrary, (message) => {
        const bytes = encodeWith(message, writeGossipBody)
        expect(decodeWith(bytes, (decoder) => readGossipBody(gossipMessageType(message), decoder), 'gossip')).toEqual({ ok: true, value: message })
      }),
    )
  })

  it('know their encoded length without encoding', () => {
    const textArbitrary = fc.string({ unit: 'binary', maxLength: 12 })
    fc.assert(
      fc.property(messageArbitrary, fc.array(textArbitrary, { maxLength: 3 }), (message, keys) => {
        // Keys are free text (any code point, lone surrogates too): their UTF-8 length must be counted right.
        const withKeys: GossipMessage = message.type === 'updates' ? { ...message, updates: keys.map((key, version) => ({ key, version, value: new Uint8Array(version) })) } : message
        expect(gossipBodyBytes(withKeys)).toBe(encodeWith(withKeys, writeGossipBody).length)
      }),
    )
  })

  it('never throw on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 8 }), fc.uint8Array({ maxLength: 256 }), (type, bytes) => {
        const decoded = decodeWith(bytes, (decoder) => readGossipBody(type, decoder), 'gossip')
        if (!decoded.ok) expect(typeof decoded.error.code).toBe('string')
      }),
      { numRuns: 3000 },
    )
  })
})
