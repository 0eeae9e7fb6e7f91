import { describe, expect, it } from 'vitest'
import { drainableApp } from '../../node/main.ts'
import { apiOf } from '../support/apiHarness.ts'
import { hostedCluster, hostedNodePolicies } from '../support/hostedCluster.ts'

/**
 * `dwcp node` puts the API behind a gate that refuses new requests while the
 * node drains (node/main.ts drainableApp). The API's own answers must come
 * through it unchanged: its JSON 404 for an unknown route, not Hono's text.
 */
describe('dwcp node: the API behind the draining gate', () => {
  it('answers an unknown route with the API contract error, and new requests while draining with 503 shuttingDown', async () => {
    const cluster = hostedCluster(51, hostedNodePolicies)
    let draining = false
    const app = drainableApp(apiOf(cluster.nodes[0]!), 'n1', () => draining)

    const unknown = await app.request('/v1/nowhere')
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toEqual({ error: { code: 'unknownRoute', message: 'no route GET /v1/nowhere' } })
    const status = await app.request('/v1/status')
    expect(status.status).toBe(200)
    expect(await status.json()).toMatchObject({ node: 'n1' })
    const metrics = await (await app.request('/metrics')).text()
    expect(metrics).toMatch(/dwcp_http_responses_total\{route="unmatched",method="GET",status="404"\} 1/)

    draining = true
    const refused = await app.request('/v1/status')
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toBe('1')
    expect(await refused.json()).toEqual({ error: { code: 'shuttingDown', message: 'n1 is shutting down; ask another node' } })
  })
})
