/**
 * The HTTP API over a hosted cluster, in process: `app.request()` while the
 * cluster's virtual clock advances, so replies that need ticks and peer
 * messages come. No sockets, no real time.
 */
import type { Hono } from 'hono'
import type { UpgradeWebSocket } from 'hono/ws'
import { createApi } from '../../api/app.ts'
import type { ApiTokens } from '../../api/auth.ts'
import type { FaultControl } from '../../host/faults.ts'
import { jsonOrUndefined } from './apiCall.ts'
import type { HostedNode } from './hostedCluster.ts'

/** Virtual milliseconds a request may take before the helper gives up (the replica times requests out at 5 s). */
export const requestVirtualMsMax = 30_000
const stepMs = 5

/** Waits for `promise`, advancing the cluster's clock by 5 ms between turns of the event loop. */
export async function settle<T>(promise: Promise<T>, advance: (ms: number) => void, virtualMsMax = requestVirtualMsMax): Promise<T> {
  let settled = false
  promise.then(
    () => (settled = true),
    () => (settled = true),
  )
  for (let elapsedMs = 0; !settled; elapsedMs += stepMs) {
    if (elapsedMs > virtualMsMax) throw new Error(`no answer within ${virtualMsMax} virtual ms`)
    await new Promise((resolve) => setImmediate(resolve))
    if (!settled) advance(stepMs)
  }
  return promise
}

/** In-process requests have no upgrade: the WebSocket routes answer 426 before it would be asked for. */
export const noUpgrade: UpgradeWebSocket<unknown> = (() => {
  throw new Error('no WebSocket upgrade in process')
}) as unknown as UpgradeWebSocket<unknown>

export interface ApiHarnessOptions {
  readonly tokens?: ApiTokens
  readonly faults?: FaultControl | null
  readonly clientAddress?: string | null
  /** The cluster id the backend names (GET /v1/status); absent: none. */
  readonly clusterId?: string
}

export function apiOf(node: HostedNode, options: ApiHarnessOptions = {}): Hono {
  return createApi({
    backend: { host: node.host, faults: options.faults ?? null, frames: node.frames, ...(options.clusterId === undefined ? {} : { clusterId: options.clusterId }) },
    tokens: options.tokens ?? { write: null, read: null },
    upgradeWebSocket: noUpgrade,
    clientAddress: () => options.clientAddress ?? null,
  })
}

export interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  /** The body as JSON (undefined when it is not). */
  readonly json: any
}

export interface RequestOptions {
  readonly body?: unknown
  /** A raw body, sent as is. */
  readonly raw?: string
  readonly token?: string
  readonly headers?: Record<string, string>
}

/** One request to `app` while `advance` drives the cluster. */
export async function ask(app: Hono, advance: (ms: number) => void, method: string, path: string, options: RequestOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
  const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body))
  if (body !== undefined) headers['content-type'] = 'application/json'
  const response = await settle(Promise.resolve(app.request(path, { method, headers, body })), advance)
  const text = await response.text()
  return { status: response.status, headers: response.headers, text, json: jsonOrUndefined(text) }
}
