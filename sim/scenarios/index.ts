import type { Scenario } from '../scenario.ts'
import { adaptiveScenario } from './adaptive.ts'
import { crdtScenario } from './crdt.ts'
import { gossipScenario } from './gossip.ts'
import { membershipScenario } from './membership.ts'
import { mixedScenario } from './mixed.ts'
import { pbftScenario } from './pbft.ts'
import { raftScenario } from './raft.ts'
import { smokeScenario } from './smoke.ts'
import { swimScenario } from './swim.ts'

/** Every scenario `dwcp sim` knows, by name. Later engines add theirs here. */
export const scenarios: ReadonlyMap<string, Scenario> = new Map(
  [smokeScenario, crdtScenario, gossipScenario, swimScenario, raftScenario, pbftScenario, adaptiveScenario, mixedScenario, membershipScenario].map((scenario) => [scenario.name, scenario]),
)
