/**
 * The edge Worker entry. It answers /v1/version itself; every other API
 * request (/v1/..., /metrics) goes to a region object, which serves the API
 * over its replica: the region the request names (`x-dwcp-region` header or
 * `?region=`), else the configured region nearest to the client
 * (nearestRegion.ts). The answer carries `x-dwcp-region`: the region that
 * served it. Errors are JSON in the API's shape. Bearer tokens (secrets
 * DWCP_TOKEN, DWCP_VIEWER_TOKEN) are checked by the API app in the region
 * object, which shares the Worker's env: one place checks them.
 *
 * The region objects (durable-objects/) are exported from here, as the
 * runtime wants them on the Worker's main module.
 */
import { Hono, type Context } from 'hono'
import { regionHeader } from '../api/contract.ts'
import { protocolVersion } from '../core/index.ts'
import { EdgeConfigError, readEdgeCluster, type EdgeCluster } from '../durable-objects/edgeCluster.ts'
import { edgeTimingsMs } from '../durable-objects/edgeReplicaConfig.ts'
import type { EdgeEnv } from '../durable-objects/regionObject.ts'
import { edgeError } from './errors.ts'
import { chooseRegion, type ClientPlace } from './nearestRegion.ts'

// The main module exports handlers and Durable Object classes only: workerd refuses any other export.
export { RegionObject } from '../durable-objects/regionObject.ts'

export const app = new Hono<{ Bindings: EdgeEnv }>()

app.get('/v1/version', (c) => c.json({ name: 'dwcp', protocolVersion }))

app.get('/v1/edge/wakes', (c) => wakes(c))
app.all('/v1/*', (c) => toRegion(c))
app.get('/metrics', (c) => toRegion(c))

app.notFound((c) => edgeError(c, 'unknownRoute', `no route ${c.req.method} ${new URL(c.req.url).pathname}`))

app.onError((error, c) => {
  // The message of an unexpected error may hold internals: log it, answer generically.
  console.error('dwcp edge: unhandled error', error)
  return edgeError(c, 'internal', 'internal error')
})

export default app

/** The cluster the Worker's vars describe, or the JSON error that names what is wrong with them. */
function clusterOrError(c: Context<{ Bindings: EdgeEnv }>): EdgeCluster | Response {
  try {
    return clusterOf(c.env)
  } catch (error) {
    if (error instanceof EdgeConfigError) return edgeError(c, 'misconfigured', `the edge cluster is misconfigured: ${error.message}`)
    throw error
  }
}

async function toRegion(c: Context<{ Bindings: EdgeEnv }>): Promise<Response> {
  const cluster = clusterOrError(c)
  if (cluster instanceof Response) return cluster
  const request = c.req.raw
  const choice = chooseRegion(cluster.regions, { header: request.headers.get(regionHeader), query: c.req.query('region') ?? null }, request.cf as ClientPlace | undefined)
  if (choice.kind === 'unknown') return edgeError(c, 'unknownRegion', `no region ${choice.asked}; regions: ${cluster.regions.map((region) => region.id).join(', ')}`)
  const { region } = choice
  const stub = c.env.REGION.get(c.env.REGION.idFromName(region.objectName), { locationHint: region.locationHint })
  const response = await stub.fetch(request)
  // A WebSocket answer goes back as it is (its headers are the handshake's).
  if (response.status === 101) return response
  const answered = new Response(response.body, response)
  answered.headers.set(regionHeader, region.id)
  return answered
}

/**
 * GET /v1/edge/wakes: every region object's wake counters (alarms run, peer
 * deliveries taken, peer messages stepped, ticks) for `dwcp bench edge` and
 * operators. A reader's route: with tokens set, either one is needed.
 */
async function wakes(c: Context<{ Bindings: EdgeEnv }>): Promise<Response> {
  const tokens = [c.env.DWCP_TOKEN, c.env.DWCP_VIEWER_TOKEN].filter((token): token is string => token !== undefined && token !== '')
  if (tokens.length > 0 && !tokens.some((token) => c.req.header('authorization') === `Bearer ${token}`)) return edgeError(c, 'unauthorized', 'a bearer token is needed')
  const cluster = clusterOrError(c)
  if (cluster instanceof Response) return cluster
  const counters = await Promise.all(cluster.regions.map(async (region) => ({ region: region.id, ...(await c.env.REGION.get(c.env.REGION.idFromName(region.objectName), { locationHint: region.locationHint }).wakeCounters()) })))
  return c.json({ probeIntervalMs: edgeTimingsMs.probeInterval, regions: counters })
}

/** The cluster of the vars, read once per isolate (vars change only with a deploy, which starts new isolates). */
let cached: { readonly key: string; readonly cluster: EdgeCluster } | null = null

function clusterOf(env: EdgeEnv): EdgeCluster {
  const key = `${env.DWCP_CLUSTER_ID ?? ''}\u0000${env.REGIONS ?? ''}`
  if (cached === null || cached.key !== key) cached = { key, cluster: readEdgeCluster(env) }
  return cached.cluster
}
