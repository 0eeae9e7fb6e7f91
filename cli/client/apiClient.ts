/**
 * The HTTP client of the DWCP API that the client commands share: bearer
 * token, a timeout on every request, and failover over the cluster's nodes
 * where that is safe (a node that refuses the connection never saw the
 * request, so the next one may take it; a timeout leaves a write's outcome
 * unknown, so it is reported, never retried). Redirects to the leader (307)
 * are followed here rather than by fetch, which drops the token on a
 * cross-origin redirect; a 421 naming the leader is retried there once.
 */
import type { z } from 'zod'
import { regionHeader } from '../../api/contract.ts'
import { exitCodes } from '../exitCodes.ts'

export const apiClientLimits = {
  /** Redirects followed for one request (a leader change mid-request can add one). */
  redirectsMax: 3,
  /** A response body read whole: a snapshot of a big node is the largest. */
  responseBytesMax: 64 * 1024 * 1024,
  /**
   * Times a `noLeader` answer is retried (after its Retry-After, within the
   * request's timeout): the request was never proposed, and a new cluster
   * (an edge Worker's region objects, woken by the first request) elects a
   * leader within seconds.
   */
  noLeaderRetriesMax: 10,
  /** The longest wait between those retries, whatever Retry-After says. */
  noLeaderWaitMsMax: 2_000,
} as const

export interface ApiTarget {
  /** The node's id, when known (from up.json or cluster.json): lets a 421 naming the leader be retried there. */
  readonly id: string | null
  readonly url: string
}

export interface ApiErrorBody {
  readonly code: string
  readonly message: string
  readonly leader?: string | null
}

/** The API answered with an error status and body. */
export class ApiError extends Error {
  override readonly name = 'ApiError'
  readonly status: number
  readonly error: ApiErrorBody
  readonly url: string
  /** The edge Worker's region that answered (its `x-dwcp-region`); null from a node. */
  readonly region: string | null

  constructor(status: number, error: ApiErrorBody, url: string, region: string | null = null) {
    super(`${error.code}: ${error.message}${error.leader ? ` (leader: ${error.leader})` : ''}`)
    this.status = status
    this.error = error
    this.url = url
    this.region = region
  }

  get exitCode(): number {
    if (this.status === 404) return exitCodes.notFound
    if (this.status >= 400 && this.status < 500) return exitCodes.refused
    return exitCodes.unavailable
  }
}

/** No node answered, or one stopped answering: nothing is known about the outcome. */
export class UnavailableError extends Error {
  override readonly name: string = 'UnavailableError'
  readonly exitCode = exitCodes.unavailable
}

export interface ApiClientOptions {
  readonly targets: readonly ApiTarget[]
  readonly token: string | null
  readonly timeoutMs: number
  /** The region an edge Worker should route to (sent as `x-dwcp-region`); null: the Worker picks the nearest. A node ignores it. */
  readonly region?: string | null
}

/**
 * `path` at `base`, keeping the base's own query (an edge Worker's
 * `?region=apac` names the region that answers); `new URL(path, base)`
 * alone drops it.
 */
export function apiUrl(base: string, path: string): string {
  const baseUrl = new URL(base)
  const target = new URL(path, baseUrl)
  for (const [name, value] of baseUrl.searchParams) if (!target.searchParams.has(name)) target.searchParams.set(name, value)
  return target.toString()
}

export interface ApiResponse<T> {
  readonly status: number
  readonly body: T
  /** The node that answered. */
  readonly url: string
  /** The edge Worker's region that answered (its `x-dwcp-region`); null from a node. */
  readonly region: string | null
}

/** Network errors that happen before a request reaches the server, so another node may take it. */
const notSentCodes = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL'])

function networkCode(error: unknown): string | null {
  const cause = (error as { cause?: { code?: unknown } }).cause
  return typeof cause?.code === 'string' ? cause.code : null
}

export class ApiClient {
  private readonly options: ApiClientOptions

  constructor(options: ApiClientOptions) {
    this.options = options
    if (options.targets.length === 0) throw new RangeError('an ApiClient needs at least one target')
  }

  get targets(): readonly ApiTarget[] {
    return this.options.targets
  }

  /**
   * Sends `method path` to the first node that takes it; resolves with a 2xx
   * answer that fits `schema` (the API contract's), else throws ApiError or
   * UnavailableError.
   */
  async request<T>(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, schema: z.ZodType<T>, body?: unknown): Promise<ApiResponse<T>> {
    const refused: string[] = []
    for (const target of this.options.targets) {
      try {
        return await this.requestAt(target.url, method, path, schema, body)
      } catch (error) {
        if (error instanceof ApiError) throw error
        const code = networkCode(error)
        // A read may go to the next node after any failure to answer; a write only when it never left.
        if ((code !== null && notSentCodes.has(code)) || method === 'GET') {
          refused.push(`${target.url} (${code ?? (error as Error).message})`)
          continue
        }
        if (error instanceof UnavailableError) throw error
        throw new UnavailableError(`${method} ${target.url}${path}: ${code ?? (error as Error).message}: the outcome is unknown`)
      }
    }
    throw new UnavailableError(`no node reachable: ${refused.join(', ')}`)
  }

  private async requestAt<T>(baseUrl: string, method: string, path: string, schema: z.ZodType<T>, body: unknown): Promise<ApiResponse<T>> {
    let url = apiUrl(baseUrl, path)
    let leaderRetried = false
    let noLeaderRetries = 0
    const deadlineMs = performance.now() + this.options.timeoutMs
    for (let redirects = 0; ;) {
      const response = await this.send(url, method, body)
      if ((response.status === 307 || response.status === 308) && response.headers.has('location')) {
        if (++redirects > apiClientLimits.redirectsMax) throw new UnavailableError(`${url}: more than ${apiClientLimits.redirectsMax} redirects`)
        url = new URL(response.headers.get('location')!, url).toString()
        await response.body?.cancel()
        continue
      }
      const parsed = await readJson(response, url)
      if (response.ok) {
        const checked = schema.safeParse(parsed)
        if (!checked.success) {
          const issue = checked.error.issues[0]!
          throw new UnavailableError(`${url}: an answer that does not fit the API contract (${issue.path.join('.') || 'body'}: ${issue.message})`)
        }
        return { status: response.status, body: checked.data, url, region: response.headers.get(regionHeader) }
      }
      const error = errorBody(parsed, response.status)
      if (response.status === 503 && error.code === 'noLeader' && noLeaderRetries < apiClientLimits.noLeaderRetriesMax) {
        const waitMs = Math.min(retryAfterMs(response), apiClientLimits.noLeaderWaitMsMax)
        if (performance.now() + waitMs < deadlineMs) {
          noLeaderRetries++
          await new Promise((resolve) => setTimeout(resolve, waitMs))
          continue
        }
      }
      if (response.status === 421 && !leaderRetried && typeof error.leader === 'string') {
        const leader = this.options.targets.find((target) => target.id === error.leader)
        if (leader !== undefined) {
          leaderRetried = true
          url = apiUrl(leader.url, path)
          continue
        }
      }
      throw new ApiError(response.status, error, url, response.headers.get(regionHeader))
    }
  }

  private async send(url: string, method: string, body: unknown): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (this.options.token !== null) headers.authorization = `Bearer ${this.options.token}`
    if (this.options.region != null) headers[regionHeader] = this.options.region
    if (body !== undefined) headers['content-type'] = 'application/json'
    try {
      return await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), redirect: 'manual', signal: AbortSignal.timeout(this.options.timeoutMs) })
    } catch (error) {
      if ((error as Error).name === 'TimeoutError') {
        throw new TimeoutError(`${method} ${url}: no answer within ${this.options.timeoutMs} ms${method === 'GET' ? '' : ': the outcome is unknown'}`)
      }
      throw error
    }
  }
}

export class TimeoutError extends UnavailableError {
  override readonly name = 'TimeoutError'
}

/** Retry-After in ms (seconds on the wire); 1 s when absent or unreadable. */
function retryAfterMs(response: Response): number {
  const seconds = Number(response.headers.get('retry-after'))
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 1000
}

async function readJson(response: Response, url: string): Promise<unknown> {
  const length = Number(response.headers.get('content-length') ?? 0)
  if (length > apiClientLimits.responseBytesMax) throw new UnavailableError(`${url}: a response of ${length} bytes, more than responseBytesMax=${apiClientLimits.responseBytesMax}`)
  const text = await response.text()
  if (text === '') return null
  try {
    return JSON.parse(text)
  } catch {
    if (response.ok) throw new UnavailableError(`${url}: answered ${response.status} with a body that is not JSON`)
    return { error: { code: `http${response.status}`, message: text.slice(0, 200) } }
  }
}

function errorBody(parsed: unknown, status: number): ApiErrorBody {
  const error = (parsed as { error?: Partial<ApiErrorBody> } | null)?.error
  if (typeof error?.code === 'string' && typeof error.message === 'string') return { code: error.code, message: error.message, leader: error.leader ?? null }
  return { code: `http${status}`, message: `the server answered ${status}` }
}
