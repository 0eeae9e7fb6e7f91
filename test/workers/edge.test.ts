import { exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'

describe('edge worker in workerd', () => {
  it('names its protocol version', async () => {
    const response = await exports.default.fetch('https://edge.test/v1/version')
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ name: 'dwcp', protocolVersion: 1 })
  })

  it('answers paths outside the API with a JSON 404 in the API error shape', async () => {
    const response = await exports.default.fetch('https://edge.test/nope')
    expect(response.status).toBe(404)
    expect(response.headers.get('content-type')).toContain('application/json')
    expect(await response.json()).toEqual({ error: { code: 'unknownRoute', message: 'no route GET /nope' } })
  })
})
