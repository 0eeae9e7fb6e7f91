/**
 * Real `dwcp node` processes on 127.0.0.1, one 3-node cluster:
 * - it elects a leader and serves strong writes at every node; kill -9 of the
 *   leader, and writes go on at a new leader (bounded retries while it is
 *   elected); the old leader restarts from its data dir and catches up;
 * - SIGTERM to a node while clients write: it exits 0, and every write
 *   acknowledged by any node is still there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiCall, callUntilOk, describeOutcome, type ApiAnswer } from '../support/apiCall.ts'
import { ProcessCluster } from '../support/processCluster.ts'

const limits = {
  /** A new leader elected and serving after the old one was killed (elections take 1 to 2 s, more on a busy machine). */
  failoverMs: 30_000,
  /** A restarted node catching up with the log. */
  catchUpMs: 30_000,
  /** Writes acknowledged before the SIGTERM, and after it. */
  ackedBeforeStop: 15,
  ackedAfterStop: 15,
  /** Bound on gathering either. */
  writePhaseMs: 45_000,
  writeTimeoutMs: 5_000,
} as const

let cluster: ProcessCluster
beforeAll(async () => {
  cluster = await ProcessCluster.start({ nodes: 3 })
}, 120_000)
afterAll(async () => cluster?.close())

describe('stopping nodes, with real processes', () => {
  it('elects a leader, serves strong writes, and after kill -9 of the leader writes go on at the new one', { timeout: 180_000 }, async () => {
    const c = cluster
    const leader = await c.waitReady()
    const token = c.token
    const put = (url: string, key: string, value: string) => apiCall(url, 'PUT', `/v1/kv/${key}?consistency=strong`, { token, json: { value } })
    const get = (url: string, key: string) => apiCall(url, 'GET', `/v1/kv/${key}?consistency=strong`, { token })
    const survivors = () => c.runningIds().map((id) => c.url(id))

    // Strong writes through every node (followers forward to the leader), read back at every node.
    const written = new Map<string, string>()
    for (const id of c.ids) {
      const answer = await callUntilOk(
        `strong put through ${id}`,
        () => [c.url(id)],
        (url) => put(url, `cfg/before-${id}`, `v-${id}`),
        limits.failoverMs,
      )
      expect(answer.body).toMatchObject({ key: `cfg/before-${id}`, path: 'raft', position: { kind: 'raft' } })
      written.set(`cfg/before-${id}`, `v-${id}`)
    }
    for (const id of c.ids) for (const [key, value] of written) expect((await get(c.url(id), key)).body, `${key} at ${id}`).toMatchObject({ key, value })

    const killed = await c.kill(leader)
    expect(killed.signal).toBe('SIGKILL')

    // Writes go on: retried at the survivors while they elect a new leader.
    for (let index = 0; index < 5; index++) {
      const key = `cfg/after-${index}`
      await callUntilOk(`strong put of ${key} after kill -9 of leader ${leader}`, survivors, (url) => put(url, key, `a-${index}`), limits.failoverMs)
      written.set(key, `a-${index}`)
    }
    const newLeader = await c.waitReady()
    expect(newLeader).not.toBe(leader)
    for (const url of survivors()) for (const [key, value] of written) expect((await get(url, key)).body, `${key} at ${url}`).toMatchObject({ key, value })

    // The old leader comes back from its data dir, follows, and catches up (its own eventual read of a strong key is its local state).
    c.spawn(leader)
    await c.waitReady()
    await callUntilOk(
      `${leader} catching up after its restart`,
      () => [c.url(leader)],
      async (url) => {
        const answer = await apiCall(url, 'GET', `/v1/kv/cfg/after-4?consistency=eventual`, { token })
        // Not there yet: asked again (a 503 makes callUntilOk retry).
        return answer.status === 404 ? { ...answer, status: 503 } : answer
      },
      limits.catchUpMs,
    )
    for (const [key, value] of written) expect((await get(c.url(leader), key)).body, `${key} at the restarted ${leader}`).toMatchObject({ key, value })
    expect(
      c.exits.filter((entry) => entry.exit.signal !== 'SIGKILL'),
      'no node exited on its own',
    ).toEqual([])
  })

  it('SIGTERM to a node while clients write: it exits 0 and no acknowledged write is lost', { timeout: 180_000 }, async () => {
    const c = cluster
    const leader = await c.waitReady()
    const token = c.token
    // Three clients write unique strong keys one at a time, each through the nodes in turn (the one stopping included).
    const acked = new Map<string, string>()
    const failures: string[] = []
    let stop = false
    const client = async (index: number) => {
      for (let n = 0; !stop; n++) {
        const key = `cfg/g-${index}-${n}`
        const url = c.url(c.ids[(index + n) % c.ids.length]!)
        let outcome: ApiAnswer | unknown
        try {
          outcome = await apiCall(url, 'PUT', `/v1/kv/${key}?consistency=strong`, { token, json: { value: `v${n}` }, timeoutMs: limits.writeTimeoutMs })
        } catch (error) {
          outcome = error
        }
        if ((outcome as ApiAnswer).status === 200) acked.set(key, `v${n}`)
        else failures.push(`${key} at ${url}: ${describeOutcome(outcome)}`)
      }
    }
    const until = async (what: string, count: number) => {
      const deadline = performance.now() + limits.writePhaseMs
      while (acked.size < count) {
        if (performance.now() > deadline) throw new Error(`${what}: ${acked.size} of ${count} writes acknowledged within ${limits.writePhaseMs} ms; failures: ${failures.slice(-6).join('; ')}`)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    }
    const clients = [0, 1, 2].map(client)
    try {
      await until('before the SIGTERM', limits.ackedBeforeStop)
      // The leader: its in-flight calls are answered before it goes, and the others elect a new one.
      const exit = await c.terminate(leader)
      expect(exit, `the log of ${leader}:\n${c.logs()}`).toEqual({ code: 0, signal: null })
      await until('after the SIGTERM', acked.size + limits.ackedAfterStop)
    } finally {
      stop = true
      await Promise.all(clients)
    }
    // Every acknowledged write, read strongly at the survivors.
    const survivors = c.runningIds()
    expect(survivors).toHaveLength(2)
    for (const [key, value] of acked) {
      const answer = await callUntilOk(
        `strong read of acknowledged ${key}`,
        () => survivors.map((id) => c.url(id)),
        (url) => apiCall(url, 'GET', `/v1/kv/${key}?consistency=strong`, { token }),
        limits.failoverMs,
      )
      expect(answer.body, key).toMatchObject({ key, value })
    }
    expect(
      c.exits.filter((entry) => entry.exit.signal !== 'SIGKILL' && entry.exit.code !== 0),
      'no node failed',
    ).toEqual([])
  })
})
