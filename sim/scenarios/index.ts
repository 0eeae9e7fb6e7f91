import type { Scenario } from '../scenario.ts'
import { smokeScenario } from './smoke.ts'

/** Every scenario `dwcp sim` knows, by name. Later engines add theirs here. */
export const scenarios: ReadonlyMap<string, Scenario> = new Map([[smokeScenario.name, smokeScenario]])
