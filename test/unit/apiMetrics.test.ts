import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { metricsContentType, snakeCase } from '../../api/metrics.ts'
import { apiOf, ask } from '../support/apiHarness.ts'
import { hostedCluster, hostedNodePolicies } from '../support/hostedCluster.ts'
import { parsePrometheusText, type PromExposition } from '../support/promText.ts'

function value(exposition: PromExposition, family: string, labels: Record<string, string> = {}, sampleName = family): number | undefined {
  return exposition.families.get(family)?.samples.find((sample) => sample.name === sampleName && Object.entries(labels).every(([name, text]) => sample.labels[name] === text))?.value
}

/** promtool, where the machine has it (Debian's prometheus package); null where it does not. */
function promtool(text: string): string | null {
  try {
    return execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] })
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stdout?: string; stderr?: string; status?: number }
    if (failure.code === 'ENOENT') return null
    throw new Error(`promtool check metrics failed:\n${failure.stdout ?? ''}${failure.stderr ?? ''}`)
  }
}

describe('API: /metrics', () => {
  it('is a well-formed exposition derived from the snapshot, the events and the requests served', async () => {
    const { nodes, advance } = hostedCluster(31, hostedNodePolicies)
    advance(3_000)
    const leaderIndex = nodes.findIndex((node) => node.host.snapshot().raft?.role === 'leader')
    const api = apiOf(nodes[leaderIndex]!)
    for (let index = 0; index < 3; index++) expect((await ask(api, advance, 'PUT', `/v1/kv/cfg/k${index}?consistency=strong`, { body: { value: 'v' } })).status).toBe(200)
    expect((await ask(api, advance, 'POST', '/v1/crdt/cnt/c', { body: { op: 'inc' } })).status).toBe(200)
    expect((await ask(api, advance, 'GET', '/v1/kv/reg/absent')).status).toBe(404)
    // The same route, method and status at another consistency: one response series (by route, method and status), counted twice.
    expect((await ask(api, advance, 'GET', '/v1/kv/reg/absent?consistency=eventual')).status).toBe(404)
    expect((await ask(api, advance, 'GET', '/nowhere')).status).toBe(404)
    const answer = await ask(api, advance, 'GET', '/metrics')
    expect(answer.status).toBe(200)
    expect(answer.headers.get('content-type')).toBe(metricsContentType)
    const exposition = parsePrometheusText(answer.text)
    expect(exposition.problems).toEqual([])
    for (const name of exposition.families.keys()) expect(name).toMatch(/^dwcp_/)
    // From the snapshot.
    const snapshot = nodes[leaderIndex]!.host.snapshot()
    expect(value(exposition, 'dwcp_raft_role', { role: 'leader' })).toBe(1)
    expect(value(exposition, 'dwcp_raft_term')).toBe(snapshot.raft!.term)
    expect(value(exposition, 'dwcp_members', { state: 'alive' })).toBe(3)
    expect(value(exposition, 'dwcp_raft_proposals_total')).toBe(snapshot.metrics.raft!.proposals)
    expect(value(exposition, 'dwcp_replica_path_total', { path: 'raft' })).toBe(3)
    expect(value(exposition, 'dwcp_replica_path_total', { path: 'crdt' })).toBe(1)
    expect(value(exposition, 'dwcp_namespace_keys', { namespace: 'cnt' })).toBe(1)
    expect(value(exposition, 'dwcp_crdt_delta_bytes_total')).toBeGreaterThanOrEqual(0)
    expect(value(exposition, 'dwcp_node_info', { node: snapshot.node.id, region: snapshot.node.region })).toBe(1)
    // From the events: the API counted the commits' and the crdt write's events as they came.
    expect(value(exposition, 'dwcp_events_total', { source: 'crdt', kind: 'keyChanged' })).toBeGreaterThanOrEqual(1)
    // The requests served: by route, method and consistency.
    const route = { route: '/v1/kv/:key{.+}', method: 'PUT', consistency: 'strong' }
    expect(value(exposition, 'dwcp_http_request_duration_seconds', route, 'dwcp_http_request_duration_seconds_count')).toBe(3)
    expect(value(exposition, 'dwcp_http_request_duration_seconds', { ...route, le: '+Inf' }, 'dwcp_http_request_duration_seconds_bucket')).toBe(3)
    expect(value(exposition, 'dwcp_http_responses_total', { route: '/v1/kv/:key{.+}', method: 'GET', status: '404' })).toBe(2)
    expect(value(exposition, 'dwcp_http_responses_total', { route: 'unmatched', method: 'GET', status: '404' })).toBe(1)
    expect(value(exposition, 'dwcp_peer_frames_out_total')).toBe(nodes[leaderIndex]!.frames.metrics.framesOut)
    const checked = promtool(answer.text)
    if (checked !== null) expect(checked).toBe('')
  })

  it('finds what is wrong with a bad exposition (the checker above can fail)', () => {
    const bad = [
      '# HELP x_requests requests',
      '# TYPE x_requests counter',
      'x_requests 1',
      'y_orphan 2',
      '# HELP x_latency_milliseconds latency',
      '# TYPE x_latency_milliseconds histogram',
      'x_latency_milliseconds_bucket{le="1"} 3',
      'x_latency_milliseconds_bucket{le="+Inf"} 2',
      'x_latency_milliseconds_sum 1',
      'x_latency_milliseconds_count 4',
      '# HELP x_g gauge',
      '# TYPE x_g gauge',
      'x_g{a="1"} 1',
      'x_g{a="1"} 2',
      'x_g{a="1} 2',
      '',
    ].join('\n')
    const problems = parsePrometheusText(bad).problems.join('\n')
    expect(problems).toContain('counter x_requests does not end in _total')
    expect(problems).toContain('sample y_orphan without HELP and TYPE')
    expect(problems).toContain('not in base units')
    expect(problems).toContain('buckets not cumulative')
    expect(problems).toContain('+Inf bucket 2 differs from _count 4')
    expect(problems).toContain('twice')
    expect(problems).toContain('unterminated label value')
  })

  it('names record fields in snake case', () => {
    expect(snakeCase('deltaRawBytes')).toBe('delta_raw_bytes')
    expect(snakeCase('probes')).toBe('probes')
    expect(snakeCase('auto.raftUnavailable')).toBe('auto_raft_unavailable')
  })
})
