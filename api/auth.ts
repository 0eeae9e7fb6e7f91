/**
 * Bearer tokens, both optional (DESIGN §5): the write token allows everything
 * (writes, admin, WebSocket document edits); the read token allows GETs, the
 * events feed, /metrics and read-only document connections. Each protects
 * its own class: with no read token configured reads are open, with no write
 * token writes are. Tokens are compared in constant time and never logged or
 * echoed.
 *
 * Tokens come in `Authorization: Bearer …`; on the WebSocket routes also as
 * `?access_token=…` (RFC 6750 §2.3), since browsers cannot set headers on a
 * WebSocket and stock y-websocket clients pass only URL parameters.
 */
export interface ApiTokens {
  readonly write: string | null
  readonly read: string | null
}

/**
 * What a request may do: everything, or reads only (`byToken`: because it
 * showed the read token, not because reads are open), or nothing.
 */
export type Access = { readonly kind: 'write' } | { readonly kind: 'read'; readonly byToken: boolean } | { readonly kind: 'denied'; readonly message: string }

const encoder = new TextEncoder()

/**
 * Whether `presented` equals `expected`, in time that depends only on the
 * length of `expected` (the secret's length is not the secret).
 */
export function sameToken(presented: string, expected: string): boolean {
  const a = encoder.encode(presented)
  const b = encoder.encode(expected)
  let difference = a.length ^ b.length
  for (let index = 0; index < b.length; index++) difference |= (a.length === 0 ? 0 : a[index % a.length]!) ^ b[index]!
  return difference === 0
}

/** The token of `Authorization: Bearer <token>`, or null when absent; '' for another scheme (never equal to a token). */
export function bearerOf(authorization: string | undefined | null): string | null {
  if (authorization === undefined || authorization === null) return null
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization)
  return match === null ? '' : match[1]!
}

/** What the presented token (null: none) allows. A token that matches neither is refused wherever a token is configured. */
export function accessOf(tokens: ApiTokens, presented: string | null): Access {
  if (tokens.write === null && tokens.read === null) return { kind: 'write' }
  if (presented !== null) {
    if (tokens.write !== null && sameToken(presented, tokens.write)) return { kind: 'write' }
    if (tokens.read !== null && sameToken(presented, tokens.read)) return { kind: 'read', byToken: true }
    return { kind: 'denied', message: 'the bearer token is not valid here' }
  }
  // No token: whatever is not protected.
  if (tokens.write === null) return { kind: 'write' }
  if (tokens.read === null) return { kind: 'read', byToken: false }
  return { kind: 'denied', message: 'a bearer token is required' }
}
