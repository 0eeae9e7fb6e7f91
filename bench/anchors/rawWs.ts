/**
 * The transport anchor: raw `ws` one-way throughput on loopback. A client
 * sends binary messages of `messageBytes` as fast as the socket takes them
 * (holding back while more than `bufferedBytesMax` wait in its buffer) for
 * `durationMs`; the server counts what arrives. Messages/s at the receiver.
 */
import { WebSocket, WebSocketServer } from 'ws'

export interface OneWayResult {
  readonly messagesPerSecond: number
  readonly bytesPerSecond: number
  readonly messages: number
}

/** Bytes the sender lets wait in its socket buffer before it yields: keeps the pipe full without unbounded memory. */
const bufferedBytesMax = 4 * 1024 * 1024

export async function rawWsOneWay(messageBytes: number, durationMs: number): Promise<OneWayResult> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  const port = (server.address() as { port: number }).port
  let received = 0
  let firstAt = 0
  let lastAt = 0
  server.on('connection', (socket) => {
    socket.on('message', () => {
      if (received === 0) firstAt = performance.now()
      received++
      lastAt = performance.now()
    })
  })
  const client = new WebSocket(`ws://127.0.0.1:${port}`)
  await new Promise<void>((resolve, reject) => {
    client.once('open', () => resolve())
    client.once('error', reject)
  })
  const payload = new Uint8Array(messageBytes).fill(7)
  const endAt = performance.now() + durationMs
  while (performance.now() < endAt) {
    while (client.bufferedAmount < bufferedBytesMax && performance.now() < endAt) {
      for (let index = 0; index < 64; index++) client.send(payload)
    }
    await new Promise((resolve) => setImmediate(resolve))
  }
  // Let the receiver drain what is in flight, then stop.
  const drainUntil = performance.now() + 2_000
  while (client.bufferedAmount > 0 && performance.now() < drainUntil) await new Promise((resolve) => setTimeout(resolve, 10))
  await new Promise((resolve) => setTimeout(resolve, 50))
  client.terminate()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  const seconds = Math.max(1e-3, (lastAt - firstAt) / 1000)
  return { messagesPerSecond: Math.round(received / seconds), bytesPerSecond: Math.round((received * messageBytes) / seconds), messages: received }
}
