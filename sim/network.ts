/**
 * The simulator's network. It decides, with its own seeded stream, what
 * happens to every message: when it arrives (per-link latency distribution),
 * whether it is lost, duplicated or delayed past later messages (reordering),
 * and whether a partition or a clogged link stands in the way.
 *
 * Fault model, all rates per message:
 * - loss: dropped with `lossProbability`;
 * - duplication: delivered twice with `duplicateProbability`, the copy with its
 *   own latency sample;
 * - reordering: latency jitter reorders messages on its own; in addition, with
 *   `reorderProbability` a message is held back up to `reorderDelayUsMax`;
 * - partitions: cuts between node sets drop messages at send and at delivery
 *   time, so a partition also cuts what was in flight; symmetric or one-way;
 * - clogging: a clogged link loses nothing but delivers nothing before the
 *   clog ends (a stalled TCP connection, a saturated uplink).
 */
import { assertFailed } from '../core/lib/assert.ts'
import type { Rng } from '../core/lib/prng.ts'

/** One-way delay of a link: `baseUs` plus an exponential tail with mean `jitterUs`, capped at 8 means. */
export interface LinkLatency {
  readonly baseUs: number
  readonly jitterUs: number
}

export interface NetworkFaults {
  readonly lossProbability: number
  readonly duplicateProbability: number
  readonly reorderProbability: number
  readonly reorderDelayUsMax: number
}

export interface NetworkConfig {
  readonly faults: NetworkFaults
  /** Links inside one region: a datacenter LAN. */
  readonly lanLatency: LinkLatency
  /** Links between regions get a base drawn once per region pair from this range. */
  readonly wanBaseUsMin: number
  readonly wanBaseUsMax: number
  readonly wanJitterUs: number
  /** Messages in flight at once; beyond it sends are dropped and counted. */
  readonly inFlightMessagesMax: number
}

export const noNetworkFaults: NetworkFaults = { lossProbability: 0, duplicateProbability: 0, reorderProbability: 0, reorderDelayUsMax: 0 }

export const defaultNetworkConfig: NetworkConfig = {
  faults: { lossProbability: 0.01, duplicateProbability: 0.01, reorderProbability: 0.01, reorderDelayUsMax: 50_000 },
  lanLatency: { baseUs: 300, jitterUs: 200 },
  wanBaseUsMin: 20_000,
  wanBaseUsMax: 120_000,
  wanJitterUs: 5_000,
  inFlightMessagesMax: 4_000_000,
}

export const networkLimits = {
  /** Nodes one simulated network holds. */
  nodesMax: 16_384,
  /** Up to this many nodes, per-link reorder tracking is one dense n² array; beyond, a bounded map. */
  denseLinksNodesMax: 2048,
  /** Links whose order is tracked in the sparse map; when full it starts over (reordering is then undercounted). */
  trackedLinksMax: 4_000_000,
  /** Partition cuts in force at once. */
  cutsMax: 64,
} as const

/** A one-way cut: every node marked in `from` cannot reach any node marked in `to`. */
interface Cut {
  readonly from: Uint8Array
  readonly to: Uint8Array
}

export interface NetworkMetrics {
  sent: number
  delivered: number
  droppedLoss: number
  droppedPartition: number
  droppedNodeDown: number
  droppedOverCapacity: number
  duplicated: number
  reorderDelayed: number
  reordered: number
  clogDelayed: number
}

/** The network counters scenarios report, as `network.*` metrics. */
export function networkReport(metrics: NetworkMetrics): Record<string, number> {
  return {
    'network.sent': metrics.sent,
    'network.delivered': metrics.delivered,
    'network.droppedLoss': metrics.droppedLoss,
    'network.droppedPartition': metrics.droppedPartition,
    'network.duplicated': metrics.duplicated,
    'network.reordered': metrics.reordered,
  }
}

export function newNetworkMetrics(): NetworkMetrics {
  return {
    sent: 0,
    delivered: 0,
    droppedLoss: 0,
    droppedPartition: 0,
    droppedNodeDown: 0,
    droppedOverCapacity: 0,
    duplicated: 0,
    reorderDelayed: 0,
    reordered: 0,
    clogDelayed: 0,
  }
}

export class SimNetwork {
  readonly nodeCount: number
  readonly metrics = newNetworkMetrics()
  faults: NetworkFaults
  private readonly config: NetworkConfig
  private readonly rng: Rng
  private readonly regionOf: readonly number[]
  /** Latency per region pair, [fromRegion * regionCount + toRegion]. */
  private readonly regionLatency: LinkLatency[]
  private readonly regionCount: number
  private readonly linkOverrides = new Map<number, LinkLatency>()
  private readonly cuts: Cut[] = []
  private readonly clogUntilUs = new Map<number, number>()
  /** Extra delay before a node handles what reaches it: a starved process working through a backlog. */
  private readonly inboundDelayUs = new Map<number, number>()
  /** Highest send sequence delivered per link (low 32 bits), to count reordering: dense for small networks. */
  private readonly lastDeliveredSeq: Int32Array | null
  private readonly lastDeliveredSeqSparse = new Map<number, number>()
  private inFlight = 0
  /** Delivery times of the last `route` call: the first `copies` entries are valid. Reused to spare allocations. */
  readonly deliveryTimesUs = new Float64Array(2)

  constructor(options: { readonly regionOf: readonly number[]; readonly rng: Rng; readonly config?: NetworkConfig }) {
    this.nodeCount = options.regionOf.length
    if (this.nodeCount < 1 || this.nodeCount > networkLimits.nodesMax) assertFailed(`network of ${this.nodeCount} nodes: 1..${networkLimits.nodesMax}`)
    this.config = options.config ?? defaultNetworkConfig
    this.faults = this.config.faults
    this.rng = options.rng
    this.regionOf = options.regionOf
    this.regionCount = Math.max(...options.regionOf) + 1
    this.regionLatency = this.drawRegionLatency()
    this.lastDeliveredSeq = this.nodeCount <= networkLimits.denseLinksNodesMax ? new Int32Array(this.nodeCount * this.nodeCount) : null
  }

  private drawRegionLatency(): LinkLatency[] {
    const table: LinkLatency[] = []
    const { wanBaseUsMin, wanBaseUsMax, wanJitterUs, lanLatency } = this.config
    for (let a = 0; a < this.regionCount; a++) {
      for (let b = 0; b < this.regionCount; b++) {
        if (a === b) table.push(lanLatency)
        else if (b < a)
          table.push(table[b * this.regionCount + a]!) // the same distance both ways
        else table.push({ baseUs: this.rng.intBetween(wanBaseUsMin, wanBaseUsMax), jitterUs: wanJitterUs })
      }
    }
    return table
  }

  latency(from: number, to: number): LinkLatency {
    const override = this.linkOverrides.size === 0 ? undefined : this.linkOverrides.get(from * this.nodeCount + to)
    return override ?? this.regionLatency[this.regionOf[from]! * this.regionCount + this.regionOf[to]!]!
  }

  setLatency(from: number, to: number, latency: LinkLatency): void {
    this.linkOverrides.set(from * this.nodeCount + to, latency)
  }

  private sampleDelayUs(latency: LinkLatency): number {
    if (latency.jitterUs === 0) return latency.baseUs
    const tail = Math.min(-Math.log(1 - this.rng.float()) * latency.jitterUs, 8 * latency.jitterUs)
    return latency.baseUs + Math.floor(tail)
  }

  /**
   * Decides the fate of one message sent now. Returns how many copies travel
   * (0 when dropped) and writes their arrival times into `deliveryTimesUs`.
   */
  route(from: number, to: number, nowUs: number): number {
    this.metrics.sent++
    const link = from * this.nodeCount + to
    if (this.cuts.length > 0 && this.isBlocked(from, to)) {
      this.metrics.droppedPartition++
      return 0
    }
    const faults = this.faults
    if (this.rng.chance(faults.lossProbability)) {
      this.metrics.droppedLoss++
      return 0
    }
    const copies = this.rng.chance(faults.duplicateProbability) ? 2 : 1
    if (copies === 2) this.metrics.duplicated++
    if (this.inFlight + copies > this.config.inFlightMessagesMax) {
      this.metrics.droppedOverCapacity++
      return 0
    }
    const latency = this.latency(from, to)
    const backlogUs = this.inboundDelayUs.size === 0 ? 0 : (this.inboundDelayUs.get(to) ?? 0)
    const clogUntilUs = this.clogUntilUs.size > 0 ? (this.clogUntilUs.get(link) ?? 0) : 0
    for (let copy = 0; copy < copies; copy++) {
      let atUs = nowUs + this.sampleDelayUs(latency) + backlogUs
      if (this.rng.chance(faults.reorderProbability)) {
        atUs += this.rng.int(faults.reorderDelayUsMax + 1)
        this.metrics.reorderDelayed++
      }
      if (atUs < clogUntilUs) {
        atUs = clogUntilUs
        this.metrics.clogDelayed++
      }
      this.deliveryTimesUs[copy] = atUs
    }
    this.inFlight += copies
    return copies
  }

  /**
   * A message reaches `to`'s door: true when it may be handed over. `sendSeq`
   * is the sender's global send order, used to count reordering per link.
   */
  arrive(from: number, to: number, sendSeq: number): boolean {
    this.inFlight--
    if (this.cuts.length > 0 && this.isBlocked(from, to)) {
      this.metrics.droppedPartition++
      return false
    }
    const link = from * this.nodeCount + to
    // Compared modulo 2^32: two messages of one link are never 2^31 sends apart while both in flight.
    const seq = (sendSeq + 1) | 0
    const dense = this.lastDeliveredSeq
    const last = dense !== null ? dense[link]! : (this.lastDeliveredSeqSparse.get(link) ?? 0)
    if (((seq - last) | 0) < 0) this.metrics.reordered++
    else if (dense !== null) dense[link] = seq
    else {
      if (this.lastDeliveredSeqSparse.size >= networkLimits.trackedLinksMax) this.lastDeliveredSeqSparse.clear()
      this.lastDeliveredSeqSparse.set(link, seq)
    }
    return true
  }

  /** Cuts both directions between every node of `a` and every node of `b`. */
  partition(a: readonly number[], b: readonly number[]): void {
    this.partitionOneWay(a, b)
    this.partitionOneWay(b, a)
  }

  /** Cuts only from → to: `from` nodes can still hear `to` nodes. */
  partitionOneWay(from: readonly number[], to: readonly number[]): void {
    if (this.cuts.length >= networkLimits.cutsMax) assertFailed(`more than cutsMax=${networkLimits.cutsMax} partition cuts at once`)
    const cut: Cut = { from: new Uint8Array(this.nodeCount), to: new Uint8Array(this.nodeCount) }
    for (const node of from) cut.from[node] = 1
    for (const node of to) cut.to[node] = 1
    this.cuts.push(cut)
  }

  isBlocked(from: number, to: number): boolean {
    if (from === to) return false
    for (const cut of this.cuts) if (cut.from[from] === 1 && cut.to[to] === 1) return true
    return false
  }

  /** Holds every message on from → to until `untilUs`. */
  clog(from: number, to: number, untilUs: number): void {
    this.clogUntilUs.set(from * this.nodeCount + to, untilUs)
  }

  /** Delays everything that reaches `node` by `delayUs` (0 ends it); `heal` does not undo it. */
  setInboundDelay(node: number, delayUs: number): void {
    if (delayUs > 0) this.inboundDelayUs.set(node, delayUs)
    else this.inboundDelayUs.delete(node)
  }

  /** Restores every link: no partition, no clog. */
  heal(): void {
    this.cuts.length = 0
    this.clogUntilUs.clear()
  }

  get partitioned(): boolean {
    return this.cuts.length > 0
  }
}
