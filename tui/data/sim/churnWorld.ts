/**
 * `churn`: a large SWIM membership to watch at scale (1,000 nodes by default,
 * up to the network's limit): gossip engines only, since a replica cluster
 * holds at most replicaLimits.membersMax members. Over three regions, nodes
 * crash and come back now and then (the simulator's shared fault schedule,
 * crashes only), so members go suspect, dead and alive again. A view of the
 * engines, not a test: it has no checker (`dwcp sim swim` and `gossip` judge
 * SWIM); it runs until stopped.
 */
import { gossipCodec } from '../../../core/gossip/codec.ts'
import { wanGossipConfig } from '../../../core/gossip/config.ts'
import { GossipEngine, type GossipApplied, type GossipCommand, type GossipEvent } from '../../../core/gossip/engine.ts'
import { MemberDirectory } from '../../../core/gossip/memberTable.ts'
import type { GossipMessage } from '../../../core/gossip/messages.ts'
import { Rng } from '../../../core/lib/prng.ts'
import { defaultFaultPlan, scheduleFaults } from '../../../sim/faults.ts'
import { defaultNetworkConfig, networkLimits } from '../../../sim/network.ts'
import { gossipRequests } from '../../../sim/requestBindings.ts'
import type { EngineContext } from '../../../sim/simulator.ts'
import { Simulator } from '../../../sim/simulator.ts'
import type { NodeSnapshot, SnapshotDetail } from '../nodeSnapshot.ts'
import { SimFaults } from './simFaults.ts'
import type { SimFault, SimNodeInfo, SimWorld, SimWorldKind, SimWorldOptions, WorldEvent } from './simWorld.ts'

type GossipSim = Simulator<GossipCommand, GossipMessage, GossipApplied, GossipEvent>

export const churnPlan = {
  regions: ['eu', 'us', 'ap'],
  /** 100 ms ticks, as the gossip scenario: fine enough for SWIM's timeouts, cheap at thousands of nodes. */
  tickUs: 100_000,
  /** Crashes start once the membership settled, and go on for an hour of virtual time. */
  faultsStartUs: 10_000_000,
  faultsEndUs: 3_600_000_000,
  faultIntervalUsMean: 3_000_000,
  downDurationUsMin: 5_000_000,
  downDurationUsMax: 30_000_000,
  /** At most this share of the nodes is down at once (at least one). */
  downShareMax: 0.01,
} as const

export const churnWorldKind: SimWorldKind = {
  name: 'churn',
  summary: 'a large SWIM membership whose nodes crash and come back (for watching membership at scale; no checker)',
  defaultNodes: 1_000,
  nodesMin: 2,
  nodesMax: networkLimits.nodesMax,
  create: (options) => new ChurnWorld(options),
}

class ChurnWorld implements SimWorld {
  readonly scenario = 'churn'
  readonly seed: number
  readonly nodeCount: number
  readonly endUs = null
  readonly result = null
  onEvent: ((event: WorldEvent) => void) | null = null
  private readonly sim: GossipSim
  private readonly faults: SimFaults
  private readonly regionOf: ReadonlyMap<string, string>

  constructor(options: SimWorldOptions) {
    this.seed = options.seed
    this.nodeCount = options.nodes ?? churnWorldKind.defaultNodes
    const ids = Array.from({ length: this.nodeCount }, (_, index) => `n${index + 1}`)
    // One id table for every node: each engine keeps only its own state bytes.
    const directory = new MemberDirectory()
    const tickMs = churnPlan.tickUs / 1000
    const engine = {
      codec: gossipCodec,
      create: (context: EngineContext) => new GossipEngine({ id: context.id, seeds: ['n1'], knownMembers: ids, storage: context.storage, rng: context.rng, tickMs, config: wanGossipConfig, directory }),
      requests: gossipRequests,
    }
    this.sim = new Simulator({
      seed: options.seed,
      nodes: this.nodeCount,
      regions: churnPlan.regions,
      engine,
      network: { ...defaultNetworkConfig, faults: { ...defaultNetworkConfig.faults, lossProbability: 0 } },
      tickUs: churnPlan.tickUs,
      wire: false,
      trace: null,
    })
    this.regionOf = new Map(this.sim.nodes.map((node) => [node.id, node.region]))
    this.faults = new SimFaults(this.sim)
    const downMax = Math.max(1, Math.floor(this.nodeCount * churnPlan.downShareMax))
    scheduleFaults(
      this.sim,
      Rng.fromSeed(options.seed).split('tui/churn'),
      { ...defaultFaultPlan, partition: 'none', crashes: true, faultIntervalUsMean: churnPlan.faultIntervalUsMean, faultDurationUsMin: churnPlan.downDurationUsMin, faultDurationUsMax: churnPlan.downDurationUsMax, downShareMax: 1, downMax },
      { startUs: churnPlan.faultsStartUs, endUs: churnPlan.faultsEndUs },
    )
    this.sim.observers.push({
      onReady: (node, ready) => {
        const onEvent = this.onEvent
        if (onEvent === null) return
        for (const event of ready.events) onEvent({ kind: 'engine', node: node.index, event: { source: 'gossip', event } })
      },
      onStart: (node, restarted) => {
        if (restarted) this.onEvent?.({ kind: 'note', node: node.index, text: `${node.id} restarted (incarnation ${node.incarnation})` })
      },
      onCrash: (node) => this.onEvent?.({ kind: 'note', node: node.index, text: `${node.id} crashed` }),
    })
    this.sim.startAll()
  }

  get nowUs(): number {
    return this.sim.nowUs
  }

  runUntil(untilUs: number): void {
    this.sim.runUntil(untilUs)
  }

  node(index: number): SimNodeInfo {
    const node = this.sim.nodes[index]!
    return { id: node.id, region: node.region, up: this.sim.isUp(index) }
  }

  snapshot(index: number, detail: SnapshotDetail): NodeSnapshot | null {
    const node = this.sim.nodes[index]!
    const engine = node.engine as GossipEngine | null
    if (engine === null) return null
    if (detail === 'none') return { kind: 'gossip', gossip: { id: node.id, region: node.region, status: null, members: null } }
    // status() copies every member: a pass over the whole membership, which is why few nodes are read per frame.
    const status = engine.status()
    let alive = 0
    let suspect = 0
    let dead = 0
    for (const member of status.members) {
      if (member.state === 'alive') alive++
      else if (member.state === 'suspect') suspect++
      else dead++
    }
    const members = detail === 'members' ? status.members.map((member) => ({ id: member.id, region: this.regionOf.get(member.id) ?? null, state: member.state, incarnation: member.incarnation, meta: member.meta ?? null, link: null })) : null
    return { kind: 'gossip', gossip: { id: node.id, region: node.region, status: { incarnation: status.incarnation, alive, suspect, dead, suspicions: status.suspicions.length, metrics: status.metrics }, members } }
  }

  readKey(): null {
    return null
  }

  apply(fault: SimFault): string {
    return this.faults.apply(fault)
  }
}
