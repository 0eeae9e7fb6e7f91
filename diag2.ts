import { runSwim } from './sim/scenarios/swim.ts'
import { GossipEngine, type GossipEngineOptions } from './core/gossip/engine.ts'
const engines: GossipEngine[] = []
const r = runSwim({ seed: 1, nodes: 32, loss: 0.01, partition: 'flaky', crashes: true, wire: false, trace: null }, (o: GossipEngineOptions) => { const e = new GossipEngine(o); engines.push(e); return e })
console.log(r.violations)
// last 32 engines belong to the faults experiment (restarts create more) — inspect the live ones at the end
const last = new Map<string, GossipEngine>()
for (const e of engines) last.set(e.id, e)
for (const [id, e] of last) {
  const v = e.view()
  const bad = v.filter((m) => m.state !== 'alive').map((m) => `${m.id}=${m.state}@${m.incarnation}`)
  if (v.length !== 32 || bad.length) console.log(id, v.length, bad.join(' '))
}
