/**
 * The simulations `dwcp tui --sim` can show: every replica scenario of
 * `dwcp sim` (those whose nodes are replicas: mixed, adaptive), and `churn`,
 * a large membership. The single-engine scenarios (raft, pbft, swim, …) run
 * bare engines with no replica snapshot to show, and have no stepped form.
 */
import type { ReplicaScenario } from '../../../sim/scenarios/replicaRun.ts'
import { scenarios } from '../../../sim/scenarios/index.ts'
import type { Scenario } from '../../../sim/scenario.ts'
import { churnWorldKind } from './churnWorld.ts'
import { replicaWorldKind } from './replicaWorld.ts'
import type { SimWorldKind } from './simWorld.ts'

function isReplicaScenario(scenario: Scenario): scenario is ReplicaScenario {
  return 'plan' in scenario
}

export const simWorldKinds: ReadonlyMap<string, SimWorldKind> = new Map([...[...scenarios.values()].filter(isReplicaScenario).map((scenario) => [scenario.name, replicaWorldKind(scenario)] as const), [churnWorldKind.name, churnWorldKind]])
