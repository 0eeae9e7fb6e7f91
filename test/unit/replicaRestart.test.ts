/**
 * A replica that restarts must not mistake its earlier life for its present
 * one: no hybrid timestamp handed out before the crash is handed out again
 * (even with the wall clock stepped back or frozen), and an answer to a
 * request forwarded before the crash never answers a new request that reuses
 * the request id. A restart of every node at once (a redeploy) loses no
 * acknowledged byzantine or strong write, and the versions they are published
 * under go on from where they were.
 */
import { describe, expect, it } from 'vitest'
import { ReplicaCluster } from '../support/replicaCluster.ts'

describe('replica restarts', () => {
  it('never reuses a hybrid timestamp after a restart, even on a frozen wall clock, so no strong write is taken for a duplicate', () => {
    // The wall clocks stand still (as a coarse or stepped-back clock may): only the HLC's counter and its high-water mark move it.
    const cluster = new ReplicaCluster({ nodes: 3, wallClockStepMs: Infinity })
    cluster.settle()
    for (const value of ['a', 'b', 'c']) cluster.call(1, { type: 'put', key: 'cfg/k', value })
    cluster.runFor(100)
    cluster.sim.crash(1)
    cluster.sim.restart(1)
    cluster.settle()
    for (const value of ['d', 'e', 'f']) {
      cluster.call(1, { type: 'put', key: 'cfg/k', value })
      expect(cluster.read(0, 'cfg/k')).toBe(value)
    }
  })

  it('an answer to a request forwarded by an earlier incarnation does not answer a new request with the same id', () => {
    const cluster = new ReplicaCluster({ nodes: 4 })
    const leader = cluster.settle()
    const follower = (leader + 1) % 4
    const { requestId } = cluster.tryRequest(follower, { type: 'put', key: 'cfg/old', value: 'forwarded' })
    // The forward reaches the leader; the follower crashes and comes back before the answer does,
    // and a new client request reuses the id (a byzantine put, which never goes through Raft).
    cluster.runFor(2)
    cluster.sim.crash(follower)
    cluster.sim.restart(follower)
    expect(cluster.tryRequest(follower, { type: 'put', key: 'bft/new', value: 'byzantine' }, requestId).refusal).toBeNull()
    expect(cluster.ok(requestId).path).toBe('pbft')
    cluster.runFor(500)
    expect(cluster.repliesTo(requestId)).toHaveLength(1)
    expect(cluster.replica(follower).metrics.forwardRepliesStale).toBe(1)
    // The forwarded write itself was committed: only its answer had nobody left to go to.
    expect(cluster.read(leader, 'cfg/old')).toBe('forwarded')
  })

  it('keeps every acknowledged byzantine write when every node of a 4-node cluster restarts at once', () => {
    const cluster = new ReplicaCluster({ nodes: 4 })
    cluster.settle()
    const expected = new Map<string, string>()
    // 24 writes, one sequence number each: past a PBFT checkpoint (every 16) and some above it.
    for (let index = 0; index < 24; index++) {
      const key = `bft/k${index % 5}`
      cluster.call(index % 4, { type: 'put', key, value: `v${index}` })
      expected.set(key, `v${index}`)
    }
    for (let index = 0; index < 4; index++) cluster.sim.crash(index)
    for (let index = 0; index < 4; index++) cluster.sim.restart(index)
    cluster.runFor(200)
    for (let index = 0; index < 4; index++) for (const [key, value] of expected) expect(cluster.read(index, key), `${key} at n${index}`).toBe(value)
    // And the group goes on ordering.
    cluster.call(1, { type: 'put', key: 'bft/after', value: 'after' })
    for (let index = 0; index < 4; index++) expect(cluster.read(index, 'bft/after'), `n${index}`).toBe('after')
  })

  it('after every node restarts at once, a new byzantine or strong write replaces the stale value follower reads return', () => {
    const cluster = new ReplicaCluster({ nodes: 4 })
    cluster.settle()
    // Several writes, so the published versions are well above 1.
    for (const value of ['a', 'b', 'old']) {
      cluster.call(0, { type: 'put', key: 'bft/x', value })
      cluster.call(0, { type: 'put', key: 'cfg/x', value })
    }
    cluster.converge('bft/x', 'old', 5_000, 'eventual')
    cluster.converge('cfg/x', 'old', 5_000, 'eventual')
    const versionBefore = cluster.call(2, { type: 'get', key: 'bft/x', consistency: 'eventual' }).position
    for (let index = 0; index < 4; index++) cluster.sim.crash(index)
    for (let index = 0; index < 4; index++) cluster.sim.restart(index)
    cluster.settle()
    const written = cluster.call(1, { type: 'put', key: 'bft/x', value: 'new' })
    cluster.call(1, { type: 'put', key: 'cfg/x', value: 'new' })
    cluster.converge('bft/x', 'new', 5_000, 'eventual')
    cluster.converge('cfg/x', 'new', 5_000, 'eventual')
    // The version went on from the one published before the restart.
    expect(written.position.kind === 'pbft' && versionBefore.kind === 'published' && written.position.version > versionBefore.version).toBe(true)
  })
})
