import { exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { api } from './edgeCluster.ts'

/** Opens /v1/events of `regionId` through the Worker; resolves with the socket and a queue of its JSON messages. */
async function openEvents(regionId: string) {
  const response = await exports.default.fetch(`https://edge.test/v1/events?region=${regionId}`, { headers: { upgrade: 'websocket' } })
  expect(response.status).toBe(101)
  const socket = response.webSocket!
  const messages: any[] = []
  const waiting: (() => void)[] = []
  socket.addEventListener('message', (event) => {
    messages.push(JSON.parse(event.data as string))
    for (const wake of waiting.splice(0)) wake()
  })
  socket.accept()
  const next = async (match: (message: any) => boolean): Promise<any> => {
    for (;;) {
      const found = messages.findIndex(match)
      if (found >= 0) return messages.splice(0, found + 1).at(-1)
      await new Promise<void>((resolve) => waiting.push(resolve))
    }
  }
  return { socket, next }
}

describe('WebSockets through the Worker to a region object', () => {
  it("serve the events feed: a snapshot first, then the replica's events as they happen", async () => {
    const { socket, next } = await openEvents('enam')
    const first = await next(() => true)
    expect(first.kind).toBe('snapshot')
    expect(first.snapshot.node.id).toBe('region-enam')
    await api('enam', 'POST', '/v1/crdt/cnt/feed', { op: 'inc' })
    const event = await next((message) => message.kind === 'event')
    expect(typeof event.seq).toBe('number')
    socket.close(1000, 'done')
  })

  it("answer a plain GET on a WebSocket route with the API's 426", async () => {
    const answer = await api('enam', 'GET', '/v1/events')
    expect(answer.status).toBe(426)
    expect(answer.body.error.code).toBe('upgradeRequired')
  })
})
