/**
 * A single-engine scenario (`raft`, `pbft`, `crdt`, `gossip`, `swim`:
 * sim/scenarios/) stepped by the TUI through its steps (sim/steps.ts): the
 * scenario sets up its clients, faults and checkers and says how far to run
 * its simulator; the TUI runs it there in frames, then lets the scenario go
 * on, so the run is the one `dwcp sim SCENARIO --seed N` judges and its
 * verdict comes at its end. A scenario of several experiments (swim) hands
 * over one simulator after another: virtual time runs on across them.
 * Options are those `dwcp sim` uses by default.
 */
import type { PlainValue } from '../../../core/crdt/value.ts'
import type { RunResult, Scenario } from '../../../sim/scenario.ts'
import type { AnySimulator, RunStep, RunSteps } from '../../../sim/steps.ts'
import type { NodeSnapshot, SnapshotDetail } from '../nodeSnapshot.ts'
import { taggedEvent, type EngineView } from './engineViews.ts'
import { SimFaults } from './simFaults.ts'
import type { SimFault, SimNodeInfo, SimWorld, SimWorldKind, SimWorldOptions, WorldEvent } from './simWorld.ts'

/** A scenario that runs as steps. */
export type SteppedScenario = Scenario & { readonly steps: NonNullable<Scenario['steps']> }

export function isSteppedScenario(scenario: Scenario): scenario is SteppedScenario {
  return scenario.steps !== undefined
}

export function stepWorldKind(scenario: SteppedScenario, view: EngineView): SimWorldKind {
  return {
    name: scenario.name,
    summary: scenario.summary,
    defaultNodes: scenario.defaultNodes,
    nodesMin: scenario.nodesMin ?? 1,
    nodesMax: scenario.nodesMax ?? Math.max(64, scenario.defaultNodes),
    create: (options) => new StepWorld(scenario, view, options),
  }
}

class StepWorld implements SimWorld {
  readonly scenario: string
  readonly seed: number
  readonly nodeCount: number
  onEvent: ((event: WorldEvent) => void) | null = null
  private readonly view: EngineView
  private readonly steps: RunSteps
  private readonly plannedEndUs: number | null
  private pending: IteratorResult<RunStep, RunResult>
  private sim!: AnySimulator
  /** Virtual time of the simulators before this one (a scenario of several experiments). */
  private offsetUs = 0
  private faults!: SimFaults
  private regionOf: ReadonlyMap<string, string> = new Map()
  private verdict: RunResult | null = null
  private endedAtUs: number | null = null

  constructor(scenario: SteppedScenario, view: EngineView, options: SimWorldOptions) {
    this.scenario = scenario.name
    this.seed = options.seed
    this.nodeCount = options.nodes ?? scenario.defaultNodes
    this.view = view
    this.plannedEndUs = scenario.stepsEndUs ?? null
    this.steps = scenario.steps({ seed: options.seed, nodes: this.nodeCount, loss: scenario.defaultLoss ?? 0.01, partition: scenario.defaultPartition ?? 'flaky', crashes: true, wire: false, trace: null })
    this.pending = this.steps.next()
    if (this.pending.done === true) throw new Error(`${scenario.name} ended before it ran its simulator`)
    this.adopt(this.pending.value.sim)
  }

  get nowUs(): number {
    return this.offsetUs + this.sim.nowUs
  }

  /** Where the scenario ends: where it said it would, until it ends (early, or at a time only its checks knew). */
  get endUs(): number | null {
    return this.endedAtUs ?? this.plannedEndUs
  }

  get result(): RunResult | null {
    return this.verdict
  }

  runUntil(untilUs: number): void {
    while (this.pending.done !== true) {
      const step = this.pending.value
      if (step.sim !== this.sim) this.adopt(step.sim)
      if (this.offsetUs + step.untilUs > untilUs) break
      step.sim.runUntil(step.untilUs)
      this.pending = this.steps.next()
      if (this.pending.done === true) {
        this.verdict = this.pending.value
        this.endedAtUs = this.nowUs
      }
    }
    // Within a step, or past the scenario's end: the simulator runs on by itself.
    this.sim.runUntil(Math.max(this.sim.nowUs, untilUs - this.offsetUs))
  }

  node(index: number): SimNodeInfo {
    const node = this.sim.nodes[index]!
    return { id: node.id, region: node.region, up: this.sim.isUp(index) }
  }

  snapshot(index: number, detail: SnapshotDetail): NodeSnapshot | null {
    const node = this.sim.nodes[index]!
    return node.engine === null ? null : this.view.snapshot(node.engine, node, detail, this.regionOf)
  }

  readKey(index: number, key: string): PlainValue | undefined | null {
    const engine = this.sim.nodes[index]!.engine
    return engine === null ? null : this.view.readKey(engine, key)
  }

  apply(fault: SimFault): string {
    return this.faults.apply(fault)
  }

  /** Takes over the scenario's (next) simulator: its events, its faults. */
  private adopt(sim: AnySimulator): void {
    if (this.sim !== undefined) {
      this.offsetUs += this.sim.nowUs
      this.onEvent?.({ kind: 'note', node: null, text: `the scenario's next experiment starts: a new simulator from here (faults injected by hand stay with the last one)` })
    }
    if (sim.nodes.length !== this.nodeCount) throw new Error(`${this.scenario}: an experiment of ${sim.nodes.length} nodes in a run of ${this.nodeCount}`)
    this.sim = sim
    this.faults = new SimFaults(sim)
    this.regionOf = new Map(sim.nodes.map((node) => [node.id, node.region]))
    sim.observers.push({
      onReady: (node, ready) => {
        const onEvent = this.onEvent
        if (onEvent === null || sim !== this.sim) return
        for (const event of ready.events) onEvent({ kind: 'engine', node: node.index, event: taggedEvent(this.view, event) })
      },
      onStart: (node, restarted) => this.onEvent?.({ kind: 'note', node: node.index, text: restarted ? `${node.id} restarted (incarnation ${node.incarnation})` : `${node.id} started` }),
      onCrash: (node) => this.onEvent?.({ kind: 'note', node: node.index, text: `${node.id} crashed` }),
    })
  }
}
