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

/**
 * `path` on the node at `url`, keeping the url's own query (an edge worker's `?region=eu` names the
 * region object that answers).
 */
export function apiUrl(url: string, path: string): URL {
  const base = new URL(url)
  const target = new URL(path, base)
  for (const [name, value] of base.searchParams) if (!target.searchParams.has(name)) target.searchParams.set(name, value)
  return target
}

/** `http://host:port` → `ws://host:port/v1/events?since=…` (https → wss). */
export function eventsUrl(url: string, since: { readonly epoch: string; readonly seq: number } | null): string {
  const target = apiUrl(url, '/v1/events')
  target.protocol = target.protocol === 'https:' ? 'wss:' : 'ws:'
  if (since !== null) target.searchParams.set('since', `${since.epoch}:${since.seq}`)
  return target.toString()
}

export function authHeaders(token: string | null): Record<string, string> {
  return token === null ? {} : { authorization: `Bearer ${token}` }
}

export async function requestJson(node: NodeHttp, method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  const fetchImpl = node.fetch ?? fetch
  let response: Response
  try {
    response = await fetchImpl(apiUrl(node.url, path).toString(), {
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
