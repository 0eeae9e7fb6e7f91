/**
 * Real `dwcp node` processes: a 4-node cluster (Raft over all four, the PBFT
 * group n1..n4) takes writes at every consistency level from concurrent
 * writers; while writes are still in flight, every node is killed with
 * kill -9 at once; the same cluster restarts from its data dirs and every
 * acknowledged write is still there: strong and byzantine writes read back
 * at those levels, auto writes and eventual counters, sets and map fields on
 * every node once they have converged.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { apiCall, callUntilOk, describeOutcome, type ApiAnswer } from '../support/apiCall.ts'
import { ProcessCluster } from '../support/processCluster.ts'

const limits = {
  /** Acknowledged writes each writer gathers before the crash. */
  ackedPerWriter: 8,
  /** Bound on gathering them. */
  writePhaseMs: 60_000,
  /** Reads after the restart: retried until this bound (elections, catch-up, convergence). */
  readBackMs: 45_000,
  /** One write; an unanswered one is simply not acknowledged. */
  writeTimeoutMs: 5_000,
} as const

let cluster: ProcessCluster | null = null
afterAll(async () => cluster?.close())

interface Writer {
  readonly name: string
  /** Writes number `index` through node `url`; resolves with the answer. */
  readonly write: (url: string, index: number) => Promise<ApiAnswer>
  readonly acked: number[]
  readonly attempted: number[]
  readonly failures: string[]
}

describe('kill -9 of every node, then a restart, with real processes', () => {
  it('keeps every acknowledged strong, byzantine, auto and eventual write', { timeout: 240_000 }, async () => {
    cluster = await ProcessCluster.start({ nodes: 4 })
    const c = cluster
    expect(c.layout.cluster.pbft).toEqual(['n1', 'n2', 'n3', 'n4'])
    const token = c.token
    const put = (url: string, key: string, value: string, consistency: string) => apiCall(url, 'PUT', `/v1/kv/${key}?consistency=${consistency}`, { token, json: { value }, timeoutMs: limits.writeTimeoutMs })
    const crdt = (url: string, key: string, op: object) => apiCall(url, 'POST', `/v1/crdt/${key}`, { token, json: op, timeoutMs: limits.writeTimeoutMs })
    const writer = (name: string, write: Writer['write']): Writer => ({ name, write, acked: [], attempted: [], failures: [] })
    const writers = [
      writer('strong', (url, index) => put(url, `cfg/s-${index}`, `strong-${index}`, 'strong')),
      writer('byzantine', (url, index) => put(url, `bft/b-${index}`, `byzantine-${index}`, 'byzantine')),
      writer('auto', (url, index) => put(url, `edge/a-${index}`, `auto-${index}`, 'auto')),
      writer('counter', (url) => crdt(url, 'cnt/hits', { op: 'inc', by: 1 })),
      writer('set', (url, index) => crdt(url, 'set/seen', { op: 'add', element: `e-${index}` })),
      writer('map', (url, index) => crdt(url, 'map/m', { op: 'put', path: [`f-${index}`], value: `m-${index}` })),
    ]

    // Each writer writes one at a time, through the nodes in turn, until the crash stops it.
    let crashed = false
    const run = async (w: Writer) => {
      for (let index = 0; !crashed; index++) {
        const url = c.url(c.ids[index % c.ids.length]!)
        w.attempted.push(index)
        let outcome: ApiAnswer | unknown
        try {
          outcome = await w.write(url, index)
        } catch (error) {
          outcome = error
        }
        // Acknowledged only when the answer came before the crash began.
        if (!crashed && (outcome as ApiAnswer).status === 200) w.acked.push(index)
        else if (!crashed) w.failures.push(`${index} at ${url}: ${describeOutcome(outcome)}`)
      }
    }
    const running = writers.map(run)
    const deadline = performance.now() + limits.writePhaseMs
    while (writers.some((w) => w.acked.length < limits.ackedPerWriter)) {
      if (performance.now() > deadline) {
        crashed = true
        throw new Error(
          `writers did not gather ${limits.ackedPerWriter} acknowledged writes within ${limits.writePhaseMs} ms: ${writers.map((w) => `${w.name} ${w.acked.length} (last failures: ${w.failures.slice(-3).join('; ')})`).join(', ')}`,
        )
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    // The crash, with writes in flight.
    crashed = true
    await c.killAll()
    await Promise.all(running)
    expect(c.runningIds()).toEqual([])

    for (const id of c.ids) c.spawn(id)
    await c.waitReady()
    const everyNode = c.ids.map((id) => c.url(id))
    const readUntil = (what: string, urls: readonly string[], path: string, check: (body: unknown) => boolean) =>
      Promise.all(
        urls.map((url) =>
          callUntilOk(
            what,
            () => [url],
            async (at) => {
              const answer = await apiCall(at, 'GET', path, { token })
              // Not there yet (404, or a value still converging): asked again, as a 503 would be.
              return answer.status === 404 || (answer.status === 200 && !check(answer.body)) ? { ...answer, status: 503 } : answer
            },
            limits.readBackMs,
          ),
        ),
      )

    /** Reads `path` on every node until all answer the same value and `check` holds of it; resolves with it. */
    const converged = async (what: string, path: string, check: (value: unknown) => boolean): Promise<unknown> => {
      const deadline = performance.now() + limits.readBackMs
      for (;;) {
        const answers = await Promise.all(everyNode.map((url) => apiCall(url, 'GET', path, { token }).catch((error: unknown) => error)))
        const values = answers.map((answer) => ((answer as ApiAnswer).status === 200 ? (answer as ApiAnswer & { body: { value: unknown } }).body.value : undefined))
        const seen = answers.map((answer, index) => (values[index] !== undefined ? JSON.stringify(values[index]) : describeOutcome(answer)))
        if (values.every((value) => value !== undefined) && new Set(seen).size === 1 && check(values[0])) return values[0]
        if (performance.now() > deadline) throw new Error(`${what}: the nodes did not converge on a value holding every acknowledged write within ${limits.readBackMs} ms: ${c.ids.map((id, index) => `${id}: ${seen[index]}`).join(', ')}`)
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    }

    const [strong, byzantine, auto, counter, set, map] = writers
    // Strong and byzantine: read at their own level (linearizable / ordered by PBFT); auto: local reads once converged; at every node.
    await Promise.all([
      ...strong!.acked.map((index) => readUntil(`strong cfg/s-${index}`, everyNode, `/v1/kv/cfg/s-${index}?consistency=strong`, (body) => (body as { value: unknown }).value === `strong-${index}`)),
      ...byzantine!.acked.map((index) => readUntil(`byzantine bft/b-${index}`, everyNode, `/v1/kv/bft/b-${index}?consistency=byzantine`, (body) => (body as { value: unknown }).value === `byzantine-${index}`)),
      ...auto!.acked.map((index) => readUntil(`auto edge/a-${index}`, everyNode, `/v1/kv/edge/a-${index}?consistency=auto`, (body) => (body as { value: unknown }).value === `auto-${index}`)),
    ])
    // Eventual: every node converges to the same value, holding every acknowledged write (and nothing never attempted).
    const hits = await converged('counter cnt/hits', '/v1/kv/cnt/hits?consistency=eventual', (value) => (value as number) >= counter!.acked.length && (value as number) <= counter!.attempted.length)
    expect(hits).toBeGreaterThanOrEqual(counter!.acked.length)
    const seen = await converged('set set/seen', '/v1/kv/set/seen?consistency=eventual', (value) => set!.acked.every((index) => (value as string[]).includes(`e-${index}`)))
    expect((seen as string[]).every((element) => set!.attempted.includes(Number(element.slice(2))))).toBe(true)
    await converged('map map/m', '/v1/kv/map/m?consistency=eventual', (value) => map!.acked.every((index) => (value as Record<string, string[]>)[`f-${index}`]?.[0] === `m-${index}`))
    expect(
      c.exits.filter((entry) => entry.exit.signal !== 'SIGKILL'),
      'no node exited on its own',
    ).toEqual([])
  })
})
