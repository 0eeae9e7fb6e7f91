import { clusterBench } from './cluster.ts'
import { codecBench } from './codec.ts'
import { crdtBench } from './crdt.ts'
import { edgeBench } from './edge.ts'
import { pbftBench } from './pbft.ts'
import { raftBench } from './raft.ts'
import type { Bench } from './report.ts'
import { simBench } from './sim.ts'
import { tuiBench } from './tui.ts'

/** Every benchmark `dwcp bench` knows, by name. */
export const benches: ReadonlyMap<string, Bench> = new Map([clusterBench, codecBench, crdtBench, edgeBench, pbftBench, raftBench, simBench, tuiBench].map((bench) => [bench.name, bench]))
