/**
 * Snapshots recorded from real replicas (four hosted through ReplicaHost
 * with a PBFT group, test/support/hostedCluster.ts) and the feed items their
 * event logs gave: what live nodes would send the TUI. n3's snapshot is
 * taken before the last writes reached it, so the recording shows divergence.
 */
import type { FeedItem } from '../../../host/eventLog.ts'
import type { HostSnapshot } from '../../../host/replicaHost.ts'
import type { ReplicaEvent } from '../../../core/replica/events.ts'
import { hostedCluster, hostedNodePolicies } from '../../support/hostedCluster.ts'

export interface Recording {
  readonly snapshots: readonly HostSnapshot[]
  readonly feeds: readonly (readonly FeedItem<ReplicaEvent>[])[]
}

export function recordCluster(seed = 1): Recording {
  const cluster = hostedCluster(seed, hostedNodePolicies, { pbftGroup: true })
  const subscriptions = cluster.nodes.map((node) => {
    const subscription = node.host.subscribe(null)
    if (!('take' in subscription)) throw new Error(`subscribe refused: ${subscription.message}`)
    return subscription
  })
  cluster.advance(3_000)
  const leader = cluster.nodes.find((node) => node.host.replica.raft?.role === 'leader')
  if (leader === undefined) throw new Error(`seed ${seed}: no leader after 3 s`)
  void leader.host.call({ type: 'put', key: 'cfg/limit', value: '10' })
  void cluster.nodes[0]!.host.call({ type: 'crdt', op: { type: 'counter', key: 'cnt/visits', amount: 3 } })
  void cluster.nodes[1]!.host.call({ type: 'put', key: 'edge/color', value: 'blue' })
  void cluster.nodes[3]!.host.call({ type: 'put', key: 'bft/owner', value: 'ops' })
  cluster.advance(1_000)
  const early = cluster.nodes[2]!.host.snapshot()
  void cluster.nodes[1]!.host.call({ type: 'crdt', op: { type: 'counter', key: 'cnt/visits', amount: 4 } })
  void cluster.nodes[0]!.host.call({ type: 'crdt', op: { type: 'counter', key: 'cnt/errors', amount: 1 } })
  cluster.advance(1_000)
  const snapshots = [cluster.nodes[0]!.host.snapshot(), cluster.nodes[1]!.host.snapshot(), early, cluster.nodes[3]!.host.snapshot()]
  return { snapshots, feeds: subscriptions.map((subscription) => subscription.take(10_000)) }
}
