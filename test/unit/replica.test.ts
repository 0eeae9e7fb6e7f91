/**
 * The replica end to end in the simulator (wire frames on): every
 * consistency level, the auto path in datacenter and internet conditions and
 * across a deadline, policy changes and refusals, at-most-once strong writes
 * under duplicated messages, peer refusals and the wire codec, and the
 * leader following the writes (placement).
 */
import { describe, expect, it } from 'vitest'
import { readMessageFrame, writeMessageFrame, type EngineCodec } from '../../core/codec/engineCodec.ts'
import type { ModeChangedEvent } from '../../core/adaptive/modeEvents.ts'
import type { ReplicaMessage, ReplicaMessageEngine } from '../../core/replica/messages.ts'
import { replicaCodec, replicaEngines } from '../../core/replica/codec.ts'
import { noNetworkFaults } from '../../sim/network.ts'
import { ReplicaCluster, type OkReply } from '../support/replicaCluster.ts'

/** A low-latency cluster (4 nodes, 3 regions, n1..n4 the PBFT group) with a leader known everywhere and the detector settled. */
function settledCluster(options: ConstructorParameters<typeof ReplicaCluster>[0] = {}): ReplicaCluster {
  const cluster = new ReplicaCluster(options)
  cluster.runFor(3_000)
  cluster.settle()
  return cluster
}

function otherThan(cluster: ReplicaCluster, ...excluded: number[]): number[] {
  return cluster.sim.nodes.map((node) => node.index).filter((index) => !excluded.includes(index))
}

function modeEvents(cluster: ReplicaCluster, node: number): ModeChangedEvent[] {
  return cluster.events.filter((recorded) => recorded.node === node && recorded.event.source === 'adaptive').map((recorded) => recorded.event.event as ModeChangedEvent)
}

describe('consistency levels end to end (4 nodes, 3 regions, low latency)', () => {
  it('strong put at a follower is forwarded and answered through Raft; a linearizable get at another node reads it', () => {
    const cluster = settledCluster()
    const leader = cluster.leader()!
    const [follower, reader] = otherThan(cluster, leader)
    const put = cluster.call(follower!, { type: 'put', key: 'cfg/a', value: 'A' })
    expect(put.path).toBe('raft')
    expect(put.position.kind).toBe('raft')
    if (put.position.kind !== 'raft') return
    expect(put.position.index).toBeGreaterThan(0)
    expect(put.position.version).toBe(1)
    expect(cluster.replica(follower!).metrics.forwardsSent).toBeGreaterThanOrEqual(1)
    expect(cluster.replica(leader).metrics.forwardsServed).toBeGreaterThanOrEqual(1)

    const get = cluster.call(reader!, { type: 'get', key: 'cfg/a', consistency: 'strong' })
    expect(get).toMatchObject({ ok: true, path: 'raft', value: 'A', position: { kind: 'raft', version: 1 } })
    // Also at the leader, and a key never written reads null.
    expect(cluster.call(leader, { type: 'get', key: 'cfg/a' })).toMatchObject({ path: 'raft', value: 'A' })
    expect(cluster.call(reader!, { type: 'get', key: 'cfg/none' })).toMatchObject({ path: 'raft', value: null })
  })

  it('eventual counter operations at two nodes converge to their sum at every node', () => {
    const cluster = settledCluster()
    const first = cluster.call(0, { type: 'crdt', op: { type: 'counter', key: 'cnt/c', amount: 5 } })
    const second = cluster.call(2, { type: 'crdt', op: { type: 'counter', key: 'cnt/c', amount: -2 } })
    expect(first).toMatchObject({ path: 'crdt', value: 5 })
    expect(second.path).toBe('crdt')
    cluster.call(2, { type: 'crdt', op: { type: 'counter', key: 'cnt/c', amount: 10 } })
    cluster.converge('cnt/c', 13)
    expect(cluster.call(1, { type: 'get', key: 'cnt/c' })).toMatchObject({ path: 'local', value: 13 })
  })

  it('byzantine put at a PBFT replica is answered through PBFT and readable with a byzantine get at another replica', () => {
    const cluster = settledCluster()
    const put = cluster.call(3, { type: 'put', key: 'bft/z', value: 'Z', consistency: 'byzantine' })
    expect(put).toMatchObject({ ok: true, path: 'pbft', position: { kind: 'pbft', version: 1 } })
    const get = cluster.call(0, { type: 'get', key: 'bft/z', consistency: 'byzantine' })
    expect(get).toMatchObject({ ok: true, path: 'pbft', value: 'Z', position: { kind: 'pbft', version: 1 } })
    // A second write replaces it for every replica's reads.
    expect(cluster.call(1, { type: 'put', key: 'bft/z', value: 'Z2' })).toMatchObject({ path: 'pbft', position: { version: 2 } })
    expect(cluster.call(2, { type: 'get', key: 'bft/z' })).toMatchObject({ path: 'pbft', value: 'Z2' })
  })

  it('follower reads (eventual) of a strong namespace return the published value at every node, deletes included', () => {
    const cluster = settledCluster()
    const leader = cluster.leader()!
    const follower = otherThan(cluster, leader)[0]!
    // Before any write: nothing published.
    expect(cluster.call(follower, { type: 'get', key: 'cfg/p', consistency: 'eventual' })).toMatchObject({ path: 'published', value: null, position: { kind: 'published', version: 0 } })
    cluster.call(follower, { type: 'put', key: 'cfg/p', value: 'P' })
    cluster.converge('cfg/p', 'P', 5_000, 'eventual')
    for (const index of otherThan(cluster)) {
      expect(cluster.call(index, { type: 'get', key: 'cfg/p', consistency: 'eventual' })).toMatchObject({ path: 'published', value: 'P', position: { kind: 'published', version: 1 } })
    }
    // A later write replaces the published value everywhere, and so does a delete.
    cluster.call(leader, { type: 'put', key: 'cfg/p', value: 'P2' })
    cluster.converge('cfg/p', 'P2', 5_000, 'eventual')
    expect(cluster.call(follower, { type: 'delete', key: 'cfg/p' })).toMatchObject({ path: 'raft', position: { kind: 'raft', version: 3 } })
    expect(cluster.call(2, { type: 'get', key: 'cfg/p' })).toMatchObject({ path: 'raft', value: null })
    cluster.converge('cfg/p', null, 5_000, 'eventual')
    expect(cluster.call(2, { type: 'get', key: 'cfg/p', consistency: 'eventual' }).position).toEqual({ kind: 'published', version: 3 })
  })

  // A committed byzantine write is published with its value (this once published null: the pending request had no value).
  it('follower reads (eventual) of a byzantine namespace return the published value at every node', () => {
    const cluster = settledCluster()
    expect(cluster.call(2, { type: 'get', key: 'bft/q', consistency: 'eventual' })).toMatchObject({ path: 'published', value: null, position: { kind: 'published', version: 0 } })
    expect(cluster.call(2, { type: 'put', key: 'bft/q', value: 'Q' })).toMatchObject({ path: 'pbft', position: { version: 1 } })
    cluster.converge('bft/q', 'Q', 5_000, 'eventual')
    for (const index of otherThan(cluster)) {
      expect(cluster.call(index, { type: 'get', key: 'bft/q', consistency: 'eventual' })).toMatchObject({ path: 'published', value: 'Q', position: { kind: 'published', version: 1 } })
    }
    cluster.call(0, { type: 'put', key: 'bft/q', value: 'Q2' })
    cluster.converge('bft/q', 'Q2', 5_000, 'eventual')
  })

  it('eventual register puts and deletes converge at every node; a byzantine delete is read as absent', () => {
    const cluster = settledCluster()
    expect(cluster.call(1, { type: 'put', key: 'ev/r', value: 'R' })).toMatchObject({ path: 'crdt', position: { kind: 'crdt', replica: 'n2' } })
    cluster.converge('ev/r', 'R')
    expect(cluster.call(3, { type: 'delete', key: 'ev/r' }).path).toBe('crdt')
    cluster.converge('ev/r', null)
    cluster.call(0, { type: 'put', key: 'bft/d', value: 'D' })
    expect(cluster.call(1, { type: 'delete', key: 'bft/d' })).toMatchObject({ path: 'pbft', position: { version: 2 } })
    expect(cluster.call(2, { type: 'get', key: 'bft/d' })).toMatchObject({ path: 'pbft', value: null })
  })
})

describe('the auto path', () => {
  it('with datacenter latency, an auto put takes Raft (reason datacenter) and every node reads it', () => {
    const cluster = settledCluster()
    for (const index of otherThan(cluster)) expect(cluster.replica(index).homeMode()).toBe('datacenter')
    const put = cluster.call(2, { type: 'put', key: 'auto/x', value: 'X' })
    expect(put.path).toBe('raft')
    expect(put.position.kind).toBe('raft')
    expect(put.auto).toMatchObject({ reason: 'datacenter', mode: 'datacenter' })
    cluster.converge('auto/x', 'X')
    expect(cluster.call(0, { type: 'get', key: 'auto/x' }).path).toBe('local')
    expect(cluster.repliesTo(put.requestId)).toHaveLength(1)
  })

  it('with internet latency between regions, an auto put takes the CRDT path (reason groupMode) and every node reads it', () => {
    const cluster = settledCluster({ wan: 'internet' })
    for (const index of otherThan(cluster)) expect(cluster.replica(index).homeMode()).toBe('internet')
    const put = cluster.call(1, { type: 'put', key: 'auto/y', value: 'Y' })
    expect(put.path).toBe('crdt')
    expect(put.auto).toMatchObject({ reason: 'groupMode', mode: 'internet' })
    expect(put.position).toEqual({ kind: 'crdt', timestamp: put.auto!.timestamp, replica: 'n2' })
    cluster.converge('auto/y', 'Y')
    expect(cluster.repliesTo(put.requestId)).toHaveLength(1)
  })

  it("setModeOverride('group', 'raft', 'internet') sends the next auto write through the CRDT and reports the override", () => {
    const cluster = settledCluster()
    const node = 3
    expect(cluster.replica(node).homeMode()).toBe('datacenter')
    expect(cluster.replica(node).setModeOverride('group', 'raft', 'internet')).toBeNull()
    cluster.runFor(20)
    const changed = modeEvents(cluster, node).filter((event) => event.scope === 'group' && event.id === 'raft' && event.reason === 'override')
    expect(changed).toHaveLength(1)
    expect(changed[0]).toMatchObject({ from: 'datacenter', to: 'internet' })
    expect(cluster.replica(node).homeMode()).toBe('internet')

    const put = cluster.call(node, { type: 'put', key: 'auto/o', value: 'O' })
    expect(put.path).toBe('crdt')
    expect(put.auto).toMatchObject({ reason: 'groupMode', mode: 'internet' })
    // Another node, not overridden, still takes Raft.
    expect(cluster.call(1, { type: 'put', key: 'auto/p', value: 'P' }).auto?.reason).toBe('datacenter')
    cluster.converge('auto/o', 'O')
    cluster.converge('auto/p', 'P')
    // Clearing the override goes back to the detected mode, with its own event.
    expect(cluster.replica(node).setModeOverride('group', 'raft', null)).toBeNull()
    cluster.runFor(20)
    expect(modeEvents(cluster, node).some((event) => event.scope === 'group' && event.id === 'raft' && event.reason === 'overrideCleared' && event.to === 'datacenter')).toBe(true)
    expect(cluster.call(node, { type: 'put', key: 'auto/o', value: 'O2' }).auto?.reason).toBe('datacenter')
  })

  it('an auto write that misses the Raft deadline is answered once through the CRDT, also commits in Raft, and its value wins everywhere', () => {
    const cluster = settledCluster({ wan: 'internet' })
    const leader = cluster.leader()!
    const node = otherThan(cluster, leader)[0]!
    // An older value first, through the CRDT (internet mode).
    const older = cluster.call(leader, { type: 'put', key: 'auto/d', value: 'old' })
    expect(older.auto?.reason).toBe('groupMode')
    cluster.converge('auto/d', 'old')
    const before = cluster.call(node, { type: 'put', key: 'cfg/marker', value: '1' })
    if (before.position.kind !== 'raft') throw new Error('a strong write answers with a Raft position')

    // Told the group is datacenter while every round trip to another region is > 120 ms: Raft cannot commit within 100 ms.
    expect(cluster.replica(node).setModeOverride('group', 'raft', 'datacenter')).toBeNull()
    const requestId = cluster.request(node, { type: 'put', key: 'auto/d', value: 'new' })
    const startMs = cluster.nowMs
    const reply = cluster.ok(requestId)
    expect(reply.path).toBe('crdt')
    expect(reply.auto).toMatchObject({ reason: 'deadline', mode: 'datacenter' })
    const answeredAfterMs = cluster.repliesTo(requestId)[0]!.atMs - startMs
    expect(answeredAfterMs).toBeGreaterThanOrEqual(100)
    expect(answeredAfterMs).toBeLessThan(200)
    expect(cluster.replica(node).metrics['auto.deadline']).toBe(1)

    cluster.runFor(2_000)
    // The Raft entry committed too (one more strong write between the two markers) ...
    const after = cluster.call(node, { type: 'put', key: 'cfg/marker', value: '2' })
    if (after.position.kind !== 'raft') throw new Error('a strong write answers with a Raft position')
    expect(after.position.version).toBe(before.position.version + 2)
    // ... yet the request was answered once, and its value is the final one everywhere.
    cluster.converge('auto/d', 'new')
    expect(cluster.repliesTo(requestId)).toHaveLength(1)
    expect(cluster.replica(node).metrics['auto.raft']).toBe(0)
  })
})

describe('outside the Raft group, and without a quorum', () => {
  it('a node outside the Raft group writes auto through the CRDT (raftUnavailable), refuses strong writes and serves follower reads', () => {
    const cluster = new ReplicaCluster({ nodes: 5, raftVoters: [0, 1, 2], pbftReplicas: 4 })
    cluster.runFor(3_000)
    cluster.settle()
    // Every replica has a Raft engine; one in neither voters nor learners takes no part.
    expect(cluster.replica(4).raft.status().voters).not.toContain('n5')
    expect(cluster.replica(4).configuration().raftLearners).not.toContain('n5')
    expect(cluster.replica(4).homeMode()).toBe('datacenter')
    const put = cluster.call(4, { type: 'put', key: 'auto/n', value: 'N' })
    expect(put).toMatchObject({ path: 'crdt', auto: { reason: 'raftUnavailable', mode: 'datacenter' }, position: { kind: 'crdt', replica: 'n5' } })
    cluster.converge('auto/n', 'N')
    expect(cluster.tryRequest(4, { type: 'put', key: 'cfg/n', value: 'N' }).refusal?.code).toBe('notInGroup')
    expect(cluster.tryRequest(4, { type: 'get', key: 'cfg/n' }).refusal?.code).toBe('notInGroup')
    expect(cluster.tryRequest(4, { type: 'put', key: 'bft/n', value: 'N' }).refusal?.code).toBe('notInGroup')
    cluster.call(1, { type: 'put', key: 'cfg/n', value: 'N' })
    cluster.runUntil(() => cluster.call(4, { type: 'get', key: 'cfg/n', consistency: 'eventual' }).value === 'N', 3_000, 'the follower read at n5')
  })

  it('a strong write at a leader cut off from its quorum is answered timeout once; an auto write there falls back to the CRDT', () => {
    const cluster = settledCluster()
    const leader = cluster.leader()!
    cluster.sim.network.partition([leader], otherThan(cluster, leader))
    const requestId = cluster.request(leader, { type: 'put', key: 'cfg/t', value: 'T' })
    const startMs = cluster.nowMs
    const reply = cluster.answer(requestId, 5_000)
    expect(reply).toMatchObject({ ok: false, code: 'timeout' })
    expect(cluster.repliesTo(requestId)[0]!.atMs - startMs).toBeGreaterThanOrEqual(3_000)
    expect(cluster.replica(leader).metrics.timeouts).toBe(1)
    const auto = cluster.call(leader, { type: 'put', key: 'auto/t', value: 'T' })
    expect(auto.path).toBe('crdt')
    expect(auto.auto?.reason).not.toBe('datacenter')
    cluster.runFor(1_000)
    expect(cluster.repliesTo(requestId)).toHaveLength(1)
    // Healed, the CRDT write reaches every node.
    cluster.sim.network.heal()
    cluster.converge('auto/t', 'T', 8_000)
  })
})

describe('policies and refusals', () => {
  it('setPolicy from auto to strong is answered ok and every replica switches', () => {
    const cluster = settledCluster()
    for (const index of otherThan(cluster)) expect(cluster.replica(index).policyOf('app').consistency).toBe('auto')
    const reply = cluster.call(2, { type: 'setPolicy', namespace: 'app', policy: { consistency: 'strong', valueType: 'register', home: null } })
    expect(reply).toMatchObject({ ok: true, path: 'raft', position: { kind: 'raft' } })
    cluster.runUntil(() => otherThan(cluster).every((index) => cluster.replica(index).policyOf('app').consistency === 'strong'), 3_000, 'the policy at every replica')
    // Writes to the namespace now take Raft as strong writes (no auto reason), and auto is refused.
    const put = cluster.call(0, { type: 'put', key: 'app/k', value: 'v' })
    expect(put.path).toBe('raft')
    expect(put.auto).toBeUndefined()
    expect(cluster.tryRequest(1, { type: 'put', key: 'app/k', value: 'w', consistency: 'auto' }).refusal?.code).toBe('consistencyMismatch')
  })

  it('a put naming another consistency than its namespace is refused consistencyMismatch, never silently rerouted', () => {
    const cluster = settledCluster()
    for (const [key, consistency] of [
      ['cfg/a', 'eventual'],
      ['cfg/a', 'byzantine'],
      ['bft/a', 'strong'],
      ['auto/a', 'strong'],
      ['ev/a', 'auto'],
    ] as const) {
      const { requestId, refusal } = cluster.tryRequest(0, { type: 'put', key, value: 'x', consistency })
      expect(refusal?.code, `${key} as ${consistency}`).toBe('consistencyMismatch')
      cluster.runFor(50)
      expect(cluster.repliesTo(requestId)).toHaveLength(0)
    }
    // A get asking for strong on an eventual namespace is refused too (only eventual may differ).
    expect(cluster.tryRequest(0, { type: 'get', key: 'ev/a', consistency: 'strong' }).refusal?.code).toBe('consistencyMismatch')
    expect(cluster.call(0, { type: 'get', key: 'cfg/a' }).value).toBeNull()
  })

  it('refuses invalid keys, invalid policies and CRDT operations of the wrong type with their codes', () => {
    const cluster = settledCluster()
    const refused = (request: Parameters<ReplicaCluster['tryRequest']>[1]): string | undefined => cluster.tryRequest(1, request).refusal?.code
    expect(refused({ type: 'put', key: '', value: 'x' })).toBe('invalidKey')
    expect(refused({ type: 'put', key: 'cfg/a b', value: 'x' })).toBe('invalidKey')
    expect(refused({ type: 'put', key: 'bad!ns/a', value: 'x' })).toBe('invalidKey')
    expect(refused({ type: 'put', key: `cfg/${'k'.repeat(200)}`, value: 'x' })).toBe('invalidKey')
    expect(refused({ type: 'get', key: 'cfg/\u00e9' })).toBe('invalidKey')
    expect(refused({ type: 'crdt', op: { type: 'counter', key: '', amount: 1 } })).toBe('invalidKey')

    expect(refused({ type: 'setPolicy', namespace: 'x', policy: { consistency: 'strong', valueType: 'counter', home: null } })).toBe('invalidPolicy')
    expect(refused({ type: 'setPolicy', namespace: 'x', policy: { consistency: 'byzantine', valueType: 'set', home: null } })).toBe('invalidPolicy')
    expect(refused({ type: 'setPolicy', namespace: 'x', policy: { consistency: 'eventual', valueType: 'register', home: 'not a region' } })).toBe('invalidPolicy')
    expect(refused({ type: 'setPolicy', namespace: 'bad ns', policy: { consistency: 'eventual', valueType: 'register', home: null } })).toBe('invalidNamespace')

    expect(refused({ type: 'crdt', op: { type: 'set', key: 'cnt/c', action: 'add', element: 'e' } })).toBe('typeMismatch')
    expect(refused({ type: 'put', key: 'cnt/c', value: '1' })).toBe('typeMismatch')
    expect(refused({ type: 'crdt', op: { type: 'counter', key: 'ev/r', amount: 1 } })).toBe('typeMismatch')
    expect(refused({ type: 'crdt', op: { type: 'register', key: 'ev/r', value: 'x' } })).toBe('typeMismatch')
    expect(refused({ type: 'crdt', op: { type: 'counter', key: 'cfg/c', amount: 1 } })).toBe('consistencyMismatch')
    expect(refused({ type: 'crdt', op: { type: 'counter', key: 'auto/c', amount: 1 } })).toBe('consistencyMismatch')

    // Nothing refused was applied anywhere, and the policy is unchanged.
    cluster.runFor(500)
    expect(cluster.replies).toHaveLength(0)
    for (const index of otherThan(cluster)) expect(cluster.replica(index).policyOf('x').consistency).toBe('auto')
    expect(cluster.call(2, { type: 'get', key: 'cnt/c' }).value).toBe(null)
  })

  it('refuses a request id that is still waiting for its answer (duplicateRequest), and answers the original once', () => {
    const cluster = settledCluster()
    const follower = otherThan(cluster, cluster.leader()!)[0]!
    const requestId = cluster.request(follower, { type: 'put', key: 'cfg/dup', value: 'first' })
    expect(cluster.replica(follower).isPending(requestId)).toBe(true)
    expect(cluster.tryRequest(follower, { type: 'put', key: 'cfg/dup', value: 'second' }, requestId).refusal?.code).toBe('duplicateRequest')
    expect(cluster.tryRequest(follower, { type: 'get', key: 'cfg/dup' }, requestId).refusal?.code).toBe('duplicateRequest')
    expect(cluster.ok(requestId).path).toBe('raft')
    cluster.runFor(500)
    expect(cluster.repliesTo(requestId)).toHaveLength(1)
    expect(cluster.call(0, { type: 'get', key: 'cfg/dup' }).value).toBe('first')
    // Once answered, the id may be used again.
    expect(cluster.tryRequest(follower, { type: 'get', key: 'cfg/dup' }, requestId).refusal).toBeNull()
  })
})

describe('at-most-once strong writes', () => {
  it('with 30% of messages duplicated, every strong write is applied once and answered once', () => {
    const cluster = new ReplicaCluster({ faults: { ...noNetworkFaults, duplicateProbability: 0.3 } })
    cluster.runFor(3_000)
    cluster.settle()
    const requestIds: number[] = []
    for (let round = 0; round < 6; round++) {
      for (const index of otherThan(cluster)) requestIds.push(cluster.request(index, { type: 'put', key: `cfg/k${round}-${index}`, value: `v${round}-${index}` }))
      cluster.runFor(30)
    }
    cluster.runUntil(() => requestIds.every((requestId) => cluster.repliesTo(requestId).length > 0), 5_000, 'every write answered')
    cluster.runFor(1_000)
    expect(cluster.sim.network.metrics.duplicated).toBeGreaterThan(100)
    const versions: number[] = []
    for (const requestId of requestIds) {
      const replies = cluster.repliesTo(requestId)
      expect(replies, `replies to ${requestId}`).toHaveLength(1)
      const reply = replies[0]!.reply as OkReply
      expect(reply.ok).toBe(true)
      expect(reply.path).toBe('raft')
      if (reply.position.kind === 'raft') versions.push(reply.position.version)
    }
    const acknowledged = requestIds.length
    expect(versions.sort((a, b) => a - b)).toEqual(Array.from({ length: acknowledged }, (_, index) => index + 1))
    for (const index of otherThan(cluster)) {
      const strong = cluster.replica(index).strong
      expect(strong.size).toBe(acknowledged)
      let highest = 0
      for (let round = 0; round < 6; round++) for (const writer of otherThan(cluster)) highest = Math.max(highest, strong.get(`cfg/k${round}-${writer}`).version)
      expect(highest, `the write counter at node ${index}`).toBe(acknowledged)
    }
    // One more write lands on the next version: no duplicate bumped the counter unseen.
    expect(cluster.call(0, { type: 'put', key: 'cfg/last', value: 'x' }).position).toMatchObject({ kind: 'raft', version: acknowledged + 1 })
  })
})

describe('peer messages and the wire', () => {
  it('refuses a message from a non-member (unknownPeer), counts it and reports it', () => {
    const cluster = settledCluster()
    const replica = cluster.replica(1)
    const before = replica.metrics.peerMessagesRefused
    const refusal = replica.step('n99', { engine: 'replica', message: { type: 'forwardRead', requestId: 1, boot: 1, key: 'cfg/a' } })
    expect(refusal?.code).toBe('unknownPeer')
    expect(replica.metrics.peerMessagesRefused).toBe(before + 1)
    cluster.runFor(20)
    const refused = cluster.events.filter((recorded) => recorded.node === 1 && recorded.event.source === 'replica' && recorded.event.event.kind === 'refused')
    expect(refused.map((recorded) => recorded.event.event)).toEqual([expect.objectContaining({ kind: 'refused', from: 'n99', engine: 'replica', code: 'unknownPeer' })])
    expect(replica.metrics.forwardsServed).toBe(0)
  })

  it('round-trips real messages of every engine through writeMessageFrame / readMessageFrame with replicaCodec', () => {
    const cluster = new ReplicaCluster()
    const seen = new Map<ReplicaMessageEngine, ReplicaMessage[]>()
    cluster.sim.observers.push({
      onReady: (_node, ready) => {
        for (const { message } of ready.messages) {
          const list = seen.get(message.engine) ?? []
          if (list.length < 20) list.push(structuredClone(message))
          seen.set(message.engine, list)
        }
      },
    })
    cluster.runFor(3_000)
    cluster.settle()
    cluster.call(1, { type: 'put', key: 'cfg/a', value: 'A' })
    cluster.call(2, { type: 'get', key: 'cfg/a' })
    cluster.call(3, { type: 'put', key: 'bft/b', value: 'B' })
    cluster.call(0, { type: 'crdt', op: { type: 'counter', key: 'cnt/c', amount: 3 } })
    cluster.runFor(500)
    expect([...seen.keys()].sort()).toEqual([...replicaEngines].sort())
    const address = { clusterId: 'sim', from: 'n1', to: 'n2' }
    for (const [engine, messages] of seen) {
      for (const message of messages) {
        const frame = writeMessageFrame(replicaCodec, address, message)
        const decoded = readMessageFrame(replicaCodec, frame)
        expect(decoded.ok, `${engine}: ${replicaCodec.describe(message)}`).toBe(true)
        if (!decoded.ok) continue
        expect(decoded.value).toMatchObject(address)
        expect(decoded.value.message).toEqual(message)
        expect(writeMessageFrame(replicaCodec, address, decoded.value.message)).toEqual(frame)
      }
    }
    // A frame naming an engine the replica does not know is refused, not thrown.
    const unknownEngine: EngineCodec<ReplicaMessage> = { ...replicaCodec, typeOf: () => replicaEngines.length }
    const bad = readMessageFrame(replicaCodec, writeMessageFrame(unknownEngine, address, seen.get('raft')![0]!))
    expect(bad.ok).toBe(false)
    if (!bad.ok) expect(bad.error.code).toBe('unknownType')
    // A truncated frame too.
    const truncated = writeMessageFrame(replicaCodec, address, seen.get('replica')![0]!)
    expect(readMessageFrame(replicaCodec, truncated.subarray(0, truncated.length - 1)).ok).toBe(false)
  })
})

describe('placement', () => {
  it('moves Raft leadership to a voter of the region most strong writes come from', () => {
    const cluster = new ReplicaCluster({ nodes: 6, pbftReplicas: 4, placement: { writesMin: 20, windowMs: 5_000, cooldownMs: 2_000, shareMin: 0.6 } })
    cluster.runFor(2_000)
    const leader = cluster.settle()
    const leaderRegion = cluster.sim.nodes[leader]!.region
    const region = ['eu', 'us', 'ap'].find((candidate) => candidate !== leaderRegion)!
    const writers = cluster.sim.nodes.filter((node) => node.region === region).map((node) => node.index)
    const others = otherThan(cluster, ...writers)
    expect(writers).toHaveLength(2)
    expect(cluster.events.some((recorded) => recorded.event.source === 'placement')).toBe(false)
    let sent = 0
    const isMoved = () => {
      const now = cluster.leader()
      return now !== null && cluster.sim.nodes[now]!.region === region
    }
    const endMs = cluster.nowMs + 8_000
    while (!isMoved() && cluster.nowMs < endMs) {
      // 4 of every 5 writes from the chosen region.
      const from = sent % 5 === 4 ? others[sent % others.length]! : writers[sent % writers.length]!
      const { refusal } = cluster.tryRequest(from, { type: 'put', key: `cfg/w${sent}`, value: String(sent) })
      expect(refusal === null || refusal.code === 'noLeader', refusal?.message).toBe(true)
      sent++
      cluster.runFor(50)
    }
    expect(isMoved()).toBe(true)
    const transfers = cluster.events.filter((recorded) => recorded.event.source === 'placement' && recorded.event.event.kind === 'leaderTransfer')
    expect(transfers.length).toBeGreaterThanOrEqual(1)
    const first = transfers[0]!
    expect(first.node).toBe(leader)
    expect(first.event.event).toMatchObject({ kind: 'leaderTransfer', from: leaderRegion, toRegion: region, to: cluster.sim.nodes[writers[0]!]!.id })
    const newLeader = cluster.leader()!
    expect(newLeader).toBe(writers[0])
    cluster.settle()
    expect(cluster.replica(leader).metrics.leaderTransfers).toBeGreaterThanOrEqual(1)
    // Strong writes still work under the new leader, from anywhere.
    expect(cluster.call(others[0]!, { type: 'put', key: 'cfg/after', value: 'ok' }).path).toBe('raft')
  })
})
