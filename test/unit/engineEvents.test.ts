/**
 * Events a viewer builds on: every CRDT key change (local, from a peer, from
 * recovery) and Raft's commit progress, coalesced to one event per Ready.
 */
import { describe, expect, it } from 'vitest'
import type { CrdtEvent } from '../../core/crdt/engine.ts'
import type { RaftEvent } from '../../core/raft/engine.ts'
import { ReplicaCluster } from '../support/replicaCluster.ts'

function crdtEvents(cluster: ReplicaCluster, node: number, from = 0): CrdtEvent[] {
  return cluster.events.slice(from).flatMap((recorded) => (recorded.node === node && recorded.event.source === 'crdt' ? [recorded.event.event] : []))
}

describe('engine events', () => {
  it('report each CRDT key change with its origin: local at the writer, peer elsewhere, recovery after a restart', () => {
    const cluster = new ReplicaCluster({ nodes: 3 })
    cluster.settle()
    const mark = cluster.events.length
    cluster.call(0, { type: 'crdt', op: { type: 'counter', key: 'cnt/visits', amount: 2 } })
    cluster.runFor(1_000)
    expect(crdtEvents(cluster, 0, mark)).toContainEqual({ kind: 'keyChanged', key: 'cnt/visits', valueType: 'counter', origin: 'local' })
    expect(crdtEvents(cluster, 1, mark)).toContainEqual({ kind: 'keyChanged', key: 'cnt/visits', valueType: 'counter', origin: 'peer' })
    const beforeRestart = cluster.events.length
    cluster.sim.crash(2)
    cluster.sim.restart(2)
    cluster.runFor(10)
    expect(crdtEvents(cluster, 2, beforeRestart)).toContainEqual({ kind: 'keyChanged', key: 'cnt/visits', valueType: 'counter', origin: 'recovery' })
  })

  it('report Raft commit progress once per Ready, never moving back', () => {
    const cluster = new ReplicaCluster({ nodes: 3 })
    const leader = cluster.settle()
    for (let index = 0; index < 5; index++) cluster.call(leader, { type: 'put', key: `cfg/k${index}`, value: String(index) })
    cluster.runFor(500)
    const commits = cluster.events.flatMap((recorded) =>
      recorded.node === leader && recorded.event.source === 'raft' && (recorded.event.event as RaftEvent).kind === 'commit' ? [recorded.event.event as Extract<RaftEvent, { kind: 'commit' }>] : [],
    )
    expect(commits.length).toBeGreaterThanOrEqual(5)
    for (let index = 1; index < commits.length; index++) expect(commits[index]!.index).toBeGreaterThan(commits[index - 1]!.index)
    expect(commits.at(-1)!.index).toBe(cluster.replica(leader).raft!.status().commit)
  })
})
