/**
 * /metrics: Prometheus text exposition (format 0.0.4). Every family has HELP
 * and TYPE, values are in base units (seconds, bytes), counters end in
 * `_total`. What the node does is derived from `host.snapshot()` (the engines'
 * metrics records, member and link views, the kernel's status) and from its
 * events, counted by source and kind; nothing is kept beside them but what
 * only the API sees: the requests it served (a latency histogram by route,
 * method and consistency) and its sockets.
 */
import type { Subscription } from '../host/eventLog.ts'
import type { PeerFrameMetrics } from '../host/peerFrames.ts'
import type { HostSnapshot, ReplicaHost } from '../host/replicaHost.ts'
import type { ReplicaEvent } from '../core/index.ts'
import { apiLimits } from './contract.ts'

export const metricsContentType = 'text/plain; version=0.0.4; charset=utf-8'

/** Request latency buckets, seconds: a loopback strong write takes a few ms, a WAN one hundreds. */
export const latencyBucketsSeconds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const

type Labels = Readonly<Record<string, string>>
interface Sample {
  readonly labels?: Labels
  readonly value: number
  /** `_bucket`, `_sum`, `_count` of a histogram. */
  readonly suffix?: string
}
type MetricType = 'counter' | 'gauge' | 'histogram'

/** Builds one exposition: each family once, HELP and TYPE before its samples. */
class Exposition {
  private readonly lines: string[] = []
  private readonly names = new Set<string>()

  family(name: string, type: MetricType, help: string, samples: readonly Sample[]): void {
    if (this.names.has(name)) throw new Error(`metric family ${name} written twice`)
    if (type === 'counter' && !name.endsWith('_total')) throw new Error(`counter ${name} must end in _total`)
    this.names.add(name)
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`)
    for (const sample of samples) this.lines.push(`${name}${sample.suffix ?? ''}${labelText(sample.labels)} ${valueText(sample.value)}`)
  }

  text(): string {
    return this.lines.join('\n') + '\n'
  }
}

function labelText(labels: Labels | undefined): string {
  if (labels === undefined) return ''
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`
}

function valueText(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  return String(value)
}

/** camelCase to snake_case: `deltaRawBytes` → `delta_raw_bytes`. */
export function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9_]/g, '_')
    .toLowerCase()
}

// ---- what only the API sees ------------------------------------------------------

interface LatencySeries {
  readonly labels: Labels
  readonly buckets: number[]
  sumSeconds: number
  count: number
}

/** Requests served, by route, method, consistency and status; WebSocket connections; document updates refused. */
export class ApiStats {
  private readonly latency = new Map<string, LatencySeries>()
  private readonly responses = new Map<string, { readonly labels: Labels; count: number }>()
  /** Label sets beyond latencySeriesMax are counted here instead (the label values come from fixed sets, so this stays 0). */
  seriesDropped = 0
  readonly socketsOpen = new Map<string, number>()
  readonly socketsClosed = new Map<string, number>()
  docUpdatesRefused = 0
  docMessagesMalformed = 0

  recordRequest(route: string, method: string, consistency: string, status: number, seconds: number): void {
    const labels = { route, method, consistency }
    const key = `${route} ${method} ${consistency}`
    let series = this.latency.get(key)
    if (series === undefined) {
      if (this.latency.size >= apiLimits.latencySeriesMax) {
        this.seriesDropped++
        return
      }
      series = { labels, buckets: latencyBucketsSeconds.map(() => 0), sumSeconds: 0, count: 0 }
      this.latency.set(key, series)
    }
    for (let index = 0; index < latencyBucketsSeconds.length; index++) if (seconds <= latencyBucketsSeconds[index]!) series.buckets[index]!++
    series.sumSeconds += seconds
    series.count++
    // By route, method and status only (the family's labels): keyed by consistency too, one series would be written twice.
    const responseKey = `${route} ${method} ${status}`
    let responses = this.responses.get(responseKey)
    if (responses === undefined) {
      responses = { labels: { route, method, status: String(status) }, count: 0 }
      this.responses.set(responseKey, responses)
    }
    responses.count++
  }

  socketOpened(route: string): void {
    this.socketsOpen.set(route, (this.socketsOpen.get(route) ?? 0) + 1)
  }

  socketClosed(route: string): void {
    this.socketsOpen.set(route, (this.socketsOpen.get(route) ?? 1) - 1)
    this.socketsClosed.set(route, (this.socketsClosed.get(route) ?? 0) + 1)
  }

  latencySamples(): Sample[] {
    const samples: Sample[] = []
    for (const series of [...this.latency.values()].sort((a, b) => compareLabels(a.labels, b.labels))) {
      latencyBucketsSeconds.forEach((bound, index) => samples.push({ suffix: '_bucket', labels: { ...series.labels, le: String(bound) }, value: series.buckets[index]! }))
      samples.push({ suffix: '_bucket', labels: { ...series.labels, le: '+Inf' }, value: series.count })
      samples.push({ suffix: '_sum', labels: series.labels, value: series.sumSeconds })
      samples.push({ suffix: '_count', labels: series.labels, value: series.count })
    }
    return samples
  }

  responseSamples(): Sample[] {
    return [...this.responses.values()].sort((a, b) => compareLabels(a.labels, b.labels)).map(({ labels, count }) => ({ labels, value: count }))
  }
}

function compareLabels(a: Labels, b: Labels): number {
  const left = JSON.stringify(a)
  const right = JSON.stringify(b)
  return left < right ? -1 : left > right ? 1 : 0
}

/**
 * The node's events counted by source and kind, from one subscription of the
 * host's event log (drained as events come, so it is never cut off; if it
 * were, it subscribes again and counts on).
 */
export class EventCounts {
  private readonly counts = new Map<string, { readonly labels: Labels; count: number }>()
  private subscription: Subscription<ReplicaEvent> | null = null
  private readonly host: Pick<ReplicaHost, 'subscribe'>
  resubscriptions = 0

  constructor(host: Pick<ReplicaHost, 'subscribe'>) {
    this.host = host
    this.attach()
  }

  samples(): Sample[] {
    return [...this.counts.values()].sort((a, b) => compareLabels(a.labels, b.labels)).map(({ labels, count }) => ({ labels, value: count }))
  }

  private attach(): void {
    const subscription = this.host.subscribe(null)
    if (!('take' in subscription)) return // subscribersMax viewers attached: count nothing rather than refuse one
    this.subscription = subscription
    subscription.onAvailable = () => this.drain()
  }

  private drain(): void {
    const subscription = this.subscription
    if (subscription === null) return
    for (const item of subscription.take(Number.MAX_SAFE_INTEGER)) {
      if (item.kind === 'event') this.count(item.event.source, kindOf(item.event.event))
      else if (item.kind === 'cutOff') {
        this.subscription = null
        this.resubscriptions++
        this.attach()
      }
    }
  }

  private count(source: string, kind: string): void {
    const key = `${source}/${kind}`
    let entry = this.counts.get(key)
    if (entry === undefined) {
      entry = { labels: { source, kind }, count: 0 }
      this.counts.set(key, entry)
    }
    entry.count++
  }
}

/** An engine event's kind (mode changes say `type: 'modeChanged'`). */
function kindOf(event: object): string {
  const named = event as { readonly kind?: unknown; readonly type?: unknown }
  return typeof named.kind === 'string' ? named.kind : typeof named.type === 'string' ? named.type : 'unknown'
}

// ---- the exposition ----------------------------------------------------------------

export interface MetricsSources {
  readonly snapshot: HostSnapshot
  readonly api: ApiStats
  readonly events: EventCounts
  readonly frames: PeerFrameMetrics | null
  /** Peer sockets refused by the host's links, by reason (garbage, frames before the hello, a bad signature…); null: no links. */
  readonly linkRefusals?: Readonly<Record<string, number>> | null
}

/** Units of metrics-record fields, read from their names: `…Bytes` are bytes. */
function counterName(prefix: string, field: string): string {
  return `${prefix}_${snakeCase(field)}_total`
}

/**
 * An engine's metrics record (every field a count since this node started):
 * one counter per field; `group.member` fields (the replica's `path.raft`,
 * `auto.deadline`) become one counter labelled by the group.
 */
function writeRecord(out: Exposition, prefix: string, what: string, record: Readonly<Record<string, number>> | null): void {
  if (record === null) return
  const grouped = new Map<string, Sample[]>()
  for (const field of Object.keys(record).sort()) {
    const dot = field.indexOf('.')
    if (dot < 0) {
      out.family(counterName(prefix, field), 'counter', `${what}: ${field} since this node started`, [{ value: record[field]! }])
      continue
    }
    const group = field.slice(0, dot)
    const samples = grouped.get(group) ?? []
    samples.push({ labels: { [snakeCase(group)]: field.slice(dot + 1) }, value: record[field]! })
    grouped.set(group, samples)
  }
  for (const [group, samples] of grouped) out.family(counterName(prefix, group), 'counter', `${what}: ${group}.* since this node started, by ${group}`, samples)
}

const modes = ['datacenter', 'hybrid', 'internet'] as const
const memberStates = ['alive', 'suspect', 'dead', 'left'] as const

export function renderMetrics(sources: MetricsSources): string {
  const { snapshot, api, events, frames } = sources
  const linkRefusals = sources.linkRefusals ?? null
  const out = new Exposition()
  const node = snapshot.node
  out.family('dwcp_node_info', 'gauge', 'This node: id, region and incarnation (always 1)', [{ labels: { node: node.id, region: node.region, boot: String(node.boot) }, value: 1 }])
  out.family(
    'dwcp_home_mode',
    'gauge',
    'The home (Raft) group mode as this node measures it (1 for the current mode)',
    modes.map((mode) => ({ labels: { mode }, value: node.homeMode === mode ? 1 : 0 })),
  )

  // Raft
  const raft = snapshot.raft
  if (raft !== null) {
    out.family('dwcp_raft_term', 'gauge', 'Raft term', [{ value: raft.term }])
    out.family(
      'dwcp_raft_role',
      'gauge',
      'Raft role of this node (1 for the current role)',
      ['follower', 'preCandidate', 'candidate', 'leader'].map((role) => ({ labels: { role }, value: raft.role === role ? 1 : 0 })),
    )
    out.family('dwcp_raft_leader_known', 'gauge', 'Whether this node knows a Raft leader', [{ value: raft.leader === null ? 0 : 1 }])
    out.family('dwcp_raft_commit_index', 'gauge', 'Raft commit index', [{ value: raft.commit }])
    out.family('dwcp_raft_applied_index', 'gauge', 'Raft applied index', [{ value: raft.applied }])
    out.family('dwcp_raft_last_index', 'gauge', 'Raft last log index', [{ value: raft.lastIndex }])
    out.family('dwcp_raft_voters', 'gauge', 'Raft voters', [{ value: raft.voters.length }])
    out.family('dwcp_raft_learners', 'gauge', 'Raft learners', [{ value: raft.learners.length }])
    out.family(
      'dwcp_raft_follower_lag_entries',
      'gauge',
      'Entries a follower lacks (on the leader)',
      raft.followers.map((follower) => ({ labels: { peer: follower.id }, value: follower.lag })),
    )
  }

  // PBFT
  const pbft = snapshot.pbft
  if (pbft !== null) {
    out.family('dwcp_pbft_view', 'gauge', 'PBFT view', [{ value: pbft.view }])
    out.family('dwcp_pbft_view_changing', 'gauge', 'Whether a PBFT view change is under way', [{ value: pbft.phase === 'viewChange' ? 1 : 0 }])
    out.family('dwcp_pbft_executed', 'gauge', 'PBFT sequence number executed last', [{ value: pbft.executed }])
    out.family('dwcp_pbft_low_watermark', 'gauge', 'PBFT low watermark (last stable checkpoint)', [{ value: pbft.lowWatermark }])
    out.family('dwcp_pbft_pending_requests', 'gauge', 'PBFT requests waiting at this gateway', [{ value: pbft.pendingRequests }])
    out.family(
      'dwcp_pbft_reputation',
      'gauge',
      'Reputation score of each PBFT replica as this node sees it',
      [...pbft.replicas].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((replica) => ({ labels: { replica: replica.id }, value: replica.reputation })),
    )
  }

  // Membership and links
  out.family(
    'dwcp_members',
    'gauge',
    'Members this node knows, by SWIM state',
    memberStates.map((state) => ({ labels: { state }, value: snapshot.members.filter((member) => member.state === state).length })),
  )
  out.family(
    'dwcp_member_state',
    'gauge',
    'Each member by SWIM state (1 for its current state)',
    snapshot.members.flatMap((member) => memberStates.map((state) => ({ labels: { member: member.id, state }, value: member.state === state ? 1 : 0 }))),
  )
  out.family(
    'dwcp_member_incarnation',
    'gauge',
    "Each member's SWIM incarnation",
    snapshot.members.map((member) => ({ labels: { member: member.id }, value: member.incarnation })),
  )
  const linked = snapshot.members.filter((member) => member.link !== null)
  const measured = (pick: (link: NonNullable<(typeof linked)[number]['link']>) => number | null, scale = 1): Sample[] =>
    linked.flatMap((member) => {
      const value = pick(member.link!)
      return value === null ? [] : [{ labels: { peer: member.id }, value: value * scale }]
    })
  out.family(
    'dwcp_link_mode',
    'gauge',
    "Each link's mode (1 for its current mode)",
    linked.flatMap((member) => modes.map((mode) => ({ labels: { peer: member.id, mode }, value: member.link!.mode === mode ? 1 : 0 }))),
  )
  out.family(
    'dwcp_link_rtt_p50_seconds',
    'gauge',
    'Median round trip to each peer',
    measured((link) => link.rttMsP50, 1 / 1000),
  )
  out.family(
    'dwcp_link_rtt_p99_seconds',
    'gauge',
    '99th percentile round trip to each peer',
    measured((link) => link.rttMsP99, 1 / 1000),
  )
  out.family(
    'dwcp_link_loss_ratio',
    'gauge',
    'Probe loss ratio to each peer',
    measured((link) => link.lossRate),
  )
  out.family(
    'dwcp_link_bandwidth_bytes_per_second',
    'gauge',
    'Estimated bandwidth to each peer',
    measured((link) => link.bandwidthBitsPerSecond, 1 / 8),
  )
  out.family(
    'dwcp_link_samples',
    'gauge',
    'Measurements behind each link estimate',
    linked.map((member) => ({ labels: { peer: member.id }, value: member.link!.samples })),
  )

  // Keyspace
  out.family(
    'dwcp_namespace_keys',
    'gauge',
    'Keys held in the replicated store, by namespace',
    snapshot.namespaces.map(({ namespace, keys }) => ({ labels: { namespace }, value: keys })),
  )
  out.family(
    'dwcp_policies',
    'gauge',
    'Namespaces with a policy of their own, by consistency',
    (['eventual', 'strong', 'byzantine', 'auto'] as const).map((consistency) => ({ labels: { consistency }, value: snapshot.policies.filter(({ policy }) => policy.consistency === consistency).length })),
  )

  // Engines' own counters
  writeRecord(out, 'dwcp_replica', 'replica', snapshot.metrics.replica)
  writeRecord(out, 'dwcp_crdt', 'crdt engine', snapshot.metrics.crdt)
  writeRecord(out, 'dwcp_gossip', 'gossip engine', snapshot.metrics.gossip)
  writeRecord(out, 'dwcp_raft', 'raft engine', snapshot.metrics.raft)
  writeRecord(out, 'dwcp_pbft', 'pbft engine', snapshot.metrics.pbft)

  // The host kernel
  const kernel = snapshot.kernel
  out.family('dwcp_kernel_readies_total', 'counter', 'Readies the kernel handled (persist, send, apply, advance)', [{ value: kernel.readies }])
  out.family('dwcp_kernel_steps_refused_total', 'counter', 'Peer messages the replica refused', [{ value: kernel.stepsRefused }])
  out.family('dwcp_kernel_calls_refused_total', 'counter', 'Client calls refused without a reply (overloaded, invalid)', [{ value: kernel.callsRefused }])
  out.family('dwcp_kernel_calls_in_flight', 'gauge', "Client calls waiting for the replica's reply", [{ value: kernel.inFlight }])
  out.family('dwcp_kernel_replies_unmatched_total', 'counter', 'Replies that answered no waiting call', [{ value: kernel.repliesUnmatched }])
  out.family('dwcp_kernel_ticks_total', 'counter', 'Ticks run', [{ value: kernel.ticks.ticksRun }])
  out.family('dwcp_kernel_ticks_skipped_total', 'counter', 'Ticks skipped because the host fell behind', [{ value: kernel.ticks.ticksSkipped }])
  out.family('dwcp_kernel_tick_seconds', 'gauge', 'Length of one tick', [{ value: kernel.ticks.tickMs / 1000 }])
  out.family('dwcp_events_last_seq', 'gauge', 'Number of the last event of this incarnation', [{ value: snapshot.events.lastSeq }])
  out.family('dwcp_events_retained', 'gauge', 'Events kept for viewers that resume', [{ value: kernel.events.retained }])
  out.family('dwcp_event_subscribers', 'gauge', 'Event subscribers attached (viewers, document hub, metrics)', [{ value: kernel.events.subscribers }])
  out.family('dwcp_event_subscribers_cut_off_total', 'counter', 'Event subscribers cut off for not keeping up', [{ value: kernel.events.subscribersCutOff }])
  out.family('dwcp_events_total', 'counter', 'Events of this node since the API started, by engine and kind', events.samples())

  // Peer frames, when the host gives them
  if (frames !== null) {
    out.family('dwcp_peer_frames_out_total', 'counter', 'Peer frames sent', [{ value: frames.framesOut }])
    out.family('dwcp_peer_frames_in_total', 'counter', 'Peer frames received', [{ value: frames.framesIn }])
    out.family('dwcp_peer_messages_chunked_total', 'counter', 'Peer messages sent as several chunk frames', [{ value: frames.messagesChunked }])
    out.family('dwcp_peer_frames_refused_total', 'counter', 'Peer frames refused, by reason', [
      { labels: { reason: 'malformed' }, value: frames.refusedMalformed },
      { labels: { reason: 'wrongCluster' }, value: frames.refusedWrongCluster },
      { labels: { reason: 'wrongDestination' }, value: frames.refusedWrongDestination },
      { labels: { reason: 'wrongSender' }, value: frames.refusedWrongSender },
    ])
  }

  if (linkRefusals !== null) {
    out.family(
      'dwcp_peer_sockets_refused_total',
      'counter',
      'Peer link sockets refused before or during the hello, or for garbage after it, by reason',
      Object.keys(linkRefusals)
        .sort()
        .map((reason) => ({ labels: { reason }, value: linkRefusals[reason]! })),
    )
  }

  // The API
  out.family('dwcp_http_request_duration_seconds', 'histogram', 'HTTP request latency, by route, method and consistency', api.latencySamples())
  out.family('dwcp_http_responses_total', 'counter', 'HTTP responses, by route, method and status', api.responseSamples())
  out.family('dwcp_http_latency_series_dropped_total', 'counter', 'Requests not recorded in the latency histogram because latencySeriesMax label sets exist', [{ value: api.seriesDropped }])
  out.family(
    'dwcp_websockets_open',
    'gauge',
    'WebSocket connections open, by route',
    [...api.socketsOpen].sort().map(([route, count]) => ({ labels: { route }, value: count })),
  )
  out.family(
    'dwcp_websockets_closed_total',
    'counter',
    'WebSocket connections closed, by route',
    [...api.socketsClosed].sort().map(([route, count]) => ({ labels: { route }, value: count })),
  )
  out.family('dwcp_doc_updates_refused_total', 'counter', 'Document updates refused on read-only connections', [{ value: api.docUpdatesRefused }])
  out.family('dwcp_doc_messages_malformed_total', 'counter', 'Document client messages that were not y-protocols messages', [{ value: api.docMessagesMalformed }])
  return out.text()
}
