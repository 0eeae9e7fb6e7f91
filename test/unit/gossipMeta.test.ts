/**
 * Member metadata in gossip (core/gossip/memberMeta.ts): its encoding at and
 * beyond the limits, and the engine's incarnation rule — a member's own
 * change spreads to everyone within a few gossip rounds, and metadata of an
 * older incarnation never replaces a newer one.
 */
import fc from 'fast-check'
import * as encoding from 'lib0/encoding'
import { describe, expect, it } from 'vitest'
import { decodeWith, encodeWith } from '../../core/codec/envelope.ts'
import { writeText, writeUint, utf8Length } from '../../core/codec/fields.ts'
import { defaultGossipConfig } from '../../core/gossip/config.ts'
import { GossipEngine, type GossipApplied, type GossipCommand, type GossipEvent } from '../../core/gossip/engine.ts'
import { memberMetaLimits, readMemberMeta, type MemberMeta } from '../../core/gossip/memberMeta.ts'
import { gossipBodyBytes, gossipMessageType, readGossipBody, writeGossipBody, type GossipMessage } from '../../core/gossip/messages.ts'
import { Rng } from '../../core/lib/prng.ts'
import { replicaCodec } from '../../core/replica/codec.ts'
import type { ReplicaMessage } from '../../core/replica/messages.ts'
import { PeerFrames } from '../../host/peerFrames.ts'
import { SimStorage } from '../../sim/storage.ts'
import { hosted, runTicks, type HostedNode } from '../support/memoryHost.ts'

const L = memberMetaLimits

/** Text of at most `bytesMax` UTF-8 bytes: ASCII up to the limit, any code points, and exactly the limit. */
function textArbitrary(bytesMax: number, minBytes = 0): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ minLength: minBytes, maxLength: bytesMax }),
    fc.string({ unit: 'grapheme', minLength: minBytes, maxLength: Math.floor(bytesMax / 4) }).filter((text) => utf8Length(text) >= minBytes && utf8Length(text) <= bytesMax),
    fc.constant('é'.repeat(Math.floor(bytesMax / 2)) + (bytesMax % 2 === 1 ? 'x' : '')),
  )
}

const tagsArbitrary = fc.oneof(
  fc.dictionary(textArbitrary(L.tagBytesMax, 1), textArbitrary(L.tagBytesMax), { maxKeys: L.tagsMax }),
  // Every tag at its limits.
  fc.constant(Object.fromEntries(Array.from({ length: L.tagsMax }, (_, index) => [`${index}`.padStart(L.tagBytesMax, 'n'), 'v'.repeat(L.tagBytesMax)]))),
)
const metaArbitrary: fc.Arbitrary<MemberMeta> = fc.record({ region: textArbitrary(L.regionBytesMax), address: textArbitrary(L.addressBytesMax), tags: tagsArbitrary })
const idArbitrary = fc.stringMatching(/^[a-z0-9]{1,8}$/)

/** Messages that carry metadata: alive news and push-pull entries. */
const messageArbitrary: fc.Arbitrary<GossipMessage> = fc.oneof(
  fc.record({ type: fc.constant('gossip' as const), news: fc.array(fc.record({ kind: fc.constant('alive' as const), member: idArbitrary, incarnation: fc.nat(0xffff_ffff), meta: metaArbitrary }), { maxLength: 3 }) }),
  fc.record({
    type: fc.constant('pushPull' as const),
    reply: fc.boolean(),
    members: fc.array(fc.record({ id: idArbitrary, incarnation: fc.nat(0xffff_ffff), state: fc.constantFrom('alive' as const, 'suspect' as const, 'dead' as const, 'left' as const), meta: metaArbitrary }), { maxLength: 3 }),
    versions: fc.constant([]),
  }),
)

/** One metadata encoded field by field as given: beyond the limits, out of order, repeated (what writeMemberMeta never writes). */
function rawMeta(region: string, address: string, tags: readonly (readonly [string, string])[]): Uint8Array {
  const encoder = encoding.createEncoder()
  writeText(encoder, region)
  writeText(encoder, address)
  writeUint(encoder, tags.length)
  for (const [name, value] of tags) {
    writeText(encoder, name)
    writeText(encoder, value)
  }
  return encoding.toUint8Array(encoder)
}

describe('member metadata encoding', () => {
  it('round-trips on alive news and push-pull entries, sizes up to the limits, and knows its length', () => {
    fc.assert(
      fc.property(messageArbitrary, (message) => {
        const bytes = encodeWith(message, writeGossipBody)
        expect(gossipBodyBytes(message)).toBe(bytes.length)
        expect(decodeWith(bytes, (decoder) => readGossipBody(gossipMessageType(message), decoder), 'gossip')).toEqual({ ok: true, value: message })
      }),
      { numRuns: 300 },
    )
  })

  it('refuses metadata one byte or one tag beyond a limit, and malformed tag lists', () => {
    const full = (bytes: number) => 'x'.repeat(bytes)
    const tags = (count: number) => Array.from({ length: count }, (_, index) => [`t${String(index).padStart(2, '0')}`, 'v'] as const)
    const cases: [string, Uint8Array, string][] = [
      ['region', rawMeta(full(L.regionBytesMax + 1), '', []), 'oversized'],
      ['address', rawMeta('eu', full(L.addressBytesMax + 1), []), 'oversized'],
      // A count is a number out of its range (readUint's code), not a field that is too long.
      ['tag count', rawMeta('eu', '', tags(L.tagsMax + 1)), 'invalidField'],
      ['tag name', rawMeta('eu', '', [[full(L.tagBytesMax + 1), 'v']]), 'oversized'],
      ['tag value', rawMeta('eu', '', [['dc', full(L.tagBytesMax + 1)]]), 'oversized'],
      ['empty tag name', rawMeta('eu', '', [['', 'v']]), 'invalidField'],
      [
        'repeated tag',
        rawMeta('eu', '', [
          ['dc', 'a'],
          ['dc', 'b'],
        ]),
        'invalidField',
      ],
      [
        'tags out of order',
        rawMeta('eu', '', [
          ['rack', '4'],
          ['dc', 'fra1'],
        ]),
        'invalidField',
      ],
      ['truncated', rawMeta('eu', 'http://n1', [['dc', 'fra1']]).slice(0, -2), 'truncated'],
    ]
    for (const [what, bytes, code] of cases) {
      const decoded = decodeWith(bytes, readMemberMeta, 'meta')
      expect(decoded.ok, what).toBe(false)
      if (!decoded.ok) expect(decoded.error.code, what).toBe(code)
    }
    // At the limits, the same encoding is taken.
    const atLimits = decodeWith(
      rawMeta(
        full(L.regionBytesMax),
        full(L.addressBytesMax),
        [...tags(L.tagsMax)].map(([name]) => [name.padEnd(L.tagBytesMax, 'n'), full(L.tagBytesMax)]),
      ),
      readMemberMeta,
      'meta',
    )
    expect(atLimits.ok).toBe(true)
  })

  it('refuses any metadata pushed past a limit by a random amount, inside a whole message', () => {
    fc.assert(
      fc.property(fc.constantFrom('region', 'address', 'name', 'value', 'count'), fc.integer({ min: 1, max: 300 }), (field, over) => {
        const big = (limit: number) => 'x'.repeat(limit + over)
        const meta =
          field === 'region'
            ? rawMeta(big(L.regionBytesMax), '', [])
            : field === 'address'
              ? rawMeta('eu', big(L.addressBytesMax), [])
              : field === 'name'
                ? rawMeta('eu', '', [[big(L.tagBytesMax), '']])
                : field === 'value'
                  ? rawMeta('eu', '', [['dc', big(L.tagBytesMax)]])
                  : rawMeta(
                      'eu',
                      '',
                      Array.from({ length: L.tagsMax + over }, (_, index) => [`t${String(index).padStart(3, '0')}`, '']),
                    )
        // A gossip message with one alive news of wire kind 4 (alive with metadata) about n1 at incarnation 2.
        const body = new Uint8Array([1, 4, 2, 0x6e, 0x31, 2, ...meta])
        const decoded = decodeWith(body, (decoder) => readGossipBody(4, decoder), 'gossip')
        expect(decoded.ok).toBe(false)
        if (!decoded.ok) expect(decoded.error.code).toBe(field === 'count' ? 'invalidField' : 'oversized')
      }),
      { numRuns: 200 },
    )
  })

  it('reaches a host as a malformed frame, refused and counted, when a peer sends metadata beyond the limits', () => {
    const sender = new PeerFrames<ReplicaMessage>({ codec: replicaCodec, clusterId: 'c', self: 'n1', messageIdStart: 0 })
    const receiver = new PeerFrames<ReplicaMessage>({ codec: replicaCodec, clusterId: 'c', self: 'n2', messageIdStart: 0 })
    const aliveWith = (meta: MemberMeta): ReplicaMessage => ({ engine: 'gossip', message: { type: 'gossip', news: [{ kind: 'alive', member: 'n3', incarnation: 5, meta }] } })
    const atLimit = { region: 'r'.repeat(L.regionBytesMax), address: '', tags: { dc: 'v'.repeat(L.tagBytesMax) } }
    expect(receiver.receive('n1', sender.encode('n2', aliveWith(atLimit))[0]!)).toMatchObject({ kind: 'message', message: aliveWith(atLimit) })
    // The writer does not check (a buggy or hostile peer's would not either): the reader refuses.
    expect(receiver.receive('n1', sender.encode('n2', aliveWith({ ...atLimit, tags: { dc: 'v'.repeat(L.tagBytesMax + 1) } }))[0]!)).toMatchObject({ kind: 'refused', code: 'malformed' })
    expect(receiver.metrics.refusedMalformed).toBe(1)
  })
})

const tickMs = 50
const seconds = (s: number) => Math.round((s * 1000) / tickMs)
type Node = HostedNode<GossipCommand, GossipMessage, GossipApplied, GossipEvent> & { engine: GossipEngine }
const metaOf = (id: string, tags: Record<string, string> = { dc: `dc-${id}` }): MemberMeta => ({ region: 'eu', address: `http://${id}:7700`, tags })

/** `ids` created together (known to each other at incarnation 1), each with its metadata. */
function cluster(ids: readonly string[], seed: number, config = defaultGossipConfig): Record<string, Node> {
  return Object.fromEntries(
    ids.map((id) => {
      const storage = new SimStorage()
      return [id, hosted(new GossipEngine({ id, seeds: ids, knownMembers: ids, storage, rng: Rng.fromSeed(seed).split(id), tickMs, config, meta: metaOf(id) }), storage) as Node]
    }),
  )
}

function heldMeta(n: Node, member: string): MemberMeta | undefined {
  return n.engine.status().members.find((summary) => summary.id === member)?.meta
}

describe('member metadata in the SWIM engine', () => {
  it('spreads a tag change to every member within a few gossip rounds, at a higher incarnation', () => {
    const ids = Array.from({ length: 16 }, (_, index) => `n${index}`)
    const gossipRoundTicks = defaultGossipConfig.gossipIntervalMs / tickMs
    // Fanout 3 reaches 16 members in about log4(16) = 2 rounds; the slack covers targets that overlap.
    const roundsMax = 8
    for (let seed = 1; seed <= 10; seed++) {
      const nodes = cluster(ids, seed)
      runTicks(nodes, seconds(2))
      const before = nodes.n3!.engine.status().incarnation
      const changed = metaOf('n3', { dc: 'fra1', rack: '4' })
      expect(nodes.n3!.input('setMeta', () => nodes.n3!.engine.setMeta(changed))).toBeNull()
      expect(nodes.n3!.engine.status().incarnation).toBe(before + 1)
      let ticks = 0
      while (ids.some((id) => heldMeta(nodes[id]!, 'n3')?.tags.rack !== '4') && ticks < roundsMax * gossipRoundTicks) {
        runTicks(nodes, 1)
        ticks++
      }
      const missing = ids.filter((id) => heldMeta(nodes[id]!, 'n3')?.tags.rack !== '4')
      expect(missing, `seed ${seed}: members without n3's new tags after ${roundsMax} gossip rounds`).toEqual([])
      for (const id of ids) expect(nodes[id]!.engine.status().members.find((summary) => summary.id === 'n3')!.incarnation, `seed ${seed}: ${id}`).toBe(before + 1)
    }
  })

  it('never lets an older incarnation overwrite a newer one, whatever order news and push-pulls arrive in', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 9 }), fc.boolean()), { minLength: 1, maxLength: 12 }), (arrivals) => {
        const a = new GossipEngine({ id: 'a', seeds: [], knownMembers: ['a', 'b'], storage: new SimStorage(), rng: Rng.fromSeed(1), tickMs })
        // b's metadata at incarnation i is always the same: a member has one metadata per incarnation.
        const metaAt = (incarnation: number) => metaOf('b', { version: String(incarnation) })
        let newest = 0
        for (const [incarnation, asPushPull] of arrivals) {
          const message: GossipMessage = asPushPull
            ? { type: 'pushPull', reply: false, members: [{ id: 'b', incarnation, state: 'alive', meta: metaAt(incarnation) }], versions: [] }
            : { type: 'gossip', news: [{ kind: 'alive', member: 'b', incarnation, meta: metaAt(incarnation) }] }
          a.step('b', message)
          a.advance(a.ready())
          newest = Math.max(newest, incarnation)
          expect(a.status().members.find((summary) => summary.id === 'b')!.meta).toEqual(metaAt(newest))
        }
      }),
      { seed: 7, numRuns: 300 },
    )
  })

  it('spreads a cluster created together (which announces nothing) through push-pull, and a late node through its announcement', () => {
    const ids = ['a', 'b', 'c', 'd']
    const config = { ...defaultGossipConfig, pushPullIntervalMs: 2000 }
    const nodes = cluster(ids, 5, config)
    runTicks(nodes, seconds(12))
    for (const id of ids) for (const other of ids) expect(heldMeta(nodes[id]!, other), `${id}'s view of ${other}`).toEqual(metaOf(other))
    // A late node announces itself with its metadata: members learn it from its news.
    const storage = new SimStorage()
    nodes.e = hosted(new GossipEngine({ id: 'e', seeds: ['a'], knownMembers: [...ids, 'e'], announce: true, storage, rng: Rng.fromSeed(5).split('e'), tickMs, config: defaultGossipConfig, meta: metaOf('e') }), storage) as Node
    runTicks(nodes, seconds(1))
    for (const id of ids) expect(heldMeta(nodes[id]!, 'e'), `${id}'s view of e`).toEqual(metaOf('e'))
  })

  it('ignores metadata about a node the configuration does not admit, and drops a removed member with its metadata', () => {
    const a = new GossipEngine({ id: 'a', seeds: [], knownMembers: ['a', 'b'], storage: new SimStorage(), rng: Rng.fromSeed(1), tickMs })
    a.setMembers(['a', 'b'])
    a.step('b', { type: 'gossip', news: [{ kind: 'alive', member: 'z', incarnation: 5, meta: metaOf('z') }] })
    a.step('b', {
      type: 'pushPull',
      reply: false,
      members: [
        { id: 'y', incarnation: 3, state: 'alive', meta: metaOf('y') },
        { id: 'b', incarnation: 2, state: 'alive', meta: metaOf('b') },
      ],
      versions: [],
    })
    a.advance(a.ready())
    expect(
      a
        .status()
        .members.map((summary) => summary.id)
        .sort(),
    ).toEqual(['a', 'b'])
    expect(a.status().members.find((summary) => summary.id === 'b')!.meta).toEqual(metaOf('b'))
    a.setMembers(['a'])
    a.setMembers(['a', 'b'])
    expect(a.status().members.find((summary) => summary.id === 'b')!.meta).toBeUndefined()
  })

  it('refuses metadata beyond the limits, and does not raise its incarnation for the same metadata', () => {
    const a = new GossipEngine({ id: 'a', seeds: [], storage: new SimStorage(), rng: Rng.fromSeed(1), tickMs, meta: metaOf('a') })
    expect(a.setMeta({ region: 'eu', address: '', tags: { dc: 'x'.repeat(L.tagBytesMax + 1) } })?.code).toBe('oversized')
    const before = a.status().incarnation
    // The same metadata with its tags in another order is the same metadata.
    expect(a.setMeta({ ...metaOf('a'), tags: { dc: 'dc-a' } })).toBeNull()
    expect(a.status().incarnation).toBe(before)
    expect(a.status().members.find((summary) => summary.id === 'a')!.meta).toEqual(metaOf('a'))
  })
})
