/**
 * What the API needs of a WebSocket (Hono's WSContext on any runtime), and
 * the close codes it uses: 4000 + the HTTP status of the error, the
 * convention y-websocket follows (4400-4499: a deliberate refusal that
 * reconnecting cannot fix; others, 4503 among them, are worth a retry).
 */
import { apiLimits } from './contract.ts'
import type { ErrorStatus } from './errors.ts'

export interface ApiSocket {
  send(data: string | Uint8Array<ArrayBuffer>): void
  close(code?: number, reason?: string): void
  readonly readyState: number
  /** The runtime's socket (ws on Node): read only for its `bufferedAmount`, where it has one. */
  readonly raw?: unknown
}

const open = 1
/** RFC 6455: a close reason is at most 123 bytes of UTF-8. */
const closeReasonBytesMax = 123

export function closeCodeOf(status: ErrorStatus): number {
  return 4000 + status
}

/** Bytes the runtime still holds to send on `socket` (0 where it does not tell). */
export function bufferedBytesOf(socket: ApiSocket): number {
  const raw = socket.raw as { readonly bufferedAmount?: unknown } | null | undefined
  return typeof raw?.bufferedAmount === 'number' ? raw.bufferedAmount : 0
}

/**
 * Sends unless the socket is closed; closes a socket whose unsent bytes are
 * over socketBufferedBytesMax (a client that does not read must not grow the
 * node's memory). False when nothing was sent.
 */
export function sendOrDrop(socket: ApiSocket, data: string | Uint8Array<ArrayBuffer>): boolean {
  if (socket.readyState !== open) return false
  if (bufferedBytesOf(socket) > apiLimits.socketBufferedBytesMax) {
    closeSocket(socket, closeCodeOf(503), `more than socketBufferedBytesMax=${apiLimits.socketBufferedBytesMax} bytes wait unsent`)
    return false
  }
  try {
    socket.send(data)
    return true
  } catch {
    return false
  }
}

export function closeSocket(socket: ApiSocket, code: number, reason: string): void {
  const encoder = new TextEncoder()
  let text = reason
  while (encoder.encode(text).length > closeReasonBytesMax) text = text.slice(0, -1)
  try {
    socket.close(code, text)
  } catch {
    // Closing a socket that is closing already: nothing more to do.
  }
}
