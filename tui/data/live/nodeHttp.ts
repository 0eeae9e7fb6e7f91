/**
 * The few HTTP calls the TUI makes to a node besides its event feed: a fresh
 * snapshot, a key's value, the dev fault switch. Errors carry the API's own
 * message (`{ error: { code, message } }`) or the network's.
 */
export const nodeHttpLimits = {
  /** A call that takes longer is given up (the UI says so; the feed goes on). */
  timeoutMs: 5_000,
} as const

export type Fetch = (input: string, init?: RequestInit) => Promise<Response>

export interface NodeHttp {
  readonly url: string
  readonly token: string | null
  readonly fetch?: Fetch
}

export class NodeHttpError extends Error {
  override readonly name = 'NodeHttpError'
  readonly status: number | null
  readonly code: string

  constructor(message: string, status: number | null, code: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

/** `http://host:port` → `ws://host:port/v1/events?since=…` (https → wss). */
export function eventsUrl(url: string, since: { readonly epoch: string; readonly seq: number } | null): string {
  const base = new URL('/v1/events', url)
  base.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:'
  if (since !== null) base.searchParams.set('since', `${since.epoch}:${since.seq}`)
  return base.toString()
}

export function authHeaders(token: string | null): Record<string, string> {
  return token === null ? {} : { authorization: `Bearer ${token}` }
}

export async function requestJson(node: NodeHttp, method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  const fetchImpl = node.fetch ?? fetch
  let response: Response
  try {
    response = await fetchImpl(new URL(path, node.url).toString(), {
      method,
      headers: { ...authHeaders(node.token), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(nodeHttpLimits.timeoutMs),
    })
  } catch (error) {
    throw new NodeHttpError(`${method} ${path} on ${node.url}: ${(error as Error).message}`, null, 'network')
  }
  const text = await response.text()
  let parsed: unknown = null
  try {
    parsed = text === '' ? null : JSON.parse(text)
  } catch {
    // Not JSON: reported below by status.
  }
  if (!response.ok) {
    const error = (parsed as { error?: { code?: unknown; message?: unknown } } | null)?.error
    const code = typeof error?.code === 'string' ? error.code : `http${response.status}`
    const message = typeof error?.message === 'string' ? error.message : text.slice(0, 200)
    throw new NodeHttpError(`${method} ${path} on ${node.url}: ${response.status} ${code}: ${message}`, response.status, code)
  }
  return parsed
}
