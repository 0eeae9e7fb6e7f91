import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ReplicaReply } from '../../core/replica/commands.ts'
import type { CallOutcome } from '../../host/kernel.ts'
import { NodeRuntime, NodeRuntimeError } from '../../node/nodeRuntime.ts'
import { waitFor } from '../support/loopback.ts'
import { RuntimeCluster } from '../support/runtimeCluster.ts'

let root: string
let cluster: RuntimeCluster | null = null

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'dwcp-runtime-'))
})

afterEach(async () => {
  await cluster?.close()
  cluster = null
  rmSync(root, { recursive: true, force: true })
})

function reply(outcome: CallOutcome<ReplicaReply>): ReplicaReply {
  if (outcome.kind !== 'reply') throw new Error(`refused: ${outcome.refusal.code}: ${outcome.refusal.message}`)
  return outcome.reply
}

async function put(runtime: NodeRuntime, key: string, value: string) {
  return reply(await runtime.host.call({ type: 'put', key, value }))
}

async function get(runtime: NodeRuntime, key: string) {
  return reply(await runtime.host.call({ type: 'get', key, consistency: 'strong' }))
}

describe('node runtime', () => {
  it('a 3-node cluster elects a leader and answers strong puts; a restarted node reads them back from its data dir', async () => {
    cluster = await RuntimeCluster.start(root, ['n1', 'n2', 'n3'])
    const leader = await cluster.leader()
    const followers = ['n1', 'n2', 'n3'].filter((id) => id !== leader)
    expect(await put(cluster.runtime(leader), 'cfg/a', 'one')).toMatchObject({ ok: true, path: 'raft' })
    // A follower forwards to the leader.
    expect(await put(cluster.runtime(followers[0]!), 'cfg/b', 'two')).toMatchObject({ ok: true, path: 'raft' })
    const restarted = followers[1]!
    await cluster.stop(restarted)
    const again = cluster.open(restarted)
    expect(again.host.replica.boot).toBe(2)
    await waitFor('the restarted node linked again', () => again.links.status().peers.every((peer) => peer.connected))
    await cluster.leader()
    expect(await get(again, 'cfg/a')).toMatchObject({ ok: true, value: 'one' })
    expect(await get(again, 'cfg/b')).toMatchObject({ ok: true, value: 'two' })
    // Its own log holds them too: it applied what it had before the restart, then caught up.
    await waitFor('the restarted node applied both puts', () => (again.host.replica.raft?.status().applied ?? 0) >= (cluster!.runtime(leader).host.replica.raft?.status().commit ?? Infinity))
    expect(
      cluster
        .runtime(leader)
        .links.status()
        .peers.find((peer) => peer.id === restarted)!.reconnects,
    ).toBe(1)
    // Frames that reached the replica were all whole and well addressed.
    for (const runtime of cluster.running()) expect(runtime.frames.metrics).toMatchObject({ refusedMalformed: 0, refusedWrongCluster: 0, refusedWrongDestination: 0, refusedWrongSender: 0 })
    // Every node down, then up again: what was acknowledged comes back from the data dirs alone.
    for (const id of ['n1', 'n2', 'n3']) await cluster.stop(id)
    for (const id of ['n1', 'n2', 'n3']) cluster.open(id)
    const newLeader = await cluster.leader()
    expect(await get(cluster.runtime(newLeader), 'cfg/a')).toMatchObject({ ok: true, value: 'one' })
    expect(await get(cluster.runtime(newLeader), 'cfg/b')).toMatchObject({ ok: true, value: 'two' })
  })

  it('the dev fault switch: a partitioned leader cannot commit, the majority goes on, and the partition heals', async () => {
    cluster = await RuntimeCluster.start(root, ['n1', 'n2', 'n3'], { dev: true })
    const oldLeader = await cluster.leader()
    const majority = ['n1', 'n2', 'n3'].filter((id) => id !== oldLeader)
    const isolated = cluster.runtime(oldLeader)
    expect(cluster.runtime(majority[0]!).faults).not.toBeNull()
    isolated.faults!.set({ partition: majority })
    const stranded = isolated.host.call({ type: 'put', key: 'cfg/x', value: 'lost?' })
    const newLeader = await cluster.leader(majority)
    expect(await put(cluster.runtime(newLeader), 'cfg/x', 'majority')).toMatchObject({ ok: true, path: 'raft' })
    // The minority's write never commits: it is answered without success (timeout, or leadership lost).
    const strandedReply = reply(await stranded)
    expect(strandedReply.ok).toBe(false)
    expect(isolated.links.status().peers.every((peer) => peer.dropsOut.partition + peer.dropsIn.partition > 0)).toBe(true)
    isolated.faults!.set({ partition: null })
    await cluster.leader()
    expect(await get(isolated, 'cfg/x')).toMatchObject({ ok: true, value: 'majority' })
    await waitFor('the old leader applied the majority write', () => isolated.host.replica.raft!.status().applied >= cluster!.runtime(newLeader).host.replica.raft!.status().commit)
  })

  it('pause stops a node ticking and handling frames until resumed', async () => {
    cluster = await RuntimeCluster.start(root, ['n1', 'n2', 'n3'], { dev: true })
    await cluster.leader()
    const paused = cluster.runtime('n3')
    paused.faults!.set({ pause: true })
    const ticksAtPause = paused.host.snapshot().kernel.ticks.ticksRun
    await waitFor('frames dropped while paused', () => paused.links.status().peers.some((peer) => peer.dropsIn.paused > 0))
    expect(paused.host.snapshot().kernel.ticks.ticksRun).toBe(ticksAtPause)
    paused.faults!.set({ pause: false })
    await waitFor('ticking again', () => paused.host.snapshot().kernel.ticks.ticksRun > ticksAtPause)
    await cluster.leader()
  })

  it('a 4-node cluster signs PBFT messages with the node keys from the cluster file and commits byzantine puts', async () => {
    cluster = await RuntimeCluster.start(root, ['n1', 'n2', 'n3', 'n4'])
    expect(cluster.cluster.pbft).toEqual(['n1', 'n2', 'n3', 'n4'])
    await waitFor('links up', () => cluster!.running().every((runtime) => runtime.links.status().peers.every((peer) => peer.connected)))
    expect(await put(cluster.runtime('n3'), 'bft/k', 'signed')).toMatchObject({ ok: true, path: 'pbft' })
    expect(reply(await cluster.runtime('n2').host.call({ type: 'get', key: 'bft/k' }))).toMatchObject({ ok: true, value: 'signed' })
  })

  it('a node that leaves before it stops is seen left by the others, not suspect or dead', async () => {
    cluster = await RuntimeCluster.start(root, ['n1', 'n2', 'n3'])
    await waitFor('links up', () => cluster!.running().every((runtime) => runtime.links.status().peers.every((peer) => peer.connected)))
    const stateOf = (runtime: NodeRuntime, id: string) => runtime.host.snapshot().members.find((member) => member.id === id)?.state
    const leaving = cluster.runtime('n3')
    expect(await leaving.leave()).toEqual({ kind: 'sent' })
    expect(stateOf(leaving, 'n3')).toBe('left')
    expect(await leaving.leave()).toMatchObject({ kind: 'refused', refusal: { code: 'leaving' } })
    await cluster.stop('n3')
    await waitFor('n1 and n2 see n3 left', () => ['n1', 'n2'].every((id) => stateOf(cluster!.runtime(id), 'n3') === 'left'), 5_000)
    // The two that stay still see each other alive and still commit (2 of 3 voters).
    expect(stateOf(cluster.runtime('n1'), 'n2')).toBe('alive')
    const leader = await cluster.leader(['n1', 'n2'])
    expect(await put(cluster.runtime(leader), 'cfg/after', 'left')).toMatchObject({ ok: true, path: 'raft' })
    expect(['n1', 'n2'].map((id) => stateOf(cluster!.runtime(id), 'n3'))).toEqual(['left', 'left'])
    await expect(leaving.leave()).rejects.toThrow(/leave before close/)
  })

  it("refuses a data dir whose key is not the member's, and a node that is not a member, before making anything", async () => {
    cluster = await RuntimeCluster.start(root, ['n1', 'n2', 'n3'])
    const options = { cluster: cluster.cluster, secret: null }
    // A wrong --data: no directory and no key are left behind.
    expect(() => NodeRuntime.open({ ...options, id: 'n2', dataDir: join(root, 'elsewhere') })).toThrow(NodeRuntimeError)
    expect(() => NodeRuntime.open({ ...options, id: 'n2', dataDir: join(root, 'elsewhere') })).toThrow(/holds no node key: not n2's data dir/)
    expect(existsSync(join(root, 'elsewhere'))).toBe(false)
    // An empty dir stays empty.
    mkdirSync(join(root, 'empty'))
    expect(() => NodeRuntime.open({ ...options, id: 'n2', dataDir: join(root, 'empty') })).toThrow(/holds no node key/)
    expect(readdirSync(join(root, 'empty'))).toEqual([])
    // Another node's dir (n1 runs on it): refused by its key, without touching its lock or database.
    const n1Dir = cluster.node('n1').dir
    expect(() => NodeRuntime.open({ ...options, id: 'n2', dataDir: n1Dir })).toThrow(/not n2's public key/)
    expect(() => NodeRuntime.open({ ...options, id: 'n9', dataDir: join(root, 'n9') })).toThrow(/n9 is not a member/)
    expect(existsSync(join(root, 'n9'))).toBe(false)
    const leader = await cluster.leader()
    expect(await put(cluster.runtime(leader), 'cfg/still', 'running')).toMatchObject({ ok: true })
  })
})
