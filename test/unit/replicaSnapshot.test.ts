import { describe, expect, it } from 'vitest'
import { ReplicaCluster } from '../support/replicaCluster.ts'

describe('Replica.snapshot()', () => {
  it('shows role, log positions, followers, members with regions, policies, keys and digests, as plain JSON-safe copies', () => {
    const cluster = new ReplicaCluster({ nodes: 4 })
    const leader = cluster.settle()
    cluster.call(0, { type: 'put', key: 'cfg/mode', value: 'blue' })
    for (const node of [0, 1, 2, 3]) cluster.call(node, { type: 'crdt', op: { type: 'counter', key: 'cnt/hits', amount: 1 } })
    cluster.call(2, { type: 'put', key: 'ev/greeting', value: 'hello' })
    cluster.runFor(2_000)

    const snapshots = [0, 1, 2, 3].map((node) => cluster.replica(node).snapshot())
    for (const snapshot of snapshots) expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot)

    const atLeader = snapshots[leader]!
    expect(atLeader.raft).toMatchObject({ role: 'leader', leader: atLeader.node.id })
    expect(atLeader.raft!.commit).toBeGreaterThanOrEqual(2)
    expect(atLeader.raft!.followers.map((follower) => follower.id)).toEqual(snapshots.filter((_, index) => index !== leader).map((snapshot) => snapshot.node.id))
    expect(atLeader.raft!.followers.every((follower) => follower.lag === 0)).toBe(true)
    const follower = snapshots[(leader + 1) % 4]!
    expect(follower.raft).toMatchObject({ role: 'follower', leader: atLeader.node.id, commit: atLeader.raft!.commit })
    expect(follower.raft!.followers).toEqual([])

    expect(atLeader.members.map((member) => [member.id, member.region, member.state])).toEqual([
      ['n1', 'eu', 'alive'],
      ['n2', 'us', 'alive'],
      ['n3', 'ap', 'alive'],
      ['n4', 'eu', 'alive'],
    ])
    expect(atLeader.members.find((member) => member.id === atLeader.node.id)!.link).toBeNull()
    expect(atLeader.members.find((member) => member.id !== atLeader.node.id)!.link!.samples).toBeGreaterThan(0)
    expect(atLeader.pbft).toMatchObject({ phase: 'normal', view: 0 })
    expect(atLeader.policies.map((entry) => entry.namespace)).toEqual(expect.arrayContaining(['cfg', 'cnt', 'bft', 'edge', 'ev']))

    // Convergence view: every replica lists the same keys with the same digests.
    expect(atLeader.namespaces).toEqual(
      expect.arrayContaining([
        { namespace: 'cnt', keys: 1 },
        { namespace: 'ev', keys: 1 },
      ]),
    )
    for (const snapshot of snapshots) {
      expect(snapshot.keys).toEqual(atLeader.keys)
      expect(snapshot.storeDigest).toBe(atLeader.storeDigest)
    }
    expect(atLeader.keys.find((entry) => entry.key === 'cnt/hits')!.type).toBe('counter')
  })

  it("shows each member's region, address and tags as gossip knows them: its own at once, a late joiner's from its announcement, the founders' through push-pull", () => {
    const cluster = new ReplicaCluster({ nodes: 5, spares: 1, raftVoters: [0, 1, 2], pbftReplicas: 0 })
    cluster.settle()
    const metaOf = (node: number, member: string) =>
      cluster
        .replica(node)
        .snapshot()
        .members.find((view) => view.id === member)?.meta
    // The simulator's configuration members have a region and no address or tags.
    expect(metaOf(0, 'n1')).toEqual({ region: 'eu', address: '', tags: {} })
    cluster.join(4, 0)
    cluster.runUntil(() => [0, 1, 2, 3].every((node) => metaOf(node, 'n5') !== undefined && metaOf(node, 'n5') !== null), 5_000, "n5's metadata everywhere")
    for (const node of [0, 1, 2, 3]) expect(metaOf(node, 'n5')).toEqual({ region: 'us', address: '', tags: {} })
    // A cluster created together announces nothing: the founders' metadata comes with the periodic push-pull (30 s).
    cluster.runUntil(() => [0, 1, 2, 3, 4].every((node) => ['n1', 'n2', 'n3', 'n4'].every((member) => metaOf(node, member) !== null)), 120_000, "the founders' metadata everywhere")
    expect(metaOf(4, 'n3')).toEqual({ region: 'ap', address: '', tags: {} })
  })

  it('is a copy: changing it changes nothing in the replica', () => {
    const cluster = new ReplicaCluster({ nodes: 3 })
    cluster.settle()
    const replica = cluster.replica(0)
    const first = replica.snapshot()
    ;(first.metrics.replica as Record<string, number>).requests = 999_999
    ;(first.raft!.voters as string[]).push('intruder')
    const second = replica.snapshot()
    expect(second.metrics.replica.requests).not.toBe(999_999)
    expect(second.raft!.voters).not.toContain('intruder')
    expect(replica.raft!.status().voters).not.toContain('intruder')
  })
})
