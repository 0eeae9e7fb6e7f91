import { runSwim } from './sim/scenarios/swim.ts'
import { Trace } from './sim/trace.ts'
const lines: string[] = []
runSwim({ seed: 1, nodes: 32, loss: 0.01, partition: 'flaky', crashes: true, wire: false, trace: new Trace((l) => lines.push(l)) })
let i = lines.length - 1
while (i > 0 && !lines[i]!.includes('restart n3 ')) i--
console.log(lines[i])
const after = lines.slice(i).filter((l) => / n3>| >n3 |>n3 /.test(l) && !l.includes(' tick '))
console.log(after.length)
console.log(after.filter((l) => l.includes('pushPull')).slice(0, 10).join('\n'))
console.log(after.slice(0, 15).join('\n'))
