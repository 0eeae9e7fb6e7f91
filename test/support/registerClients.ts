/**
 * Concurrent register clients of a Jepsen-style test: each client loops,
 * picking a key and a node at random, doing a put (a value never written
 * before) or a get at one consistency level, and records every operation in
 * a HistoryRecorder: `invoke` before the request leaves, then
 *
 *   ok    the API answered 2xx (a read's value; 404 notFound reads null),
 *   fail  a 4xx: the API refused the request before accepting it, so it
 *         certainly did not happen,
 *   info  anything else (504 timeout, 503, 5xx, a connection error, our own
 *         timeout): it may have happened, at any time after its invoke.
 *
 * As in Jepsen, a client whose operation ended `info` continues as a new
 * process (its number plus the client count): the old one may still be
 * acting, so nothing it does later can be ordered after the lost operation.
 */
import { Rng } from '../../core/lib/prng.ts'
import { apiCall, describeOutcome, errorCodeOf, type ApiAnswer } from './apiCall.ts'
import type { HistoryRecorder } from './historyRecorder.ts'

export const registerClientLimits = {
  /** A client's own bound on one request: above the replica's requestTimeoutMs (3 s), so its 504 normally comes first. */
  requestTimeoutMs: 5_000,
  /** Operations of one client in one run (keeps each key's history small enough for the checker). */
  opsPerClientMax: 2_000,
} as const

export type RegisterConsistency = 'strong' | 'byzantine' | 'eventual' | 'auto'

export interface RegisterClientsOptions {
  /** The nodes' base URLs; a client picks one at random for each operation (down ones included: that is a connection error). */
  readonly targets: readonly string[]
  readonly token: string | null
  readonly keys: readonly string[]
  readonly clients: number
  /** The clients stop after this, or when `signal` aborts, whichever comes first. */
  readonly durationMs: number
  readonly signal?: AbortSignal
  readonly seed: number
  readonly history: HistoryRecorder
  readonly consistency?: RegisterConsistency
  /** Share of reads among operations (default 0.5). */
  readonly readShare?: number
  /** A random pause of up to this many ms between two operations of a client (default 20). */
  readonly thinkMsMax?: number
  readonly requestTimeoutMs?: number
  readonly opsPerClientMax?: number
}

export interface RegisterClientsTally {
  readonly invoked: number
  readonly ok: number
  readonly fail: number
  readonly info: number
  /** How the non-ok ones ended: `503 noLeader`, `504 timeout`, `ECONNREFUSED`…, with counts. */
  readonly outcomes: Readonly<Record<string, number>>
}

type Outcome = { readonly type: 'ok'; readonly value: string | null } | { readonly type: 'fail' | 'info'; readonly why: string }

/** One put or get at `url`, classified as the history needs it. */
export async function registerOperation(url: string, f: 'read' | 'write', key: string, value: string | null, options: { token: string | null; consistency: RegisterConsistency; timeoutMs: number }): Promise<Outcome> {
  const path = `/v1/kv/${key}?consistency=${options.consistency}`
  let answer: ApiAnswer
  try {
    answer = f === 'write' ? await apiCall(url, 'PUT', path, { token: options.token, json: { value }, timeoutMs: options.timeoutMs }) : await apiCall(url, 'GET', path, { token: options.token, timeoutMs: options.timeoutMs })
  } catch (error) {
    return { type: 'info', why: describeOutcome(error) }
  }
  if (answer.status === 200) {
    if (f === 'write') return { type: 'ok', value }
    const read = (answer.body as { value?: unknown } | undefined)?.value
    if (typeof read !== 'string') return { type: 'info', why: `200 with a value that is not a string: ${answer.text.slice(0, 120)}` }
    return { type: 'ok', value: read }
  }
  if (f === 'read' && answer.status === 404 && errorCodeOf(answer) === 'notFound') return { type: 'ok', value: null }
  return { type: answer.status >= 400 && answer.status < 500 ? 'fail' : 'info', why: describeOutcome(answer) }
}

/** Runs the clients for `durationMs` (each also stops at opsPerClientMax); resolves when every client's last operation ended. */
export async function runRegisterClients(options: RegisterClientsOptions): Promise<RegisterClientsTally> {
  const consistency = options.consistency ?? 'strong'
  const readShare = options.readShare ?? 0.5
  const thinkMsMax = options.thinkMsMax ?? 20
  const timeoutMs = options.requestTimeoutMs ?? registerClientLimits.requestTimeoutMs
  const opsMax = options.opsPerClientMax ?? registerClientLimits.opsPerClientMax
  const tally = { invoked: 0, ok: 0, fail: 0, info: 0, outcomes: {} as Record<string, number> }
  const endAt = performance.now() + options.durationMs
  const root = Rng.fromSeed(options.seed)

  const client = async (index: number): Promise<void> => {
    const rng = root.split(index)
    let process = index
    for (let op = 0; op < opsMax && performance.now() < endAt && options.signal?.aborted !== true; op++) {
      const key = options.keys[rng.int(options.keys.length)]!
      const url = options.targets[rng.int(options.targets.length)]!
      const f = rng.chance(readShare) ? 'read' : 'write'
      const value = f === 'write' ? `p${process}-${op}` : null
      options.history.record({ process, type: 'invoke', f, key, value })
      tally.invoked++
      const outcome = await registerOperation(url, f, key, value, { token: options.token, consistency, timeoutMs })
      options.history.record({ process, type: outcome.type, f, key, value: outcome.type === 'ok' ? outcome.value : value })
      tally[outcome.type]++
      if (outcome.type !== 'ok') tally.outcomes[outcome.why] = (tally.outcomes[outcome.why] ?? 0) + 1
      if (outcome.type === 'info') process += options.clients
      if (thinkMsMax > 0) await new Promise((resolve) => setTimeout(resolve, rng.int(thinkMsMax + 1)))
    }
  }
  await Promise.all(Array.from({ length: options.clients }, (_, index) => client(index)))
  return tally
}

/**
 * After the faults: one read of each key by a fresh process, retried (as new
 * operations) until it answers, so the history ends with what the cluster
 * finally holds: a write acknowledged and then lost shows up here.
 */
export async function finalRegisterReads(options: {
  targets: readonly string[]
  token: string | null
  keys: readonly string[]
  history: HistoryRecorder
  process: number
  consistency?: RegisterConsistency
  deadlineMs: number
}): Promise<Map<string, string | null>> {
  const consistency = options.consistency ?? 'strong'
  const values = new Map<string, string | null>()
  const deadline = performance.now() + options.deadlineMs
  let process = options.process
  for (const key of options.keys) {
    const tried: string[] = []
    for (let attempt = 0; ; attempt++) {
      const url = options.targets[attempt % options.targets.length]!
      options.history.record({ process, type: 'invoke', f: 'read', key, value: null })
      const outcome = await registerOperation(url, 'read', key, null, { token: options.token, consistency, timeoutMs: registerClientLimits.requestTimeoutMs })
      options.history.record({ process, type: outcome.type, f: 'read', key, value: outcome.type === 'ok' ? outcome.value : null })
      if (outcome.type === 'ok') {
        values.set(key, outcome.value)
        break
      }
      process++
      tried.push(`${url}: ${outcome.why}`)
      if (performance.now() > deadline) throw new Error(`final read of ${key}: no answer within ${options.deadlineMs} ms (${tried.slice(-4).join('; ')})`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  return values
}
