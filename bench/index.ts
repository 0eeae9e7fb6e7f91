import { codecBench } from './codec.ts'
import type { Bench } from './report.ts'
import { simBench } from './sim.ts'

/** Every benchmark `dwcp bench` knows, by name. */
export const benches: ReadonlyMap<string, Bench> = new Map([codecBench, simBench].map((bench) => [bench.name, bench]))
