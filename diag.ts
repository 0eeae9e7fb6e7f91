import { runGossip } from './sim/scenarios/gossip.ts'
import { Trace } from './sim/trace.ts'
const lines: string[] = []
runGossip({ seed: 1, nodes: 32, loss: 0.01, partition: 'none', crashes: false, wire: false, trace: new Trace((l) => lines.push(l)) })
const start = lines.findIndex((l) => l.includes('publish spread'))
console.log(lines[start])
// who receives update:spread over time
const got = new Map<string, string>()
for (const l of lines.slice(start)) {
  const m = l.match(/^(\S+) recv (n\d+)>(n\d+) .*update:spread@1/)
  if (m && !got.has(m[3]!)) got.set(m[3]!, m[1]!)
}
console.log(got.size, [...got.entries()].slice(-5))
const pub = lines[start]!.split(' ')[2]
console.log('publisher', pub)
console.log(lines.slice(start, start + 40).filter((l) => l.includes(`send ${pub}>`)).join('\n'))
const all = Array.from({ length: 32 }, (_, i) => `n${i + 1}`)
const missing = all.filter((id) => !got.has(id))
console.log('missing', missing)
for (const id of missing) {
  const firstRecv = lines.slice(start).find((l) => l.includes(`>${id} `) && l.includes('update:spread'))
  console.log(id, 'first recv with spread', firstRecv)
  console.log(lines.slice(start, start + 3000).filter((l) => l.includes(` ${id}>`) || l.includes(`>${id} `)).slice(0, 12).join('\n'))
}
