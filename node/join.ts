/**
 * `dwcp node --join URL[,URL]`: asks a member of a running cluster to admit
 * this node. For each URL in order: `GET /v1/cluster/join/challenge`, then
 * `POST /v1/cluster/join` with the node's id, region, advertised URL, public
 * key and tags, an Ed25519 signature over the join transcript
 * (api/joinProof.ts) and, with a cluster secret, its HMAC proof
 * (peer/secretProof.ts, as the peer hello proves it). The member answers once
 * the `memberJoin` applied there, with the cluster id, the configuration and
 * the starting policies (checked here with the API contract).
 *
 * A URL that cannot be reached, or answers 5xx (no leader yet, a timeout),
 * lets the next one try; when every one failed so, the round is tried again
 * until joinDeadlineMs. A 4xx is the cluster refusing this join (a wrong
 * secret, key or cluster): it ends the join once every URL was asked.
 * A repeated join of the same node (same id, url and key) is harmless: the
 * member's configuration already holds it.
 */
import type { z } from 'zod'
import { base64urlOf } from '../api/wire.ts'
import { errorBodySchema, joinChallengeReplySchema, joinReplySchema, regionHeader, type JoinBody } from '../api/contract.ts'
import { joinTranscript } from '../api/joinProof.ts'
import { joinStateOf, type JoinState } from './joinState.ts'
import { secretMac } from './peer/secretProof.ts'

export const joinLimits = {
  /** One request: the join is answered once a Raft entry applied (the replica's requestTimeoutMs bounds that). */
  requestTimeoutMs: 15_000,
  /** All the rounds over the URLs, while the cluster is unreachable or has no leader. */
  joinDeadlineMs: 60_000,
  /** Pause between two rounds. */
  roundPauseMs: 1_000,
  /** An answer read whole (a configuration of membersMax members with their tags fits well below). */
  responseBytesMax: 4 * 1024 * 1024,
} as const

export interface JoinRequest {
  readonly urls: readonly string[]
  readonly id: string
  readonly region: string
  /** Where the others reach this node: its base URL. */
  readonly url: string
  readonly tags: Readonly<Record<string, string>>
  readonly signer: { readonly publicKey: Uint8Array; sign(message: Uint8Array): Uint8Array }
  readonly secret: Uint8Array | null
  /** The cluster's write token, or null. */
  readonly token: string | null
  /** Progress notes (one line each). */
  readonly log?: (line: string) => void
  readonly deadlineMs?: number
  /** The fetch to ask with (global fetch by default; a workerd test gives the Worker's own). */
  readonly fetch?: typeof fetch
}

export interface JoinResult extends JoinState {
  /** The URL that admitted this node. */
  readonly via: string
}

/** The join failed at every URL; the message names each URL's outcome. */
export class JoinError extends Error {
  override readonly name = 'JoinError'
}

type Attempt = { readonly kind: 'joined'; readonly result: JoinResult } | { readonly kind: 'failed'; readonly retryable: boolean; readonly why: string }

class Failure extends Error {
  readonly retryable: boolean

  constructor(retryable: boolean, message: string) {
    super(message)
    this.retryable = retryable
  }
}

export async function joinCluster(request: JoinRequest): Promise<JoinResult> {
  if (request.urls.length === 0) throw new JoinError('--join: no URL to join through')
  const log = request.log ?? (() => {})
  const deadline = performance.now() + (request.deadlineMs ?? joinLimits.joinDeadlineMs)
  for (let round = 1; ; round++) {
    const failures: string[] = []
    let retryable = true
    for (const url of request.urls) {
      const attempt = await joinAt(url, request)
      if (attempt.kind === 'joined') return attempt.result
      failures.push(`${url}: ${attempt.why}`)
      log(`join via ${url} failed: ${attempt.why}`)
      retryable &&= attempt.retryable
    }
    const summary = failures.join('; ')
    if (!retryable) throw new JoinError(`the cluster refused the join: ${summary}`)
    if (performance.now() + joinLimits.roundPauseMs >= deadline) throw new JoinError(`no member admitted this node within ${request.deadlineMs ?? joinLimits.joinDeadlineMs} ms (${round} round(s)): ${summary}`)
    await new Promise((resolve) => setTimeout(resolve, joinLimits.roundPauseMs))
  }
}

async function joinAt(base: string, request: JoinRequest): Promise<Attempt> {
  try {
    const challenged = await call(request, base, 'GET', '/v1/cluster/join/challenge', undefined, joinChallengeReplySchema, null)
    const offered = challenged.value
    const claim = { clusterId: offered.clusterId, id: request.id, region: request.region, url: request.url, publicKey: request.signer.publicKey, tags: request.tags }
    const transcript = joinTranscript({ ...claim, challenge: bytesOf(offered.challenge) })
    const body: JoinBody = {
      clusterId: offered.clusterId,
      id: request.id,
      region: request.region,
      url: request.url,
      publicKey: base64urlOf(request.signer.publicKey),
      tags: { ...request.tags },
      challenge: offered.challenge,
      signature: base64urlOf(request.signer.sign(transcript)),
      ...(request.secret === null ? {} : { secretProof: base64urlOf(secretMac(request.secret, transcript)) }),
    }
    // An edge Worker answers from a region object, which alone knows the challenge it handed out: the join goes to the same one.
    const answer = (await call(request, base, 'POST', '/v1/cluster/join', body, joinReplySchema, challenged.region)).value
    if (answer.clusterId !== offered.clusterId) throw new Failure(false, `answered for cluster ${answer.clusterId}, after a challenge of cluster ${offered.clusterId}`)
    let state: JoinState
    try {
      state = joinStateOf(answer, `the join answer of ${base}`)
    } catch (error) {
      throw new Failure(false, (error as Error).message)
    }
    const self = state.configuration.members.find((member) => member.id === request.id)
    if (self === undefined) throw new Failure(false, `the configuration it answered (version ${state.configuration.version}) does not hold ${request.id}`)
    return { kind: 'joined', result: { ...state, via: base } }
  } catch (error) {
    if (error instanceof Failure) return { kind: 'failed', retryable: error.retryable, why: error.message }
    throw error
  }
}

/** One request (to `region`'s object, behind an edge Worker); throws a Failure saying why it did not give a 2xx answer that fits `schema`. */
async function call<T>(request: JoinRequest, base: string, method: 'GET' | 'POST', path: string, body: unknown, schema: z.ZodType<T>, region: string | null): Promise<{ readonly value: T; readonly region: string | null }> {
  const headers: Record<string, string> = { accept: 'application/json' }
  if (request.token !== null) headers.authorization = `Bearer ${request.token}`
  if (region !== null) headers[regionHeader] = region
  if (body !== undefined) headers['content-type'] = 'application/json'
  let response: Response
  try {
    response = await (request.fetch ?? fetch)(new URL(path, base), { method, headers, body: body === undefined ? undefined : JSON.stringify(body), redirect: 'manual', signal: AbortSignal.timeout(joinLimits.requestTimeoutMs) })
  } catch (error) {
    const cause = (error as { cause?: { code?: unknown } }).cause
    if ((error as Error).name === 'TimeoutError') throw new Failure(true, `unreachable: no answer to ${method} ${path} within ${joinLimits.requestTimeoutMs} ms`)
    throw new Failure(true, `unreachable: ${typeof cause?.code === 'string' ? cause.code : (error as Error).message}`)
  }
  const length = Number(response.headers.get('content-length') ?? 0)
  if (length > joinLimits.responseBytesMax) throw new Failure(true, `an answer of ${length} bytes, more than responseBytesMax=${joinLimits.responseBytesMax}`)
  const text = await response.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new Failure(response.status >= 500, `answered ${response.status} with a body that is not JSON (is it a dwcp node?)`)
  }
  if (!response.ok) {
    const error = errorBodySchema.safeParse(json)
    const what = error.success ? `${error.data.error.code}: ${error.data.error.message}` : `HTTP ${response.status}`
    throw new Failure(response.status >= 500, `refused (HTTP ${response.status}) ${what}`)
  }
  const parsed = schema.safeParse(json)
  if (!parsed.success) throw new Failure(false, `an answer to ${method} ${path} that does not fit the API contract: ${parsed.error.issues[0]?.path.join('.') || 'body'}: ${parsed.error.issues[0]?.message}`)
  return { value: parsed.data, region: response.headers.get(regionHeader) }
}

function bytesOf(base64url: string): Uint8Array {
  return new Uint8Array(Buffer.from(base64url, 'base64url'))
}
