/**
 * A browser-like WebSocket (what y-websocket's `WebSocketPolyfill` takes)
 * over the Worker's own fetch: `ws://edge.test/...` becomes a fetch with
 * `Upgrade: websocket` to the Worker under test, whose 101 carries the socket.
 */
import { exports } from 'cloudflare:workers'

type Handler = ((event: any) => void) | null

export class WorkerSocket {
  static readonly CONNECTING = 0
  static readonly OPEN = 1
  static readonly CLOSING = 2
  static readonly CLOSED = 3
  readonly CONNECTING = 0
  readonly OPEN = 1
  readonly CLOSING = 2
  readonly CLOSED = 3
  binaryType = 'arraybuffer'
  readyState = 0
  onopen: Handler = null
  onmessage: Handler = null
  onclose: Handler = null
  onerror: Handler = null
  private socket: WebSocket | null = null

  constructor(url: string) {
    void exports.default.fetch(url.replace(/^ws/, 'http'), { headers: { upgrade: 'websocket' } }).then((response) => {
      const socket = response.webSocket
      if (socket === null) {
        this.readyState = WorkerSocket.CLOSED
        this.onclose?.({ code: 4000 + response.status, reason: `HTTP ${response.status}`, wasClean: false })
        return
      }
      socket.accept()
      this.socket = socket
      // y-websocket reads ArrayBuffers (it sets binaryType on its socket; this is that socket).
      socket.binaryType = 'arraybuffer'
      socket.addEventListener('message', (event) => this.onmessage?.({ data: event.data }))
      socket.addEventListener('close', (event) => {
        this.readyState = WorkerSocket.CLOSED
        this.onclose?.({ code: event.code, reason: event.reason, wasClean: event.wasClean })
      })
      socket.addEventListener('error', (event) => this.onerror?.(event))
      this.readyState = WorkerSocket.OPEN
      this.onopen?.({})
    })
  }

  send(data: ArrayBuffer | Uint8Array | string): void {
    this.socket?.send(data)
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState >= WorkerSocket.CLOSING) return
    this.readyState = WorkerSocket.CLOSING
    this.socket?.close(code, reason)
  }
}
