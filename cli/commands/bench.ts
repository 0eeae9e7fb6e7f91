/**
 * dwcp bench NAME: runs a benchmark and prints its figures; with --json the
 * report of DESIGN §5 and nothing else. Benchmarks measure; they never fail on
 * a time.
 */
import type { CommandModule } from 'yargs'
import { benches } from '../../bench/index.ts'
import { machineInfo } from '../../bench/machine.ts'
import type { BenchReport } from '../../bench/report.ts'
import { UsageError } from '../exitCodes.ts'

interface BenchArgs {
  name: string
  json: boolean
  quick: boolean
}

export const benchCommand: CommandModule<object, BenchArgs> = {
  command: 'bench <name>',
  describe: `Run a benchmark (${[...benches.keys()].join(', ')})`,
  builder: (yargs) =>
    yargs
      .positional('name', { type: 'string', demandOption: true, describe: [...benches.values()].map((bench) => `${bench.name}: ${bench.summary}`).join('; ') })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object and nothing else' })
      .option('quick', { type: 'boolean', default: false, describe: 'small workloads: checks that it runs, not how fast' })
      .example('$0 bench sim --json', 'simulator throughput as JSON'),
  handler: async (args) => {
    const bench = benches.get(args.name)
    if (bench === undefined) throw new UsageError(`unknown benchmark '${args.name}'; benchmarks: ${[...benches.keys()].join(', ')}`)
    const onTerminal = !args.json && process.stderr.isTTY === true
    const results = await bench.run({ quick: args.quick, progress: onTerminal ? (line) => process.stderr.write(`${line}\n`) : () => {} })
    const report: BenchReport = { bench: bench.name, machine: machineInfo(), results }
    if (args.json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
      return
    }
    const lines = [`dwcp bench ${bench.name} on ${report.machine.cpus} × ${report.machine.cpuModel}, node ${report.machine.node}${args.quick ? ' (quick: not target figures)' : ''}`]
    for (const result of results) {
      const extras = Object.entries(result)
        .filter(([key]) => key !== 'case')
        .map(([key, value]) => `${key}=${value}`)
        .join(' ')
      lines.push(`  ${result.case.padEnd(28)} ${extras}`)
    }
    process.stdout.write(`${lines.join('\n')}\n`)
  },
}
