/**
 * cluster: real `dwcp node` processes on loopback beside their anchors, every
 * case and its anchor measured in the same run (issue 16, Build 7):
 * - puts: a 3-node cluster (SQLite synchronous=FULL, as shipped), 256-byte
 *   values, 1 and 64 closed-loop HTTP clients spread over the nodes, strong,
 *   auto and eventual puts; byzantine puts on a 4-node cluster (its PBFT
 *   group); etcd 3.4 (3 members) at 1 and 64 clients with the same values and
 *   keys. Each strong case carries etcd's figures and `ratio` (ours/etcd
 *   puts/s) and `p99Ratio` (ours/etcd p99).
 * - transport: 256-byte frames/s through PeerLinks beside raw ws one-way
 *   messages/s (bench/anchors/rawWs.ts), both in this process.
 * - yjs: a y-websocket 3 writer on n1 and reader on n2 of the 3-node cluster
 *   (n3 replicates too) beside the same two clients on @y/websocket-server:
 *   updates/s and delivery latency with 1 and with 32 updates outstanding.
 * Targets (reported, never enforced): strong puts ≥ etcd at 1 and 64 clients
 * with p99 no worse; transport ≥ 0.7× raw ws; Yjs ≥ 0.8× the reference.
 * Every result carries `loadAvg1m`, the machine's load when the case began:
 * figures from a loaded machine say so.
 */
import { loadavg } from 'node:os'
import type { Consistency, Policy } from '../core/replica/policy.ts'
import { defaultNodePolicies } from '../node/policies.ts'
import { startEtcd } from './anchors/etcd.ts'
import { rawWsOneWay } from './anchors/rawWs.ts'
import { startReferenceYServer } from './anchors/yServer.ts'
import type { ClosedLoopResult } from './closedLoop.ts'
import { closedLoop } from './closedLoop.ts'
import { startNodeCluster, type NodeCluster } from './cluster/nodeProcesses.ts'
import { benchKey, benchValue, putLoop, settle, valueBytes, type PutLoad } from './cluster/puts.ts'
import { peerLinksOneWay } from './cluster/transport.ts'
import { yjsDelivery, type YjsDeliveryResult } from './cluster/yjsDelivery.ts'
import { round, type Bench, type BenchResult } from './report.ts'

/** The targets, as ratios of ours to the anchor's. */
export const clusterTargets = {
  strongPutsRatio: 1,
  strongP99RatioMax: 1,
  transportRatio: 0.7,
  yjsRatio: 0.8,
} as const

const clientCounts = [1, 64] as const
const frameBytes = 256
const yjsWindows = [1, 32] as const
/** Namespaces of the bench cluster: the shipped ones, plus `ev` (eventual registers, which the defaults lack). */
const namespaceOf: Record<Consistency, string> = { strong: 'cfg', auto: 'edge', eventual: 'ev', byzantine: 'bft' }

interface Durations {
  readonly put: Omit<PutLoad, 'clients'>
  readonly transportMs: number
  readonly yjs: { durationMs: number; warmupMs: number }
}

function durations(quick: boolean): Durations {
  return quick ? { put: { durationMs: 300, warmupMs: 100 }, transportMs: 300, yjs: { durationMs: 300, warmupMs: 100 } } : { put: { durationMs: 5_000, warmupMs: 1_000 }, transportMs: 3_000, yjs: { durationMs: 5_000, warmupMs: 1_000 } }
}

function benchPolicies(pbft: boolean): Record<string, Policy> {
  return { ...defaultNodePolicies(pbft), [namespaceOf.eventual]: { consistency: 'eventual', valueType: 'register', home: null } }
}

function load1m(): number {
  return round(loadavg()[0]!, 2)
}

/** A result's figures, without its case name. */
type Figures = { readonly opsPerSecond: number; readonly p50Ms: number; readonly p99Ms: number; readonly [extra: string]: number | string | undefined }

function loopFields(result: ClosedLoopResult & { readonly retries?: number }): Figures {
  return {
    opsPerSecond: result.opsPerSecond,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    operations: result.operations,
    errors: result.errors,
    ...(result.retries === undefined ? {} : { retries: result.retries }),
    ...(result.firstError === undefined ? {} : { firstError: result.firstError }),
  }
}

function ratio(ours: number, anchor: number): number {
  return anchor > 0 ? round(ours / anchor, 3) : 0
}

async function withCluster<T>(nodes: number, pbft: boolean, run: (cluster: NodeCluster) => Promise<T>): Promise<T> {
  const cluster = await startNodeCluster(nodes, benchPolicies(pbft), pbft)
  try {
    return await run(cluster)
  } finally {
    await cluster.close()
  }
}

export const clusterBench: Bench = {
  name: 'cluster',
  summary: 'puts/s and p50/p99 of a local cluster of node processes (strong, auto, eventual; byzantine on 4 nodes) beside etcd; peer-link frames/s beside raw ws; Yjs updates/s beside @y/websocket-server',
  run: async ({ quick, progress }) => {
    const times = durations(quick)
    const results: BenchResult[] = []
    const putCase = (name: string, nodes: number, clients: number, loadAvg1m: number, result: ClosedLoopResult & { readonly retries?: number }): BenchResult => ({
      case: name,
      ...loopFields(result),
      clients,
      nodes,
      valueBytes,
      loadAvg1m,
      unit: 'puts/s',
    })

    // 3 nodes: strong, auto and eventual puts, then Yjs through n1 to n2 while n3 replicates.
    const threeNode: BenchResult[] = []
    const yjsNode = new Map<number, { load: number; result: YjsDeliveryResult }>()
    progress('cluster: starting 3 node processes')
    await withCluster(3, false, async (cluster) => {
      for (const consistency of ['strong', 'auto', 'eventual'] as const) {
        await settle(cluster.urls, namespaceOf[consistency], consistency)
        for (const clients of clientCounts) {
          progress(`cluster: ${consistency} puts, ${clients} client(s)`)
          const load = load1m()
          threeNode.push(putCase(`put-${consistency}-${clients}`, 3, clients, load, await putLoop(cluster.urls, namespaceOf[consistency], consistency, { clients, ...times.put })))
        }
      }
      const docsUrl = (index: number) => `${cluster.urls[index]!.replace(/^http/, 'ws')}/v1/docs`
      for (const window of yjsWindows) {
        progress(`cluster: yjs through n1 to n2, ${window} outstanding`)
        const load = load1m()
        yjsNode.set(window, { load, result: await yjsDelivery({ writerUrl: docsUrl(0), readerUrl: docsUrl(1), room: `bench-${window}-${Date.now()}`, window, ...times.yjs }) })
      }
    })

    progress('cluster: yjs on @y/websocket-server')
    const yjsReference = new Map<number, { load: number; result: YjsDeliveryResult }>()
    const yServer = await startReferenceYServer()
    try {
      for (const window of yjsWindows) {
        const load = load1m()
        yjsReference.set(window, { load, result: await yjsDelivery({ writerUrl: yServer.url, readerUrl: yServer.url, room: `bench-${window}`, window, ...times.yjs }) })
      }
    } finally {
      await yServer.close()
    }

    progress('cluster: starting etcd (3 members)')
    const etcdResults = new Map<number, BenchResult>()
    const etcd = await startEtcd(3)
    try {
      for (const clients of clientCounts) {
        progress(`cluster: etcd puts, ${clients} client(s)`)
        const load = load1m()
        const result = await closedLoop({ clients, ...times.put, operation: (client, index) => etcd.put(client, benchKey('bench', client, index), benchValue) })
        etcdResults.set(clients, putCase(`etcd-put-${clients}`, 3, clients, load, result))
      }
    } finally {
      await etcd.close()
    }

    progress('cluster: starting 4 node processes (PBFT group)')
    const byzantine: BenchResult[] = []
    await withCluster(4, true, async (cluster) => {
      await settle(cluster.urls, namespaceOf.byzantine, 'byzantine')
      for (const clients of clientCounts) {
        progress(`cluster: byzantine puts, ${clients} client(s)`)
        const load = load1m()
        byzantine.push(putCase(`put-byzantine-${clients}`, 4, clients, load, await putLoop(cluster.urls, namespaceOf.byzantine, 'byzantine', { clients, ...times.put })))
      }
    })

    for (const result of threeNode) {
      if (!result.case.startsWith('put-strong-')) {
        results.push(result)
        continue
      }
      const anchor = etcdResults.get(result.clients as number)!
      results.push({
        ...result,
        etcdOpsPerSecond: anchor.opsPerSecond,
        etcdP99Ms: anchor.p99Ms,
        ratio: ratio(result.opsPerSecond, anchor.opsPerSecond),
        p99Ratio: ratio(result.p99Ms ?? 0, anchor.p99Ms ?? 0),
        ratioTarget: clusterTargets.strongPutsRatio,
        p99RatioMax: clusterTargets.strongP99RatioMax,
      })
    }
    results.push(...byzantine, ...etcdResults.values())

    progress('cluster: transport, peer links and raw ws')
    const load = load1m()
    const links = await peerLinksOneWay(frameBytes, times.transportMs)
    const rawLoad = load1m()
    const raw = await rawWsOneWay(frameBytes, times.transportMs)
    results.push({
      case: `transport-peer-links-${frameBytes}`,
      opsPerSecond: links.messagesPerSecond,
      bytes: frameBytes,
      messages: links.messages,
      dropped: links.dropped,
      rawWsMessagesPerSecond: raw.messagesPerSecond,
      ratio: ratio(links.messagesPerSecond, raw.messagesPerSecond),
      ratioTarget: clusterTargets.transportRatio,
      loadAvg1m: load,
      unit: 'frames/s',
    })
    results.push({ case: `transport-raw-ws-${frameBytes}`, opsPerSecond: raw.messagesPerSecond, bytes: frameBytes, messages: raw.messages, loadAvg1m: rawLoad, unit: 'messages/s' })

    for (const window of yjsWindows) {
      const ours = yjsNode.get(window)!
      const reference = yjsReference.get(window)!
      results.push({
        case: `yjs-node-window-${window}`,
        ...yjsFields(ours.result),
        window,
        referenceUpdatesPerSecond: reference.result.updatesPerSecond,
        referenceP99Ms: reference.result.p99Ms,
        ratio: ratio(ours.result.updatesPerSecond, reference.result.updatesPerSecond),
        ratioTarget: clusterTargets.yjsRatio,
        loadAvg1m: ours.load,
        unit: 'updates/s',
      })
      results.push({ case: `yjs-reference-window-${window}`, ...yjsFields(reference.result), window, loadAvg1m: reference.load, unit: 'updates/s' })
    }
    return results
  },
}

function yjsFields(result: YjsDeliveryResult): Figures {
  return { opsPerSecond: result.updatesPerSecond, p50Ms: result.p50Ms, p99Ms: result.p99Ms, updates: result.updates, ...(result.stalled === undefined ? {} : { stalled: result.stalled }) }
}
