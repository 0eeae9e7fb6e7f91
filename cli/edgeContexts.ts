/**
 * What `dwcp tui` learns of the URLs it is given before it starts: the
 * cluster's id (GET /v1/status), and whether a URL is an edge Worker (its
 * answers carry `x-dwcp-region`). A Worker URL that names no region stands
 * for every region object of the cluster, so it becomes one source per
 * region (`URL?region=ID`, a member without a URL whose id is `region-ID`):
 * the TUI then shows each region's Raft role, state and convergence side by
 * side, as it does for the nodes of a node cluster. The node processes that
 * joined the edge cluster (members with a URL of their own) become sources
 * at their URLs beside the regions, so one TUI shows the whole hybrid
 * cluster. A URL that does not answer is kept as it is (the TUI shows it
 * disconnected and keeps trying); so is a joined node's, which is not looked
 * at before the UI starts.
 */
import { membersReplySchema, regionHeader, statusReplySchema, type MembersReply } from '../api/contract.ts'
import { apiUrl } from './client/apiClient.ts'
import type { ContextSpec } from '../tui/data/contexts.ts'

export const edgeDiscoveryLimits = {
  /** How long the look before the UI starts may take per URL (in parallel); slower answers are not waited for. */
  timeoutMs: 3_000,
} as const

type Fetch = (input: string, init?: RequestInit) => Promise<Response>

/** `contexts`, with cluster ids filled in from the nodes and each edge Worker URL expanded to its regions and joined nodes. */
export async function discoverContexts(contexts: readonly ContextSpec[], token: string | null, fetchImpl: Fetch = fetch): Promise<ContextSpec[]> {
  return Promise.all(
    contexts.map(async (context) => {
      // A context whose cluster is known is the cluster dwcp up runs (node URLs): nothing to learn, no wait before the UI.
      if (context.clusterId !== null) return { ...context }
      const found = await Promise.all(context.urls.map((url) => lookAt(url, token, fetchImpl)))
      const urls = distinctUrls(found.flatMap((look) => look.urls))
      const clusterId = context.clusterId ?? found.find((look) => look.clusterId !== null)?.clusterId ?? null
      return { ...context, clusterId, urls }
    }),
  )
}

interface Look {
  readonly urls: readonly string[]
  readonly clusterId: string | null
}

async function lookAt(url: string, token: string | null, fetchImpl: Fetch): Promise<Look> {
  const [status, members] = await Promise.all([getJson(url, '/v1/status', token, fetchImpl), getJson(url, '/v1/members', token, fetchImpl)])
  const clusterId = status === null ? null : (statusReplySchema.safeParse(status.body).data?.clusterId ?? null)
  const reply = members === null ? undefined : membersReplySchema.safeParse(members.body).data
  const isWorker = members?.region !== null && members?.region !== undefined
  if (!isWorker || reply === undefined || new URL(url).searchParams.has('region')) return { urls: [url], clusterId }
  const regions = regionsOf(reply)
  const regionUrls = regions.length === 0 ? [url] : regions.map((region) => withRegion(url, region))
  return { urls: [...regionUrls, ...nodeUrlsOf(reply)], clusterId }
}

/** The regions of the region objects (members without a URL, named `region-ID`), in the configuration's order. */
export function regionsOf(reply: MembersReply): string[] {
  return reply.configuration.members.filter((member) => member.url === '' && member.id === `region-${member.region}`).map((member) => member.region)
}

/** The URLs of the members with one of their own (node processes that joined the edge cluster), in the configuration's order. */
export function nodeUrlsOf(reply: MembersReply): string[] {
  return reply.configuration.members.map((member) => member.url).filter(isHttpUrl)
}

function isHttpUrl(url: string): boolean {
  return URL.canParse(url) && /^https?:$/.test(new URL(url).protocol)
}

/** `urls` without repeats, first kept: a node named on the command line and listed by the Worker is one source (`http://h:1` and `http://h:1/` are the same). */
function distinctUrls(urls: readonly string[]): string[] {
  const seen = new Set<string>()
  return urls.filter((url) => {
    const key = URL.canParse(url) ? new URL(url).href : url
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

export function withRegion(url: string, region: string): string {
  const target = new URL(url)
  target.searchParams.set('region', region)
  return target.toString()
}

async function getJson(url: string, path: string, token: string | null, fetchImpl: Fetch): Promise<{ readonly body: unknown; readonly region: string | null } | null> {
  try {
    const response = await fetchImpl(apiUrl(url, path), { headers: token === null ? {} : { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(edgeDiscoveryLimits.timeoutMs) })
    if (!response.ok) {
      await response.body?.cancel()
      return null
    }
    return { body: await response.json(), region: response.headers.get(regionHeader) }
  } catch {
    // Not reachable now, or not JSON: the TUI's own source reports it.
    return null
  }
}
