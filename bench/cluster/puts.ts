/**
 * Puts through the HTTP API of a node cluster, as the etcd anchor does them:
 * `PUT /v1/kv/:key?consistency=…` with a 256-byte value, over Node's
 * keep-alive fetch, client `c` talking to node `c mod n` (followers forward
 * strong writes to the leader, as etcd's do). Keys cycle over a bounded set
 * per client, the same names the anchor writes.
 *
 * A 503 (no leader, leadership moving, PBFT's one request in flight per node,
 * overloaded) is retried as a client would, after a backoff that doubles
 * from retryDelayMsMin to retryDelayMsMax; a put's latency runs from its
 * first attempt, and the retries are counted beside the figures.
 */
import type { Consistency } from '../../core/replica/policy.ts'
import { closedLoop, type ClosedLoopResult } from '../closedLoop.ts'

export const putLimits = {
  /** Keys each client cycles over: state stays bounded however long a case runs. */
  keysPerClient: 16,
  /** A first put at each level must succeed within this (PBFT and the Raft leader settle). */
  settleTimeoutMs: 30_000,
  /** Pause between two settle attempts. */
  settlePollMs: 200,
  /** Backoff before retrying a 503: the first, doubling to the last. */
  retryDelayMsMin: 5,
  retryDelayMsMax: 200,
  /** Attempts of one put before it counts as an error. */
  attemptsMax: 50,
} as const

export const valueBytes = 256
/** The value every put writes: `valueBytes` ASCII bytes. */
export const benchValue = 'v'.repeat(valueBytes)

/** The key client `client` writes in its `index`th put (etcd gets the same names). */
export function benchKey(namespace: string, client: number, index: number): string {
  return `${namespace}/c${client}-${index % putLimits.keysPerClient}`
}

class PutError extends Error {
  readonly status: number

  constructor(message: string, status: number) {
    super(message)
    this.status = status
  }
}

/** One put; rejects with the node's error on anything but 200. */
export async function putOnce(url: string, key: string, consistency: Consistency): Promise<void> {
  const response = await fetch(`${url}/v1/kv/${key}?consistency=${consistency}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ value: benchValue }),
  })
  const text = await response.text()
  if (response.status !== 200) throw new PutError(`PUT ${key} (${consistency}) on ${url}: ${response.status} ${text.slice(0, 200)}`, response.status)
}

/** One put, retried on 503 after a doubling backoff; `retried` counts each retry. */
export async function putRetrying(url: string, key: string, consistency: Consistency, retried: () => void): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await putOnce(url, key, consistency)
    } catch (error) {
      if (!(error instanceof PutError) || error.status !== 503 || attempt >= putLimits.attemptsMax) throw error
    }
    retried()
    const delayMs = Math.min(putLimits.retryDelayMsMax, putLimits.retryDelayMsMin * 2 ** (attempt - 1))
    await new Promise((resolve) => setTimeout(resolve, delayMs * (0.5 + Math.random() / 2)))
  }
}

/** Puts once through every node until all succeed: the level is ready to measure. */
export async function settle(urls: readonly string[], namespace: string, consistency: Consistency): Promise<void> {
  const deadline = performance.now() + putLimits.settleTimeoutMs
  for (;;) {
    try {
      for (const url of urls) await putOnce(url, `${namespace}/settle`, consistency)
      return
    } catch (error) {
      if (performance.now() > deadline) throw new Error(`${consistency} puts did not succeed within ${putLimits.settleTimeoutMs} ms: ${(error as Error).message}`)
      await new Promise((resolve) => setTimeout(resolve, putLimits.settlePollMs))
    }
  }
}

export interface PutLoad {
  readonly clients: number
  readonly durationMs: number
  readonly warmupMs: number
}

/** A closed loop of `clients` putters spread over `urls`. */
export async function putLoop(urls: readonly string[], namespace: string, consistency: Consistency, load: PutLoad): Promise<ClosedLoopResult & { readonly retries: number }> {
  let retries = 0
  const result = await closedLoop({
    ...load,
    operation: (client, index) => putRetrying(urls[client % urls.length]!, benchKey(namespace, client, index), consistency, () => retries++),
  })
  return { ...result, retries }
}
