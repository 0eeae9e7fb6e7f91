import { describe, expect, it } from 'vitest'
import { RaftEngine, type RaftApplied, type RaftCommand, type RaftEvent } from '../../core/raft/engine.ts'
import { KvStateMachine, readKvValue, writeKvGet, writeKvPut } from '../../core/kv.ts'
import type { RaftMessage } from '../../core/raft/messages.ts'
import { defaultRaftConfig } from '../../core/raft/config.ts'
import { Rng } from '../../core/lib/prng.ts'
import { hosted, runTicks, type HostedNode } from '../support/memoryHost.ts'
import { SimStorage } from '../../sim/storage.ts'

interface Node extends HostedNode<RaftCommand, RaftMessage, RaftApplied, RaftEvent> {
  engine: RaftEngine
  kv: KvStateMachine
}

const ids = ['a', 'b', 'c']

function node(id: string, storage = new SimStorage(), voters = ids, config = defaultRaftConfig): Node {
  const kv = new KvStateMachine()
  return Object.assign(hosted(new RaftEngine({ id, voters, storage, rng: Rng.fromSeed(7).split(id), stateMachine: kv, config }), storage), { kv }) as Node
}

const run = (nodes: Record<string, Node>, ticks: number, cut?: (from: string, to: string) => boolean) => runTicks(nodes, ticks, cut)

function leaderOf(nodes: Record<string, Node>): Node | undefined {
  return Object.values(nodes).find((n) => !n.down && n.engine.status().role === 'leader')
}

function put(n: Node, key: string, value: string): void {
  expect(n.propose({ type: 'propose', data: writeKvPut({ requestId: `${key}=${value}`, key, value }) } as RaftCommand)).toBeNull()
}

describe('Raft engine', () => {
  it('elects one leader and replicates a write to every node', () => {
    const nodes = Object.fromEntries(ids.map((id) => [id, node(id)]))
    run(nodes, 50)
    const leader = leaderOf(nodes)!
    expect(Object.values(nodes).filter((n) => n.engine.status().role === 'leader')).toHaveLength(1)
    put(leader, 'x', '1')
    run(nodes, 10)
    for (const n of Object.values(nodes)) expect(n.kv.get('x')).toBe('1')
    const follower = Object.values(nodes).find((n) => n !== leader)!
    expect(follower.propose({ type: 'propose', data: new Uint8Array(1) })).toMatchObject({ code: 'notLeader', leader: leader.engine.id })
  })

  it('shows its state through status(): plain copies, per-follower progress at the leader only', () => {
    const nodes = Object.fromEntries(ids.map((id) => [id, node(id)]))
    run(nodes, 50)
    const leader = leaderOf(nodes)!
    put(leader, 'x', '1')
    run(nodes, 10)
    const status = leader.engine.status()
    expect(status).toMatchObject({ id: leader.engine.id, role: 'leader', leader: leader.engine.id, vote: leader.engine.id, commit: status.lastIndex, applied: status.lastIndex, voters: ids, learners: [], transferee: null })
    expect(status.followers.map((follower) => follower.id)).toEqual(ids.filter((id) => id !== leader.engine.id))
    for (const follower of status.followers) expect(follower).toMatchObject({ match: status.lastIndex, next: status.lastIndex + 1, lag: 0, state: 'replicate' })
    expect(status.metrics.proposals).toBe(1)
    expect(leader.engine.entry(status.lastIndex)).toMatchObject({ index: status.lastIndex, term: status.term, kind: 'command' })
    expect(leader.engine.entry(status.lastIndex + 1)).toBeUndefined()
    const follower = Object.values(nodes)
      .find((n) => n !== leader)!
      .engine.status()
    expect(follower).toMatchObject({ role: 'follower', leader: leader.engine.id, term: status.term, commit: status.commit, followers: [] })
    // A copy: changing it changes nothing in the engine.
    ;(status.voters as string[]).push('intruder')
    ;(status.metrics as { proposals: number }).proposals = 99
    ;(status.followers[0] as { match: number }).match = 0
    const again = leader.engine.status()
    expect(again.voters).toEqual(ids)
    expect(again.metrics.proposals).toBe(1)
    expect(again.followers[0]!.match).toBe(status.lastIndex)
  })

  it('answers a linearizable read at the leader after a write', () => {
    const nodes = Object.fromEntries(ids.map((id) => [id, node(id)]))
    run(nodes, 50)
    const leader = leaderOf(nodes)!
    put(leader, 'k', 'v')
    expect(leader.propose({ type: 'read', readId: 1, query: writeKvGet('k') })).toBeNull()
    run(nodes, 5)
    const read = leader.applied.find((applied) => applied.type === 'read')
    expect(read && read.type === 'read' ? readKvValue(read.reply) : 'none').toBe('v')
  })

  it('elects a new leader when the leader is cut off, and the old one steps down', () => {
    const nodes = Object.fromEntries(ids.map((id) => [id, node(id)]))
    run(nodes, 50)
    const old = leaderOf(nodes)!
    const isolated = (from: string, to: string) => from === old.engine.id || to === old.engine.id
    run(nodes, 60, isolated)
    const fresh = Object.values(nodes).filter((n) => n.engine.status().role === 'leader')
    expect(fresh).toHaveLength(1)
    expect(fresh[0]).not.toBe(old)
    put(fresh[0]!, 'y', '2')
    run(nodes, 30)
    for (const n of Object.values(nodes)) expect(n.kv.get('y')).toBe('2')
  })

  it('recovers its log after a crash that loses unsynced writes', () => {
    const nodes = Object.fromEntries(ids.map((id) => [id, node(id)]))
    run(nodes, 50)
    const leader = leaderOf(nodes)!
    for (let index = 0; index < 20; index++) put(leader, `k${index}`, String(index))
    run(nodes, 10)
    const victim = Object.values(nodes).find((n) => n !== leader)!
    victim.storage.crash(Rng.fromSeed(1), { lostProbability: 1, tornProbability: 0 })
    nodes[victim.engine.id] = node(victim.engine.id, victim.storage)
    run(nodes, 30)
    expect(nodes[victim.engine.id]!.kv.get('k19')).toBe('19')
  })

  it('compacts its log into snapshots and brings a lagging follower up with one', () => {
    const config = { ...defaultRaftConfig, snapshotEntries: 8 }
    const nodes = Object.fromEntries(ids.map((id) => [id, node(id, new SimStorage(), ids, config)]))
    run(nodes, 50)
    const leader = leaderOf(nodes)!
    const lagging = Object.values(nodes).find((n) => n !== leader)!
    lagging.down = true
    for (let index = 0; index < 40; index++) put(leader, `k${index}`, String(index))
    run(nodes, 20)
    expect(leader.engine.status().snapshot.index).toBeGreaterThan(8)
    lagging.down = false
    lagging.outbox.length = 0
    run(nodes, 40)
    expect(lagging.engine.status().metrics.snapshotsInstalled).toBeGreaterThan(0)
    expect(lagging.kv.get('k39')).toBe('39')
  })

  it('adds a learner, promotes it when caught up, and removes a voter', () => {
    const nodes: Record<string, Node> = Object.fromEntries(ids.map((id) => [id, node(id)]))
    run(nodes, 50)
    const leader = leaderOf(nodes)!
    put(leader, 'a', '1')
    nodes.d = node('d', new SimStorage(), [])
    expect(leader.propose({ type: 'addLearner', member: 'd' })).toBeNull()
    run(nodes, 20)
    expect(nodes.d.kv.get('a')).toBe('1')
    expect(leader.propose({ type: 'promote', member: 'd' })).toBeNull()
    run(nodes, 20)
    expect(leader.engine.status().voters).toEqual(['a', 'b', 'c', 'd'])
    const other = ids.find((id) => id !== leader.engine.id)!
    expect(leader.propose({ type: 'remove', member: other })).toBeNull()
    run(nodes, 20)
    expect(leader.engine.status().voters).not.toContain(other)
    put(leaderOf(nodes)!, 'b', '2')
    run(nodes, 20)
    expect(nodes.d.kv.get('b')).toBe('2')
  })

  it('transfers leadership to a caught-up voter', () => {
    const nodes = Object.fromEntries(ids.map((id) => [id, node(id)]))
    run(nodes, 50)
    const leader = leaderOf(nodes)!
    const target = ids.find((id) => id !== leader.engine.id)!
    expect(leader.propose({ type: 'transferLeadership', to: target })).toBeNull()
    run(nodes, 20)
    expect(leaderOf(nodes)?.engine.id).toBe(target)
  })
})
