/**
 * What every client command (kv, crdt, policy, status, members) shares: the
 * options that find the cluster and authenticate, and one way to end: the
 * answer on stdout (the API's JSON with --json), or the API's error code and
 * message on stderr with an exit code that tells not found, refused and
 * unavailable apart (cli/exitCodes.ts).
 */
import type { Argv } from 'yargs'
import { consistencies, type Consistency } from '../../core/replica/policy.ts'
import { UsageError } from '../exitCodes.ts'
import { ApiClient, ApiError, UnavailableError, type ApiResponse } from './apiClient.ts'
import { defaultDataDir, resolveTargets } from './targets.ts'

export const clientDefaults = {
  /** How long one request may take before the command gives up (a strong write waits for a quorum). */
  timeoutMs: 10_000,
  timeoutMsMax: 600_000,
} as const

export interface ClientArgs {
  url?: string
  data: string
  token?: string
  json: boolean
  timeout: number
  region?: string
}

export function withClientOptions<T>(yargs: Argv<T>): Argv<T & ClientArgs> {
  return yargs
    .option('url', { type: 'string', describe: 'a node to talk to (default: the nodes of the cluster dwcp up runs from --data)' })
    .option('data', { type: 'string', default: defaultDataDir, describe: 'the data dir of dwcp up, to find its nodes' })
    .option('token', { type: 'string', describe: 'bearer token (default: env DWCP_TOKEN)' })
    .option('region', { type: 'string', describe: 'with --url of an edge Worker: the region that answers (default: the nearest; or ?region=ID in --url)' })
    .option('json', { type: 'boolean', default: false, describe: "print the API's JSON answer and nothing else" })
    .option('timeout', { type: 'number', default: clientDefaults.timeoutMs, describe: 'milliseconds to wait for an answer' }) as Argv<T & ClientArgs>
}

export const consistencyOption = {
  type: 'string',
  choices: consistencies as readonly string[],
  describe: "the namespace's consistency level (must match its policy; default: the policy's)",
} as const

/** A region id of an edge Worker's REGIONS (durable-objects/edgeCluster.ts: an id, 1 to 57 of [A-Za-z0-9._-]). */
const regionIdPattern = /^[A-Za-z0-9._-]{1,57}$/

export function clientOf(args: ClientArgs): ApiClient {
  if (!Number.isSafeInteger(args.timeout) || args.timeout < 1 || args.timeout > clientDefaults.timeoutMsMax) {
    throw new UsageError(`--timeout: expected milliseconds 1..${clientDefaults.timeoutMsMax}, got ${String(args.timeout)}`)
  }
  const token = args.token ?? (process.env.DWCP_TOKEN === undefined || process.env.DWCP_TOKEN === '' ? null : process.env.DWCP_TOKEN)
  if (args.region !== undefined && !regionIdPattern.test(args.region)) throw new UsageError(`--region: expected a region id such as weur (letters, digits, . _ -), got ${JSON.stringify(args.region)}`)
  return new ApiClient({ targets: resolveTargets(args.url, args.data), token, timeoutMs: args.timeout, region: args.region ?? null })
}

/** `cfg/a b` → `cfg/a%20b`: each segment encoded, the slashes kept (the API takes the rest of the path as the key). */
export function keyPath(key: string): string {
  if (key === '') throw new UsageError('KEY must not be empty')
  return key.split('/').map(encodeURIComponent).join('/')
}

export function consistencyQuery(consistency: string | undefined): string {
  return consistency === undefined ? '' : `?consistency=${encodeURIComponent(consistency as Consistency)}`
}

/**
 * Runs a client command's request and prints its answer with `print` (or
 * the JSON); an API error or an unreachable cluster ends the process with
 * the fitting exit code.
 */
export async function runClient<T>(args: ClientArgs, request: (client: ApiClient) => Promise<ApiResponse<T>>, print: (answer: T, url: string, region: string | null) => string): Promise<void> {
  const client = clientOf(args)
  try {
    const answer = await request(client)
    process.stdout.write(args.json ? `${JSON.stringify(answer.body, null, 2)}\n` : print(answer.body, answer.url, answer.region))
  } catch (error) {
    if (error instanceof ApiError) {
      if (args.json) process.stdout.write(`${JSON.stringify({ error: error.error }, null, 2)}\n`)
      process.stderr.write(
        `dwcp: ${error.error.code}: ${error.error.message}${error.error.leader ? ` (leader: ${error.error.leader})` : ''} [HTTP ${error.status} from ${new URL(error.url).origin}${error.region === null ? '' : `, region ${error.region}`}]\n`,
      )
      process.exitCode = error.exitCode
      return
    }
    if (error instanceof UnavailableError) {
      process.stderr.write(`dwcp: unavailable: ${error.message}\n`)
      process.exitCode = error.exitCode
      return
    }
    throw error
  }
}

/** Positions as a person reads them: `raft index 12`, `crdt at 1733322000123.4`. */
export function describePosition(position: unknown): string {
  const at = position as { kind?: string; index?: number; version?: number; timestamp?: { wallMs: number; logical: number } | null; replica?: string | null }
  switch (at?.kind) {
    case 'raft':
      return `raft index ${at.index}`
    case 'pbft':
      return `pbft version ${at.version}`
    case 'published':
      return `published version ${at.version}`
    case 'crdt':
      return at.timestamp ? `crdt at ${new Date(at.timestamp.wallMs).toISOString()}+${at.timestamp.logical}${at.replica ? ` by ${at.replica}` : ''}` : 'crdt'
    default:
      return JSON.stringify(position)
  }
}
