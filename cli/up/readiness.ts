/**
 * When is a local cluster up? When every node answers, all name the same
 * Raft leader, and every node sees every member alive through gossip. Polls
 * GET /v1/status and /v1/members of each node until then or until a named
 * timeout, and says of each node that is not ready why not.
 */
import type { ClusterMember } from '../../node/clusterConfig.ts'

export const readinessLimits = {
  /** How long `dwcp up` waits for a leader and a full, alive membership. */
  readyTimeoutMs: 30_000,
  /** Pause between two polls of the whole cluster. */
  pollMs: 100,
  /** One poll request; a node that takes longer is not ready yet. */
  requestTimeoutMs: 1_000,
} as const

export interface NodeReadiness {
  readonly id: string
  /** Null when ready; else why not, e.g. `no answer (ECONNREFUSED)`, `no leader`, `sees n3 suspect`. */
  readonly problem: string | null
  readonly leader: string | null
}

export interface ClusterReadiness {
  readonly ready: boolean
  readonly leader: string | null
  readonly nodes: readonly NodeReadiness[]
}

async function getJson(url: string, token: string | null): Promise<unknown> {
  const headers: Record<string, string> = { accept: 'application/json' }
  if (token !== null) headers.authorization = `Bearer ${token}`
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(readinessLimits.requestTimeoutMs) })
  const text = await response.text()
  if (!response.ok) throw new Error(`HTTP ${response.status}${text === '' ? '' : `: ${text.slice(0, 120)}`}`)
  return JSON.parse(text)
}

function failure(error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause
  if (typeof cause?.code === 'string') return cause.code
  if ((error as Error).name === 'TimeoutError') return `no answer within ${readinessLimits.requestTimeoutMs} ms`
  return (error as Error).message
}

export async function nodeReadiness(member: ClusterMember, all: readonly ClusterMember[], token: string | null): Promise<NodeReadiness> {
  let status: { leader?: unknown }
  let members: { members?: { id: string; state: string }[] }
  try {
    ;[status, members] = (await Promise.all([getJson(new URL('/v1/status', member.url).toString(), token), getJson(new URL('/v1/members', member.url).toString(), token)])) as [typeof status, typeof members]
  } catch (error) {
    return { id: member.id, problem: `no answer (${failure(error)})`, leader: null }
  }
  const leader = typeof status.leader === 'string' ? status.leader : null
  if (leader === null) return { id: member.id, problem: 'knows no leader', leader }
  const seen = new Map((members.members ?? []).map((view) => [view.id, view.state]))
  const notAlive = all.filter((other) => seen.get(other.id) !== 'alive').map((other) => `${other.id} ${seen.get(other.id) ?? 'unknown'}`)
  if (notAlive.length > 0) return { id: member.id, problem: `sees ${notAlive.join(', ')}`, leader }
  return { id: member.id, problem: null, leader }
}

export async function clusterReadiness(members: readonly ClusterMember[], token: string | null): Promise<ClusterReadiness> {
  const nodes = await Promise.all(members.map((member) => nodeReadiness(member, members, token)))
  const leaders = new Set(nodes.map((node) => node.leader))
  const agreed = leaders.size === 1 ? [...leaders][0]! : null
  if (agreed === null && nodes.every((node) => node.problem === null)) {
    // Everyone answers but not all name the same leader yet (an election just ended).
    const named = nodes.map((node) => ({ ...node, problem: `names leader ${node.leader}` }))
    return { ready: false, leader: null, nodes: named }
  }
  return { ready: agreed !== null && nodes.every((node) => node.problem === null), leader: agreed, nodes }
}

/**
 * Polls until the cluster is ready, `stop()` says to give up (a node exited),
 * or readyTimeoutMs passes; resolves with the last readiness seen.
 */
export async function waitUntilReady(members: readonly ClusterMember[], token: string | null, stop: () => boolean, timeoutMs: number = readinessLimits.readyTimeoutMs): Promise<ClusterReadiness> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const readiness = await clusterReadiness(members, token)
    if (readiness.ready || stop() || performance.now() >= deadline) return readiness
    await new Promise((resolve) => setTimeout(resolve, readinessLimits.pollMs))
  }
}
