import { describe, expect, it } from 'vitest'
import { api } from './edgeCluster.ts'
import { openViewer } from './viewerSocket.ts'

describe('WebSockets through the Worker to a region object', () => {
  it("serve the events feed: a snapshot first, then the replica's events as they happen", async () => {
    const { socket, next } = await openViewer('enam')
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
