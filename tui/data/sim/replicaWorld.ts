/**
 * A replica scenario (`mixed`, `adaptive`: sim/scenarios/replicaRun.ts)
 * stepped by the TUI: the scenario sets up its clients, latency phases,
 * partitions and crashes, hands over its simulator, and once the TUI has
 * run it to the scenario's end, its checkers give the verdict. The options
 * are those `dwcp sim` uses by default for the scenario, so a seed shows the
 * run `dwcp sim SCENARIO --seed N` judged.
 */
import type { PlainValue } from '../../../core/crdt/value.ts'
import type { Replica } from '../../../core/replica/replica.ts'
import type { ReplicaSim } from '../../../sim/replicaSpec.ts'
import type { RunResult } from '../../../sim/scenario.ts'
import { replicaPlanSteps, type ReplicaScenario } from '../../../sim/scenarios/replicaRun.ts'
import type { NodeSnapshot } from '../nodeSnapshot.ts'
import { SimFaults } from './simFaults.ts'
import type { SimFault, SimNodeInfo, SimWorld, SimWorldKind, SimWorldOptions, WorldEvent } from './simWorld.ts'

export function replicaWorldKind(scenario: ReplicaScenario): SimWorldKind {
  return {
    name: scenario.name,
    summary: scenario.summary,
    defaultNodes: scenario.defaultNodes,
    nodesMin: scenario.nodesMin ?? 1,
    nodesMax: scenario.nodesMax ?? scenario.defaultNodes,
    create: (options) => new ReplicaWorld(scenario, options),
  }
}

class ReplicaWorld implements SimWorld {
  readonly scenario: string
  readonly seed: number
  readonly nodeCount: number
  readonly endUs: number
  onEvent: ((event: WorldEvent) => void) | null = null
  private readonly steps: Generator<ReplicaSim, RunResult, void>
  private readonly sim: ReplicaSim
  private readonly faults: SimFaults
  private verdict: RunResult | null = null

  constructor(scenario: ReplicaScenario, options: SimWorldOptions) {
    this.scenario = scenario.name
    this.seed = options.seed
    this.nodeCount = options.nodes ?? scenario.defaultNodes
    this.endUs = scenario.plan.endUs
    this.steps = replicaPlanSteps(scenario.plan, {
      seed: options.seed,
      nodes: this.nodeCount,
      loss: scenario.defaultLoss ?? 0.01,
      partition: scenario.defaultPartition ?? 'flaky',
      crashes: true,
      wire: false,
      trace: null,
    })
    const first = this.steps.next()
    if (first.done === true) throw new Error(`${scenario.name} ended before handing over its simulator`)
    this.sim = first.value
    this.faults = new SimFaults(this.sim)
    this.sim.observers.push({
      onReady: (node, ready) => {
        const onEvent = this.onEvent
        if (onEvent === null) return
        for (const event of ready.events) onEvent({ kind: 'engine', node: node.index, event })
      },
      onStart: (node, restarted) => this.onEvent?.({ kind: 'note', node: node.index, text: restarted ? `${node.id} restarted (incarnation ${node.incarnation})` : `${node.id} started` }),
      onCrash: (node) => this.onEvent?.({ kind: 'note', node: node.index, text: `${node.id} crashed` }),
    })
  }

  get nowUs(): number {
    return this.sim.nowUs
  }

  get result(): RunResult | null {
    return this.verdict
  }

  runUntil(untilUs: number): void {
    if (this.verdict === null && untilUs >= this.endUs) {
      this.sim.runUntil(this.endUs)
      const end = this.steps.next()
      if (end.done !== true) throw new Error(`${this.scenario}: the run yielded twice`)
      this.verdict = end.value
    }
    this.sim.runUntil(untilUs)
  }

  node(index: number): SimNodeInfo {
    const node = this.sim.nodes[index]!
    return { id: node.id, region: node.region, up: this.sim.isUp(index) }
  }

  snapshot(index: number): NodeSnapshot | null {
    const replica = this.sim.nodes[index]!.engine as Replica | null
    return replica === null ? null : { kind: 'replica', replica: replica.snapshot() }
  }

  readKey(index: number, key: string): PlainValue | undefined | null {
    const replica = this.sim.nodes[index]!.engine as Replica | null
    return replica === null ? null : replica.crdt.read(key)
  }

  apply(fault: SimFault): string {
    return this.faults.apply(fault)
  }
}
