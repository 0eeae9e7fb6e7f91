/**
 * Group commit on a real node runtime: the syncs of the calls taken in one
 * event-loop turn become one SQLite commit, and `durable()` (what the API
 * waits for before it answers) resolves only once that commit is done.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { GroupCommit } from '../../node/groupCommit.ts'
import { RuntimeCluster } from '../support/runtimeCluster.ts'
import { waitFor } from '../support/loopback.ts'

let root: string
let cluster: RuntimeCluster | null = null

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'dwcp-group-commit-'))
})

afterEach(async () => {
  await cluster?.close()
  cluster = null
  rmSync(root, { recursive: true, force: true })
})

describe('group commit', () => {
  it('commits once per turn however many syncs were asked for, and lets waiters go only after the commit', async () => {
    const commits: string[] = []
    const group = new GroupCommit(() => commits.push('commit'))
    expect(group.durable()).toBeNull()
    group.requested()
    group.requested()
    const order: string[] = []
    const waited = group.durable()!.then(() => order.push(`resolved after ${commits.length} commit(s)`))
    group.requested()
    expect(commits).toEqual([])
    await waited
    expect(order).toEqual(['resolved after 1 commit(s)'])
    expect(group).toMatchObject({ commits: 1, syncsRequested: 3 })
    // Nothing waits now: flush commits nothing more.
    group.flush()
    expect(commits).toEqual(['commit'])
  })

  it('on a node runtime: many calls in one turn cost one commit, and no reply is durable-ready before it', async () => {
    cluster = await RuntimeCluster.start(root, ['n1', 'n2', 'n3'])
    await cluster.leader()
    const runtime = cluster.runtime('n1')
    await waitFor('links up', () => runtime.links.status().peers.every((peer) => peer.connected))
    const storage = runtime.dataDir.storage
    // Let the start-up syncs settle, then take a turn of our own.
    await new Promise((resolve) => setImmediate(resolve))
    const calls = 20
    const syncsBefore = storage.metrics.syncs
    const requestedBefore = runtime.groupCommit.syncsRequested
    const replies = Array.from({ length: calls }, (_, index) => runtime.host.call({ type: 'crdt', op: { type: 'counter', key: `cnt/c${index}`, amount: 1 } }))
    const outcomes = await Promise.all(replies)
    for (const outcome of outcomes) expect(outcome).toMatchObject({ kind: 'reply', reply: { ok: true } })
    // Every call asked for a sync; none is on disk yet, so the API would still wait.
    expect(runtime.groupCommit.syncsRequested - requestedBefore).toBeGreaterThanOrEqual(calls)
    expect(storage.metrics.syncs).toBe(syncsBefore)
    const durable = runtime.durable()
    expect(durable).not.toBeNull()
    await durable
    // One commit for the whole turn (a tick may have slipped in between: at most one more).
    expect(storage.metrics.syncs - syncsBefore).toBeGreaterThanOrEqual(1)
    expect(storage.metrics.syncs - syncsBefore).toBeLessThanOrEqual(2)
    expect(runtime.durable()).toBeNull()
  })
})
