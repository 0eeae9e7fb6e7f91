/**
 * One HTTP call to a node's API for end-to-end tests: bearer token, a JSON or
 * raw body, a bounded wait. Resolves with the status and the body (parsed
 * when it is JSON); a network failure or the timeout rejects (the caller
 * decides what an unanswered call means).
 */
export const apiCallLimits = {
  /** Default bound on one call. */
  timeoutMs: 10_000,
} as const

export interface ApiCallOptions {
  readonly token?: string | null
  /** Sent as JSON. */
  readonly json?: unknown
  /** Sent as is (malformed bodies, oversized ones). */
  readonly body?: string | Uint8Array
  readonly headers?: Readonly<Record<string, string>>
  readonly timeoutMs?: number
}

export interface ApiAnswer {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly body: unknown
}

export async function apiCall(baseUrl: string, method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, options: ApiCallOptions = {}): Promise<ApiAnswer> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token !== undefined && options.token !== null) headers.authorization = `Bearer ${options.token}`
  let body: string | Uint8Array | undefined = options.body
  if (options.json !== undefined) {
    body = JSON.stringify(options.json)
    headers['content-type'] ??= 'application/json'
  }
  const response = await fetch(new URL(path, baseUrl), { method, headers, body, signal: AbortSignal.timeout(options.timeoutMs ?? apiCallLimits.timeoutMs) })
  const text = await response.text()
  return { status: response.status, headers: response.headers, text, body: jsonOrUndefined(text) }
}

/** `text` parsed as JSON, or undefined when it is not JSON (an answer's body may be either). */
export function jsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** The error code of an error answer (`{ error: { code } }`), or null. */
export function errorCodeOf(answer: ApiAnswer): string | null {
  const code = (answer.body as { error?: { code?: unknown } } | undefined)?.error?.code
  return typeof code === 'string' ? code : null
}

/** A short description of a failed call for messages: `503 noLeader` or `TimeoutError`. */
export function describeOutcome(outcome: ApiAnswer | unknown): string {
  if (typeof outcome === 'object' && outcome !== null && 'status' in outcome && 'text' in outcome) {
    const answer = outcome as ApiAnswer
    return `${answer.status} ${errorCodeOf(answer) ?? answer.text.slice(0, 120)}`
  }
  const error = outcome as Error & { cause?: { code?: unknown } }
  return typeof error.cause?.code === 'string' ? error.cause.code : `${error.name}: ${error.message}`
}

export const retryLimits = {
  /** Pause between two attempts. */
  pauseMs: 200,
  /** Failed attempts named in the error when the deadline passes. */
  reportedMax: 6,
} as const

/**
 * Calls `call` at each of `targets()` in turn until one answers 2xx, while
 * the others answer 5xx or not at all (an election, a node down), for at most
 * `deadlineMs`. A 4xx is an answer, not a hiccup: it ends the retries with an
 * error. The error names `what` and the last failed attempts.
 */
export async function callUntilOk(what: string, targets: () => readonly string[], call: (url: string) => Promise<ApiAnswer>, deadlineMs: number): Promise<ApiAnswer & { url: string }> {
  const deadline = performance.now() + deadlineMs
  const failed: string[] = []
  for (let attempt = 0; ; attempt++) {
    const urls = targets()
    if (urls.length === 0) throw new Error(`${what}: no node to ask`)
    const url = urls[attempt % urls.length]!
    let outcome: ApiAnswer | unknown
    try {
      outcome = await call(url)
    } catch (error) {
      outcome = error
    }
    const answer = typeof outcome === 'object' && outcome !== null && 'status' in outcome ? (outcome as ApiAnswer) : null
    if (answer !== null && answer.status >= 200 && answer.status < 300) return { ...answer, url }
    if (answer !== null && answer.status < 500) throw new Error(`${what}: ${url} refused it: ${answer.status} ${answer.text.slice(0, 300)}`)
    failed.push(`${url}: ${describeOutcome(outcome)}`)
    if (performance.now() >= deadline) throw new Error(`${what}: not done within ${deadlineMs} ms after ${attempt + 1} attempts; the last: ${failed.slice(-retryLimits.reportedMax).join('; ')}`)
    await new Promise((resolve) => setTimeout(resolve, retryLimits.pauseMs))
  }
}
