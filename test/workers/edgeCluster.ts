/** Helpers of the workerd tests: the API of one region through the Worker, and waiting for the cluster. */
import { env, exports } from 'cloudflare:workers'
import { readEdgeCluster } from '../../durable-objects/edgeCluster.ts'

export const cluster = readEdgeCluster(env)
export const regionIds = cluster.regions.map((region) => region.id)

export function regionStub(regionId: string) {
  const region = cluster.regions.find((candidate) => candidate.id === regionId)!
  return env.REGION.get(env.REGION.idFromName(region.objectName), { locationHint: region.locationHint })
}

export interface Answer {
  readonly status: number
  readonly body: any
  readonly region: string | null
}

/** One API request through the Worker, to `regionId`. */
export async function api(regionId: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const response = await exports.default.fetch(`https://edge.test${path}`, {
    method,
    headers: { 'x-dwcp-region': regionId, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  return { status: response.status, body: await response.json(), region: response.headers.get('x-dwcp-region') }
}

/** Polls `probe` until it returns a value other than undefined; fails with `what` after `timeoutMs`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown = null
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last === null ? '' : ` (last error: ${String(last)})`}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Waits until every region names the same Raft leader; returns its member id. */
export async function leaderElected(): Promise<string> {
  return eventually('one Raft leader known to every region', async () => {
    const statuses = await Promise.all(regionIds.map((id) => api(id, 'GET', '/v1/status')))
    const leaders = new Set(statuses.map((status) => status.body.leader))
    const [leader] = leaders
    return leaders.size === 1 && typeof leader === 'string' ? leader : undefined
  })
}
