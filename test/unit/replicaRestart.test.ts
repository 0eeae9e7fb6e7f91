/**
 * A replica that restarts must not mistake its earlier life for its present
 * one: no hybrid timestamp handed out before the crash is handed out again
 * (even with the wall clock stepped back or frozen), and an answer to a
 * request forwarded before the crash never answers a new request that reuses
 * the request id.
 */
import { describe, expect, it } from 'vitest'
import { ReplicaCluster } from '../support/replicaCluster.ts'

describe('replica restarts', () => {
  it('never reuses a hybrid timestamp after a restart, even on a frozen wall clock, so no strong write is taken for a duplicate', () => {
    const frozenMs = 1_000_000
    // n2's wall clock stands still (as a coarse or stepped-back clock may): only the HLC's counter and its high-water mark move it.
    const cluster = new ReplicaCluster({ nodes: 3, wallClockMs: (id, virtualMs) => (id === 'n2' ? frozenMs : virtualMs) })
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
})
