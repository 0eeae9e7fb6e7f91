/**
 * What viewers read: status, members (with the cluster configuration), the
 * whole snapshot, and /metrics. All are views of `host.snapshot()` and
 * `replica.configuration()`.
 */
import type { Hono } from 'hono'
import { configurationBodyOf } from './configurationBody.ts'
import type { ApiContext } from './context.ts'
import type { MembersReply, StatusReply } from './contract.ts'
import { requireAccess } from './http.ts'
import { metricsContentType, renderMetrics } from './metrics.ts'
import { wireJson } from './wire.ts'

export function addViewRoutes(app: Hono, context: ApiContext): void {
  const { host, tokens } = context
  const read = requireAccess(tokens, 'read')

  app.get('/v1/status', read, (c) => {
    const snapshot = host.snapshot()
    const raft = snapshot.raft
    const configuration = host.replica.configuration()
    const status: StatusReply = {
      clusterId: context.backend.clusterId ?? context.backend.membership?.clusterId ?? null,
      node: snapshot.node.id,
      region: snapshot.node.region,
      boot: snapshot.node.boot,
      mode: snapshot.node.homeMode,
      role: raft?.role ?? 'none',
      term: raft?.term ?? 0,
      leader: raft?.leader ?? null,
      commit: raft?.commit ?? 0,
      peers: snapshot.members.filter((member) => member.id !== snapshot.node.id && member.state === 'alive').length,
      members: snapshot.members.length,
      events: snapshot.events,
      configuration: { version: configuration.version, voters: [...configuration.raftVoters], learners: [...configuration.raftLearners], pbft: [...configuration.pbftReplicas] },
    }
    return c.json(status)
  })

  app.get('/v1/members', read, (c) => c.json({ members: [...host.snapshot().members], configuration: configurationBodyOf(host.replica.configuration()) } satisfies MembersReply))

  app.get('/v1/snapshot', read, (c) => c.body(wireJson(host.snapshot()), 200, { 'content-type': 'application/json' }))

  app.get('/metrics', read, (c) => {
    const text = renderMetrics({ snapshot: host.snapshot(), api: context.stats, events: context.events, frames: context.backend.frames?.metrics ?? null, linkRefusals: context.backend.links?.status().refused ?? null })
    return c.body(text, 200, { 'content-type': metricsContentType })
  })
}
