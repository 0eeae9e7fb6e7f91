/** A viewer of a region's /v1/events through the Worker: the socket and a queue of its JSON messages. */
import { exports } from 'cloudflare:workers'
import { expect } from 'vitest'

export interface Viewer {
  readonly socket: WebSocket
  /** The first waiting message `match` accepts (the ones before it are dropped); waits for it. */
  next(match: (message: any) => boolean): Promise<any>
  /** The close the socket saw, or null while it is open. */
  closed(): { readonly code: number; readonly reason: string } | null
}

export async function openViewer(regionId: string): Promise<Viewer> {
  const response = await exports.default.fetch(`https://edge.test/v1/events?region=${regionId}`, { headers: { upgrade: 'websocket' } })
  expect(response.status).toBe(101)
  const socket = response.webSocket!
  const messages: any[] = []
  const waiting: (() => void)[] = []
  let close: { code: number; reason: string } | null = null
  socket.addEventListener('message', (event) => {
    messages.push(JSON.parse(event.data as string))
    for (const wake of waiting.splice(0)) wake()
  })
  socket.addEventListener('close', (event) => {
    close = { code: event.code, reason: event.reason }
    for (const wake of waiting.splice(0)) wake()
  })
  socket.accept()
  const next = async (match: (message: any) => boolean): Promise<any> => {
    for (;;) {
      const found = messages.findIndex(match)
      if (found >= 0) return messages.splice(0, found + 1).at(-1)
      if (close !== null) throw new Error(`the viewer's socket closed (${close.code} ${close.reason}) before the message came`)
      await new Promise<void>((resolve) => waiting.push(resolve))
    }
  }
  return { socket, next, closed: () => close }
}
