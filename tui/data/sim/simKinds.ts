/**
 * The simulations `dwcp tui --sim` can show: every scenario of `dwcp sim`
 * whose nodes the TUI can read — the replica scenarios (mixed, adaptive:
 * whole replicas), the single-engine ones run as steps (raft, pbft, crdt,
 * gossip, swim: each engine's status) — and `churn`, a large membership.
 * `smoke` runs a toy register with nothing to show.
 */
import type { ReplicaScenario } from '../../../sim/scenarios/replicaRun.ts'
import { scenarios } from '../../../sim/scenarios/index.ts'
import type { Scenario } from '../../../sim/scenario.ts'
import { churnWorldKind } from './churnWorld.ts'
import { crdtView, gossipView, pbftView, raftView, type EngineView } from './engineViews.ts'
import { replicaWorldKind } from './replicaWorld.ts'
import type { SimWorldKind } from './simWorld.ts'
import { isSteppedScenario, stepWorldKind } from './stepWorld.ts'

function isReplicaScenario(scenario: Scenario): scenario is ReplicaScenario {
  return 'plan' in scenario
}

/** The engine each single-engine scenario runs. */
const engineViews: Readonly<Record<string, EngineView>> = { raft: raftView, pbft: pbftView, crdt: crdtView, gossip: gossipView, swim: gossipView }

function worldKindOf(scenario: Scenario): SimWorldKind | null {
  if (isReplicaScenario(scenario)) return replicaWorldKind(scenario)
  const view = engineViews[scenario.name]
  return view !== undefined && isSteppedScenario(scenario) ? stepWorldKind(scenario, view) : null
}

export const simWorldKinds: ReadonlyMap<string, SimWorldKind> = new Map([
  ...[...scenarios.values()].flatMap((scenario) => {
    const kind = worldKindOf(scenario)
    return kind === null ? [] : [[scenario.name, kind] as const]
  }),
  [churnWorldKind.name, churnWorldKind],
])
