/**
 * The PBFT group follows the cluster configuration (issue 18, point 4): a
 * `pbftGroupSet` applied through Raft sets the target, the running group's
 * replicas approve it and one of them proposes the reconfiguration, which the
 * group orders itself. n1..n4 form the group, n5 has a key and an engine
 * outside it; the target replaces n4 by n5.
 */
import { describe, expect, it } from 'vitest'
import { decodeWith, encodeWith } from '../../core/codec/envelope.ts'
import { bootstrapConfiguration, plainMember, readClusterConfiguration, writeClusterConfiguration } from '../../core/replica/clusterConfiguration.ts'
import { forwardTypes, readForwardMessage, writeForwardMessage, type PbftApprovalMessage } from '../../core/replica/messages.ts'
import { ReplicaCluster } from '../support/replicaCluster.ts'

function keyedCluster() {
  return new ReplicaCluster({ nodes: 5, pbftReplicas: 4, keyedNodes: 5, raftVoters: [0, 1, 2] })
}

const epochOf = (cluster: ReplicaCluster, node: number) => cluster.replica(node).pbft?.status().epoch ?? -1

/** Byzantine writes at `writers` until every node of `nodes` is in `epoch` (the group takes a change up at its next checkpoint). */
function reachEpoch(cluster: ReplicaCluster, nodes: readonly number[], epoch: number, writers: readonly number[]): void {
  const reached = () => nodes.every((node) => epochOf(cluster, node) === epoch)
  for (let round = 0; round < 60 && !reached(); round++) {
    cluster.request(writers[round % writers.length]!, { type: 'put', key: `bft/fill${epoch}-${round}`, value: 'f' })
    cluster.runFor(500)
  }
  expect(nodes.map((node) => epochOf(cluster, node))).toEqual(nodes.map(() => epoch))
}

describe('the PBFT group follows the configuration target', () => {
  it('pbftGroupSet replaces n4 by n5: writes acknowledged before and after are readable, n4 stops voting and may then be removed', () => {
    const cluster = keyedCluster()
    cluster.settle()
    expect(cluster.replica(4).pbft?.status()).toMatchObject({ epoch: 0, member: false, members: ['n1', 'n2', 'n3', 'n4'] })
    expect(cluster.tryRequest(4, { type: 'put', key: 'bft/x', value: 'no' }).refusal?.code).toBe('notInGroup')
    // Outside the group and the target, n5's engine stays quiet: the group would refuse what it sent.
    expect(cluster.replica(4).pbft?.status().metrics.statusSent).toBe(0)
    expect(cluster.replica(0).metrics.peerMessagesRefused).toBe(0)
    // The target's members must remain while it lists them.
    expect(cluster.tryRequest(0, { type: 'memberRemove', id: 'n4' }).refusal?.code).toBe('pbftReplica')
    const before = ['a', 'b', 'c'].map((name, index) => {
      cluster.call(index, { type: 'put', key: `bft/${name}`, value: `before-${name}` })
      return name
    })

    expect(cluster.call(1, { type: 'pbftGroupSet', replicas: ['n5', 'n1', 'n2', 'n3'] })).toMatchObject({ position: { kind: 'configuration' } })
    expect(cluster.replica(0).configuration()).toMatchObject({ pbftReplicas: ['n1', 'n2', 'n3', 'n5'], pbftRunning: { epoch: 0, replicas: ['n1', 'n2', 'n3', 'n4'] } })
    // n4 is out of the target but still runs: it stays a member until the group reconfigured without it.
    expect(cluster.tryRequest(0, { type: 'memberRemove', id: 'n4' }).refusal?.code).toBe('pbftReplica')
    // The group orders the change, then takes it up at its next checkpoint: writes keep it moving.
    reachEpoch(cluster, [0, 1, 2, 4], 1, [0, 1, 2])
    expect(cluster.replica(4).pbft?.status()).toMatchObject({ epoch: 1, member: true, members: ['n1', 'n2', 'n3', 'n5'] })
    expect(
      cluster.replica(0).metrics.pbftReconfigurationsProposed + cluster.replica(1).metrics.pbftReconfigurationsProposed + cluster.replica(2).metrics.pbftReconfigurationsProposed + cluster.replica(3).metrics.pbftReconfigurationsProposed,
    ).toBeGreaterThan(0)
    const changed = cluster.events.find((recorded) => recorded.node === 4 && recorded.event.source === 'pbft' && recorded.event.event.kind === 'groupChanged')
    expect(changed?.event.event).toMatchObject({ kind: 'groupChanged', epoch: 1, member: true })

    // n5 serves byzantine writes and reads; everything acknowledged before is there.
    cluster.call(4, { type: 'put', key: 'bft/d', value: 'after-d' })
    for (const name of before) expect(cluster.read(4, `bft/${name}`)).toBe(`before-${name}`)
    expect(cluster.read(0, 'bft/d')).toBe('after-d')
    cluster.call(0, { type: 'put', key: 'bft/e', value: 'after-e' })
    expect(cluster.read(4, 'bft/e')).toBe('after-e')

    // n4 left the group: it refuses byzantine requests and sends nothing more (no vote, no status: it is not wanted back).
    cluster.runUntil(() => epochOf(cluster, 3) === 1, 10_000, 'n4 learns epoch 1')
    expect(cluster.replica(3).pbft?.status().member).toBe(false)
    expect(cluster.tryRequest(3, { type: 'put', key: 'bft/x', value: 'no' }).refusal?.code).toBe('notInGroup')
    const votes = () => {
      const metrics = cluster.replica(3).pbft!.status().metrics
      return metrics.preparesSent + metrics.commitsSent + metrics.prePreparesSent + metrics.statusSent
    }
    const votesBefore = votes()
    for (const index of [0, 1, 2]) cluster.call(index, { type: 'put', key: `bft/late${index}`, value: 'l' })
    cluster.runFor(2_000)
    expect(votes()).toBe(votesBefore)

    // The group's replicas record the group that runs in the configuration; out of it and of the target, n4 may be removed.
    cluster.runUntil(() => [0, 1, 2, 3, 4].every((node) => cluster.replica(node).configuration().pbftRunning?.epoch === 1), 5_000, 'epoch 1 recorded everywhere')
    expect(cluster.replica(3).configuration().pbftRunning).toMatchObject({ epoch: 1, replicas: ['n1', 'n2', 'n3', 'n5'] })
    expect(cluster.call(0, { type: 'memberRemove', id: 'n4' })).toMatchObject({ position: { kind: 'configuration' } })
    expect(cluster.read(4, 'bft/late0')).toBe('l')
  })

  it('a node with a key that joins later builds its engine with the running group its join answer names, and a later change adds it', () => {
    const cluster = new ReplicaCluster({ nodes: 6, spares: 1, pbftReplicas: 4, keyedNodes: 6, raftVoters: [0, 1, 2] })
    cluster.settle()
    cluster.call(0, { type: 'put', key: 'bft/first', value: '1' })
    cluster.call(0, { type: 'pbftGroupSet', replicas: ['n1', 'n2', 'n3', 'n5'] })
    reachEpoch(cluster, [0, 1, 2, 4], 1, [0, 1, 2])
    cluster.runUntil(() => cluster.replica(0).configuration().pbftRunning?.epoch === 1, 5_000, 'epoch 1 recorded')
    cluster.join(5, 0)
    expect(cluster.replica(5).pbft?.status()).toMatchObject({ epoch: 1, member: false, members: ['n1', 'n2', 'n3', 'n5'] })
    cluster.runUntil(() => cluster.replica(0).configuration().members.length === 6 && cluster.replica(1).configuration().members.length === 6, 5_000, 'n6 a member')
    cluster.call(1, { type: 'pbftGroupSet', replicas: ['n1', 'n2', 'n5', 'n6'] })
    reachEpoch(cluster, [0, 1, 4, 5], 2, [0, 1, 4])
    expect(cluster.replica(5).pbft?.status()).toMatchObject({ epoch: 2, member: true })
    cluster.call(5, { type: 'put', key: 'bft/joined', value: 'j' })
    expect(cluster.read(5, 'bft/first')).toBe('1')
    expect(cluster.read(0, 'bft/joined')).toBe('j')
  })

  it('pbftGroupSet refuses a group that is not 3f+1 members with keys; a forged approval is refused and counted', () => {
    const cluster = keyedCluster()
    cluster.settle()
    expect(cluster.tryRequest(0, { type: 'pbftGroupSet', replicas: ['n1', 'n2', 'n3'] }).refusal?.code).toBe('invalidPbftGroup')
    expect(cluster.tryRequest(0, { type: 'pbftGroupSet', replicas: ['n1', 'n2', 'n3', 'n9'] }).refusal?.code).toBe('invalidPbftGroup')
    expect(cluster.tryRequest(0, { type: 'pbftGroupSet', replicas: ['n1', 'n1', 'n2', 'n3'] }).refusal?.code).toBe('invalidPbftGroup')
    expect(cluster.call(0, { type: 'pbftGroupSet', replicas: ['n4', 'n3', 'n2', 'n1'] })).toMatchObject({ position: { kind: 'configuration', index: 0 } })
    const replica = cluster.replica(0)
    const refusedBefore = replica.metrics.peerMessagesRefused
    const replicas = replica
      .configuration()
      .members.filter((member) => member.id !== 'n4')
      .map((member) => ({ id: member.id, publicKey: member.publicKey }))
    const forged = { type: 'pbftApproval' as const, fromEpoch: 0, replicas, approval: { replica: 'n2', signature: new Uint8Array(16) } }
    expect(replica.step('n2', { engine: 'replica', message: forged })?.code).toBe('invalidApproval')
    expect(replica.step('n3', { engine: 'replica', message: forged })?.code).toBe('invalidApproval')
    expect(replica.metrics.peerMessagesRefused).toBe(refusedBefore + 2)
    expect(replica.metrics.pbftReconfigurationsProposed).toBe(0)
  })
})

describe('the wire of the PBFT group change', () => {
  const publicKey = new Uint8Array(16).fill(7)
  const approval: PbftApprovalMessage = { type: 'pbftApproval', fromEpoch: 3, replicas: ['n1', 'n2', 'n3', 'n5'].map((id) => ({ id, publicKey })), approval: { replica: 'n2', signature: new Uint8Array(64).fill(9) } }
  const approvalType = forwardTypes.indexOf('pbftApproval')

  it('an approval round-trips; a truncated one or one with an oversized signature is refused', () => {
    const bytes = encodeWith(approval, writeForwardMessage)
    const read = decodeWith(bytes, (decoder) => readForwardMessage(decoder, approvalType), 'approval')
    expect(read).toEqual({ ok: true, value: approval })
    expect(decodeWith(bytes.subarray(0, bytes.length - 3), (decoder) => readForwardMessage(decoder, approvalType), 'approval').ok).toBe(false)
    const oversized = encodeWith({ ...approval, approval: { replica: 'n2', signature: new Uint8Array(129) } }, writeForwardMessage)
    expect(decodeWith(oversized, (decoder) => readForwardMessage(decoder, approvalType), 'approval').ok).toBe(false)
  })

  it('a configuration keeps the running group in its order; format 1 (without it) is still read', () => {
    const members = ['n1', 'n2', 'n3', 'n4', 'n5'].map((id) => plainMember(id, 'eu', publicKey))
    const first = bootstrapConfiguration({ members, raftVoters: ['n1'], pbftReplicas: ['n1', 'n2', 'n3', 'n4'] })
    const running = { ...first, version: 2, pbftReplicas: ['n1', 'n2', 'n3', 'n5'], pbftRunning: { epoch: 1, startSeq: 40, replicas: ['n5', 'n1', 'n2', 'n3'] } }
    expect(readClusterConfiguration(writeClusterConfiguration(running))).toEqual(running)
    const formatTwo = writeClusterConfiguration(first)
    expect(formatTwo[0]).toBe(2)
    const formatOne = formatTwo.slice(0, formatTwo.length - 1)
    formatOne[0] = 1
    expect(readClusterConfiguration(formatOne)).toEqual(first)
    expect(() => writeClusterConfiguration({ ...running, pbftRunning: { epoch: 1, startSeq: 0, replicas: ['n1', 'n9'] } })).toThrow(/not a member/)
  })
})

describe('autopilot of the PBFT target', () => {
  it('a PBFT replica dead past deadVoterRemoveMs is replaced in the target by a live member with a key, and the group follows', () => {
    const cluster = new ReplicaCluster({ nodes: 5, pbftReplicas: 4, keyedNodes: 5, raftVoters: [0, 1, 2], config: { deadVoterRemoveMs: 2_000 } })
    cluster.settle()
    cluster.call(0, { type: 'put', key: 'bft/before', value: 'b' })
    cluster.sim.crash(3)
    cluster.runUntil(() => cluster.replica(0).configuration().pbftReplicas.includes('n5'), 90_000, 'n5 in the PBFT target (gossip declares n4 dead first)')
    expect(cluster.replica(0).configuration().pbftReplicas).toEqual(['n1', 'n2', 'n3', 'n5'])
    const event = cluster.events.find((recorded) => recorded.event.source === 'replica' && recorded.event.event.kind === 'autopilot')
    expect(event?.event.event).toMatchObject({ kind: 'autopilot', action: 'replacePbftReplica', member: 'n4' })
    reachEpoch(cluster, [0, 1, 2, 4], 1, [0, 1, 2])
    cluster.call(4, { type: 'put', key: 'bft/after', value: 'a' })
    expect(cluster.read(4, 'bft/before')).toBe('b')
  })
})
