/**
 * The Worker's own errors, in the API's shape (`{ "error": { "code", "message" } }`,
 * api/contract.ts): those it answers before a request reaches a region object.
 * Everything a region object answers comes from the API's code table (api/errors.ts).
 */
import type { Context } from 'hono'

export const edgeCodes = {
  /** The region named by `x-dwcp-region` or `?region=` is not configured. */
  unknownRegion: 400,
  /** A route of the Worker's own (/v1/edge/wakes) without a token, while tokens are set; the API's code. */
  unauthorized: 401,
  /** No route outside the API (`/v1/...`, `/metrics`); the same code the API uses for its own. */
  unknownRoute: 404,
  /** A bug in the Worker. */
  internal: 500,
  /** The Worker's vars do not describe a cluster (REGIONS, DWCP_CLUSTER_ID); the message says why. */
  misconfigured: 503,
} as const

export type EdgeCode = keyof typeof edgeCodes

export function edgeError(c: Context, code: EdgeCode, message: string): Response {
  return c.json({ error: { code, message } }, edgeCodes[code])
}
