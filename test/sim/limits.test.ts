/**
 * Real-size limits end to end: values of valueBytesMax on every path through
 * replicas on the wire (chunked frames), refusals that name the limit, a
 * strong keyspace of 100,000 keys, state and document bounds.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { limits } from '../../core/lib/limits.ts'
import { Rng } from '../../core/lib/prng.ts'
import { encodeLogCommand, type LogCommand } from '../../core/replica/logCommand.ts'
import { defaultReplicaConfig } from '../../core/replica/config.ts'
import { decodeKeyValue, encodeKeyQuery, StrongState, strongStateLimits } from '../../core/replica/strongState.ts'
import { replicaCodec } from '../../core/replica/codec.ts'
import { FrameReceiver, writeMessageFrames } from '../../core/codec/chunks.ts'
import type { ReplicaMessage } from '../../core/replica/messages.ts'
import { ReplicaCluster, testPolicies } from '../support/replicaCluster.ts'

/** Printable text that deflate cannot shrink much, so the messages carrying it really pass one frame. */
function incompressibleText(bytes: number, seed: number): string {
  const rng = Rng.fromSeed(seed)
  const codes = new Uint8Array(bytes)
  for (let index = 0; index < bytes; index++) codes[index] = 0x21 + rng.int(94)
  return new TextDecoder().decode(codes)
}

const paths = [
  { namespace: 'ev', consistency: 'eventual' },
  { namespace: 'cfg', consistency: 'strong' },
  { namespace: 'edge', consistency: 'auto' },
  { namespace: 'bft', consistency: 'byzantine' },
] as const

describe('values of valueBytesMax through replicas on the wire', () => {
  it('writes a 1 MiB value on every path (eventual, strong, auto, byzantine) and reads it back at another node, in chunk frames', { timeout: 120_000 }, () => {
    const cluster = new ReplicaCluster({ seed: 5 })
    cluster.settle()
    const chunkedBefore = cluster.sim.metrics.messagesChunked
    for (const [offset, { namespace, consistency }] of paths.entries()) {
      const value = incompressibleText(limits.valueBytesMax, offset + 1)
      const key = `${namespace}/big`
      const written = cluster.call(0, { type: 'put', key, value }, 20_000)
      expect(written.ok).toBe(true)
      // Read where it was not written: a forward to the leader (strong), PBFT's quorum (byzantine), the local CRDT (eventual, auto).
      const reader = consistency === 'byzantine' ? 1 : 2
      cluster.runUntil(() => cluster.read(reader, key) === value, 20_000, `${key} at node ${reader}`)
      if (consistency === 'strong' || consistency === 'byzantine') {
        // The published copy every member serves follower reads from, spread by gossip.
        cluster.runUntil(() => cluster.read(3, key, 'eventual') === value, 20_000, `${key} published at node 3`)
      }
    }
    expect(cluster.sim.metrics.messagesChunked - chunkedBefore).toBeGreaterThan(4)
    expect(cluster.sim.metrics.framesRefused).toBe(0)
  })

  it('refuses a value of valueBytesMax + 1 on every path, naming the limit', () => {
    const cluster = new ReplicaCluster({ seed: 6 })
    cluster.settle()
    const value = 'x'.repeat(limits.valueBytesMax + 1)
    for (const { namespace } of paths) {
      const { refusal } = cluster.tryRequest(0, { type: 'put', key: `${namespace}/over`, value })
      expect(refusal).toEqual({ code: 'tooLarge', message: `value is ${limits.valueBytesMax + 1} bytes; valueBytesMax is ${limits.valueBytesMax}` })
    }
    // Counted in UTF-8 bytes: 2 bytes a character.
    const { refusal } = cluster.tryRequest(0, { type: 'put', key: 'cfg/wide', value: 'é'.repeat(limits.valueBytesMax / 2 + 1) })
    expect(refusal?.code).toBe('tooLarge')
    expect(cluster.call(0, { type: 'put', key: 'cfg/wide', value: 'é'.repeat(limits.valueBytesMax / 2) }).ok).toBe(true)
  })

  it('replicates a Yjs document larger than one frame and refuses an update above docBytesMax, naming the limit', { timeout: 120_000 }, () => {
    const cluster = new ReplicaCluster({ seed: 8, policies: { ...testPolicies, docs: { consistency: 'eventual', valueType: 'doc', home: null } } })
    cluster.settle()
    const source = new Y.Doc()
    const content = incompressibleText(1536 * 1024, 9)
    source.getText('text').insert(0, content)
    const update = Y.encodeStateAsUpdate(source)
    expect(update.length).toBeGreaterThan(limits.frameBytesMax)
    cluster.call(0, { type: 'crdt', op: { type: 'doc', key: 'docs/big', action: 'update', update } }, 20_000)
    // Read from the CRDT itself: a get answers register values only.
    cluster.runUntil(() => cluster.replica(2).crdt.read('docs/big') === content, 20_000, 'the document at node 2')

    const over = new Uint8Array(limits.docBytesMax + 1)
    const { requestId, refusal } = cluster.tryRequest(0, { type: 'crdt', op: { type: 'doc', key: 'docs/over', action: 'update', update: over } })
    const answer = refusal ?? cluster.answer(requestId)
    expect(answer).toMatchObject({ code: 'tooLarge', message: `update is ${limits.docBytesMax + 1} bytes; docBytesMax is ${limits.docBytesMax}` })
  })

  it('brings a restarted follower up with a Raft snapshot larger than one frame', { timeout: 120_000 }, () => {
    const config = { ...defaultReplicaConfig, raft: { ...defaultReplicaConfig.raft, snapshotEntries: 4 } }
    const cluster = new ReplicaCluster({ seed: 7, config, policies: testPolicies })
    const leader = cluster.settle()
    const lagging = (leader + 1) % cluster.size
    cluster.sim.crash(lagging)
    const values = [0, 1, 2, 3, 4, 5].map((index) => incompressibleText(400 * 1024, 100 + index))
    for (const [index, value] of values.entries()) cluster.call(leader, { type: 'put', key: `cfg/s${index}`, value }, 20_000)
    const snapshotsBefore = cluster.replica(leader).raft!.status().metrics.snapshotsTaken
    expect(snapshotsBefore).toBeGreaterThan(0)
    cluster.sim.restart(lagging)
    cluster.runUntil(() => values.every((value, index) => cluster.replica(lagging).strong.get(`cfg/s${index}`).value === value), 30_000, 'the lagging follower holds every value')
    expect(cluster.replica(lagging).raft!.status().metrics.snapshotsInstalled).toBeGreaterThan(0)
  })
})

describe('the strong keyspace', () => {
  function put(state: StrongState, key: string, value: string, wallMs: number): ReturnType<StrongState['applyCommand']> {
    const command: LogCommand = { kind: 'put', origin: 'n1', stamp: { wallMs, logical: 0 }, key, value }
    return state.applyCommand(command)
  }

  it('holds 100,000 keys, snapshots and restores them, and the snapshot crosses the wire in chunks', { timeout: 60_000 }, () => {
    const state = new StrongState()
    let applied = 0
    for (let index = 0; index < 100_000; index++) if (put(state, `cfg/k${index}`, `v${index}`, index + 1).outcome === 'applied') applied++
    expect(applied).toBe(100_000)
    expect(state.size).toBe(100_000)
    const snapshot = state.snapshot()
    const restored = new StrongState()
    restored.restore(snapshot)
    expect(restored.size).toBe(100_000)
    expect(restored.heldBytes).toBe(state.heldBytes)
    for (const index of [0, 1, 31_337, 99_999]) expect(decodeKeyValue(restored.query(encodeKeyQuery(`cfg/k${index}`)))?.value).toBe(`v${index}`)
    expect(Buffer.compare(restored.snapshot(), snapshot)).toBe(0)

    // As a Raft snapshot message it passes one frame when values are large; here, a state of many 1 MiB values.
    const big = new StrongState()
    for (let index = 0; index < 3; index++) put(big, `cfg/b${index}`, incompressibleText(limits.valueBytesMax, 200 + index), index + 1)
    const message: ReplicaMessage = { engine: 'raft', message: { type: 'snapshot', term: 3, snapshot: { index: 9, term: 3, membership: { voters: ['n1', 'n2'], learners: [] }, data: big.snapshot() } } }
    const frames = writeMessageFrames(replicaCodec, { clusterId: 'c1', from: 'n1', to: 'n2' }, message, 1)
    expect(frames.length).toBe(4)
    const receiver = new FrameReceiver(replicaCodec)
    const results = frames.map((frame) => receiver.receive(frame))
    const last = results.at(-1)!
    expect(results.slice(0, -1).every((result) => result.ok && result.value === null)).toBe(true)
    const received = last.ok ? last.value?.message : undefined
    expect(received?.engine === 'raft' && received.message.type === 'snapshot' && Buffer.compare(received.message.snapshot.data, big.snapshot())).toBe(0)
    expect(receiver.reassembler.held).toEqual({ messages: 0, bytes: 0 })
  })

  it('refuses a key past keysMax and a put past stateBytesMax, naming the limit; deletes give the room back', { timeout: 60_000 }, () => {
    expect(strongStateLimits.keysMax).toBeGreaterThanOrEqual(100_000)
    const state = new StrongState()
    let stamp = 1
    for (let index = 0; index < strongStateLimits.keysMax; index++) put(state, `cfg/${index}`, '', stamp++)
    expect(put(state, 'cfg/one-more', '', stamp++)).toEqual({ outcome: 'refused', code: 'tooManyKeys', message: `keysMax is ${strongStateLimits.keysMax}` })
    expect(put(state, 'cfg/0', 'overwrite', stamp++).outcome).toBe('applied')

    const full = new StrongState()
    const value = 'x'.repeat(limits.valueBytesMax)
    let refused = null
    for (let index = 0; index < 100 && refused === null; index++) {
      const reply = put(full, `cfg/big${index}`, value, stamp++)
      if (reply.outcome === 'refused') refused = reply
    }
    expect(refused?.code).toBe('tooLarge')
    expect(refused?.message).toMatch(new RegExp(`^state would be \\d+ bytes; stateBytesMax is ${strongStateLimits.stateBytesMax}$`))
    expect(full.heldBytes).toBeLessThanOrEqual(strongStateLimits.stateBytesMax)
    expect(full.snapshot().length).toBeLessThanOrEqual(limits.stateBytesMax + 1024 * 1024)
    full.applyCommand({ kind: 'delete', origin: 'n1', stamp: { wallMs: stamp++, logical: 0 }, key: 'cfg/big0' })
    expect(put(full, 'cfg/again', value, stamp++).outcome).toBe('applied')
    // The same bound holds when commands arrive as bytes (as Raft and PBFT apply them).
    expect(full.apply(encodeLogCommand({ kind: 'put', origin: 'n1', stamp: { wallMs: stamp++, logical: 0 }, key: 'cfg/more', value }))).toBeInstanceOf(Uint8Array)
    expect(full.get('cfg/more').value).toBeNull()
  })
})
