/**
 * Runtime membership at the replica level (issue 18): a spare joins as a Raft
 * learner and catches up, is removed and its messages refused, a restart
 * comes back with the configuration it applied, and the leader's autopilot
 * replaces a voter that died for good.
 */
import { describe, expect, it } from 'vitest'
import { ReplicaCluster } from '../support/replicaCluster.ts'

/** n1 eu, n2 us, n3 ap voters, n4 eu a member outside Raft, n5 us a spare. */
function clusterWithSpare(config: { deadVoterRemoveMs?: number } = {}) {
  return new ReplicaCluster({ nodes: 5, spares: 1, raftVoters: [0, 1, 2], pbftReplicas: 0, config })
}

const versionsOf = (cluster: ReplicaCluster, nodes: readonly number[]) => nodes.map((node) => cluster.replica(node).configuration().version)

describe('runtime membership', () => {
  it('a spare joins as a Raft learner, catches up, writes through the leader; the join is idempotent and a conflicting one refused', () => {
    const cluster = clusterWithSpare()
    const leader = cluster.settle()
    cluster.call(leader, { type: 'put', key: 'cfg/before', value: 'B' })
    const joined = cluster.join(4, 0)
    expect(joined).toMatchObject({ path: 'raft', position: { kind: 'configuration', version: 2 } })
    cluster.runUntil(() => versionsOf(cluster, [0, 1, 2, 3, 4]).every((version) => version === 2), 5_000, 'configuration 2 everywhere')
    const configuration = cluster.replica(0).configuration()
    expect(configuration.raftLearners).toEqual(['n5'])
    expect(configuration.members.map((member) => member.id)).toEqual(['n1', 'n2', 'n3', 'n4', 'n5'])
    cluster.runUntil(() => cluster.replica(leader).raft.status().learners.includes('n5'), 5_000, 'n5 a Raft learner')
    cluster.runUntil(() => cluster.replica(4).strong.get('cfg/before').value === 'B', 5_000, 'n5 caught up')
    cluster.call(4, { type: 'put', key: 'cfg/after', value: 'A' })
    expect(cluster.read(leader, 'cfg/after')).toBe('A')
    expect(cluster.replica(4).regionOfMember('n1')).toBe('eu')
    expect(cluster.replica(0).regionOfMember('n5')).toBe('us')
    // The same member again changes nothing; the id with another key is a conflict.
    expect(cluster.call(1, { type: 'memberJoin', member: { id: 'n5', region: 'us', address: '', publicKey: new Uint8Array(0), tags: {} } })).toMatchObject({ position: { kind: 'configuration', version: 2, index: 0 } })
    expect(cluster.tryRequest(1, { type: 'memberJoin', member: { id: 'n5', region: 'us', address: '', publicKey: new Uint8Array(32), tags: {} } }).refusal?.code).toBe('memberConflict')
  })

  it('a removed member is dropped by gossip, the CRDT and Raft, and its messages are refused and counted', () => {
    const cluster = clusterWithSpare()
    const leader = cluster.settle()
    cluster.join(4, 0)
    cluster.runUntil(() => cluster.replica(leader).raft.status().learners.includes('n5'), 5_000, 'n5 a Raft learner')
    expect(cluster.call(1, { type: 'memberRemove', id: 'n5' })).toMatchObject({ position: { kind: 'configuration', version: 3 } })
    cluster.runUntil(() => versionsOf(cluster, [0, 1, 2, 3, 4]).every((version) => version === 3), 5_000, 'configuration 3 everywhere: n4 (outside Raft) through gossip, n5 before Raft drops it')
    cluster.runUntil(() => !cluster.replica(leader).raft.status().learners.includes('n5'), 5_000, 'n5 out of Raft')
    const refusedBefore = cluster.replica(0).metrics.peerMessagesRefused
    cluster.runFor(3_000)
    expect(cluster.replica(0).metrics.peerMessagesRefused).toBeGreaterThan(refusedBefore)
    expect(
      cluster
        .replica(0)
        .gossip.status()
        .members.map((member) => member.id),
    ).not.toContain('n5')
    expect(cluster.tryRequest(0, { type: 'memberRemove', id: 'n5' }).refusal?.code).toBe('notMember')
    expect(cluster.tryRequest(0, { type: 'memberRemove', id: 'n1' }).refusal).toBeNull()
  })

  it('a restart comes back with the configuration it applied, before Raft tells it anything', () => {
    const cluster = clusterWithSpare()
    cluster.settle()
    cluster.join(4, 0)
    cluster.call(0, { type: 'memberRemove', id: 'n4' })
    cluster.runUntil(() => versionsOf(cluster, [0, 1, 2]).every((version) => version === 3), 5_000, 'configuration 3 at the voters')
    cluster.sim.crash(2)
    cluster.sim.restart(2)
    expect(cluster.replica(2).configuration()).toMatchObject({ version: 3, raftLearners: ['n5'] })
    expect(cluster.replica(2).regionOfMember('n4')).toBeNull()
    cluster.runFor(50)
    const boot = cluster.events.filter((recorded) => recorded.node === 2 && recorded.event.source === 'replica' && recorded.event.event.kind === 'configurationChanged').at(-1)
    expect(boot?.event.event).toMatchObject({ kind: 'configurationChanged', version: 3 })
  })

  it("the leader's autopilot removes a voter dead past deadVoterRemoveMs and promotes a caught-up learner of its region", () => {
    const cluster = clusterWithSpare({ deadVoterRemoveMs: 2_000 })
    const leader = cluster.settle()
    cluster.join(4, leader)
    cluster.runUntil(() => cluster.replica(leader).raft.status().learners.includes('n5'), 5_000, 'n5 a Raft learner')
    const victim = leader === 1 ? 0 : 1
    const victimId = cluster.sim.nodes[victim]!.id
    cluster.sim.crash(victim)
    const live = [0, 1, 2, 4].filter((node) => node !== victim)
    cluster.runUntil(() => live.every((node) => !cluster.replica(node).configuration().raftVoters.includes(victimId)), 15_000, `${victimId} removed`)
    cluster.runUntil(() => live.every((node) => cluster.replica(node).configuration().raftVoters.length === 3), 10_000, 'a learner promoted in its place')
    const now = cluster.replica(live[0]!).configuration()
    expect(now.raftVoters).toContain('n5')
    expect(now.members.map((member) => member.id)).not.toContain(victimId)
    const autopilot = cluster.events.flatMap((recorded) => (recorded.event.source === 'replica' && recorded.event.event.kind === 'autopilot' ? [recorded.event.event] : []))
    expect(autopilot.map((event) => [event.action, event.member])).toEqual(
      expect.arrayContaining([
        ['removeDeadVoter', victimId],
        ['promote', 'n5'],
      ]),
    )
  })
})
