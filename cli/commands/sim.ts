/**
 * dwcp sim SCENARIO: runs a scenario in the deterministic simulator over one
 * or more seeds and reports the verdict. Exit 0 when every invariant held,
 * otherwise the code of the most serious finding (cli/exitCodes.ts): 1 safety,
 * 2 usage error, 3 liveness, 4 a checker could not decide, 5 a crash.
 */
import { closeSync, openSync, writeSync } from 'node:fs'
import type { CommandModule } from 'yargs'
import { byzantineModeChoices } from '../../sim/byzantine.ts'
import { partitionModes, type PartitionMode } from '../../sim/faults.ts'
import { networkLimits } from '../../sim/network.ts'
import { runScenario, type SimReport } from '../../sim/runner.ts'
import type { Scenario } from '../../sim/scenario.ts'
import { scenarios } from '../../sim/scenarios/index.ts'
import { simExitCode, UsageError } from '../exitCodes.ts'
import { integerOption, probabilityOption } from '../options.ts'

/** Seeds one invocation may run. */
const seedsMax = 100_000
/** Lines buffered before a trace write, to keep tracing from dominating the run. */
const traceFlushBytes = 1 << 20

interface SimArgs {
  scenario: string
  nodes?: number
  seed: number
  seeds: number
  loss?: number
  partition?: string
  crashes: boolean
  wire: boolean
  byzantine?: number
  mode?: string
  reconfigure?: string
  json: boolean
  trace?: string
}

export const simCommand: CommandModule<object, SimArgs> = {
  command: 'sim <scenario>',
  describe: `Run a scenario in the deterministic simulator (${[...scenarios.keys()].join(', ')})`,
  builder: (yargs) =>
    yargs
      .positional('scenario', { type: 'string', demandOption: true, describe: `one of: ${[...scenarios.keys()].join(', ')}` })
      .option('nodes', { type: 'number', describe: `nodes in the cluster (1..${networkLimits.nodesMax}; default per scenario)` })
      .option('seed', { type: 'number', default: 1, describe: 'seed of the (first) run; the same seed replays the same run' })
      .option('seeds', { type: 'number', default: 1, describe: `how many seeds to run, from --seed upward (1..${seedsMax})` })
      .option('loss', { type: 'number', describe: 'chance that a message is lost (0..0.9; default per scenario: 0.01; adaptive and mixed: 0)' })
      .option('partition', { type: 'string', choices: partitionModes, describe: 'partitions during the fault window (default per scenario: flaky; gossip: none)' })
      .option('crashes', { type: 'boolean', default: true, describe: 'crash and restart nodes during the fault window (--no-crashes to turn off)' })
      .option('wire', { type: 'boolean', default: false, describe: 'encode and decode every message as a real host does (slower)' })
      .option('byzantine', { type: 'number', describe: 'Byzantine replicas (pbft: 0..f, f = ⌊(nodes−1)/3⌋; default f)' })
      .option('mode', { type: 'string', choices: byzantineModeChoices, describe: 'how the Byzantine replicas misbehave (pbft; mixed: each another way; default: cycles with the seed)' })
      .option('reconfigure', { type: 'string', describe: 'change the replica group during the fault window (pbft: replace, overlap, grow)' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object and nothing else' })
      .option('trace', { type: 'string', describe: 'write one line per event to this file' })
      .example('$0 sim smoke --seed 7 --json', 'one run, as JSON')
      .example('$0 sim smoke --seeds 200 --loss 0.2 --partition halves', 'a sweep under heavy loss and a split')
      .example('$0 sim pbft --nodes 7 --byzantine 2 --mode equivocate', 'PBFT with two equivocating replicas of seven')
      .example('$0 sim pbft --reconfigure replace --seeds 10', 'PBFT whose group of four is replaced by four other replicas mid-run'),
  handler: (args) => {
    const scenario = scenarios.get(args.scenario)
    if (scenario === undefined) throw new UsageError(`unknown scenario '${args.scenario}'; scenarios: ${[...scenarios.keys()].join(', ')}`)
    const nodes = integerOption('nodes', args.nodes ?? scenario.defaultNodes, scenario.nodesMin ?? 1, scenario.nodesMax ?? networkLimits.nodesMax)
    const { byzantine, mode } = byzantineOptions(scenario, nodes, args)
    const firstSeed = integerOption('seed', args.seed, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)
    const seedCount = integerOption('seeds', args.seeds, 1, seedsMax)
    if (firstSeed + seedCount - 1 > Number.MAX_SAFE_INTEGER) throw new UsageError('--seed + --seeds runs past the largest safe integer')
    const loss = probabilityOption('loss', args.loss ?? scenario.defaultLoss ?? 0.01, 0.9)
    const partition = (args.partition ?? scenario.defaultPartition ?? 'flaky') as PartitionMode
    if (args.trace === '') throw new UsageError('--trace needs a file name')
    if (args.reconfigure !== undefined && !(scenario.reconfigurations ?? []).includes(args.reconfigure)) {
      throw new UsageError(
        scenario.reconfigurations === undefined ? `--reconfigure applies to scenarios whose group can change (pbft), not to ${scenario.name}` : `--reconfigure must be one of ${scenario.reconfigurations.join(', ')}, got ${args.reconfigure}`,
      )
    }
    const seeds = Array.from({ length: seedCount }, (_, index) => firstSeed + index)

    const trace = args.trace === undefined ? null : openTrace(args.trace)
    const showProgress = !args.json && process.stderr.isTTY === true
    let report: SimReport
    try {
      report = runScenario(scenario, {
        seeds,
        nodes,
        loss,
        partition,
        crashes: args.crashes,
        wire: args.wire,
        byzantine,
        byzantineMode: mode,
        ...(args.reconfigure === undefined ? {} : { reconfigure: args.reconfigure }),
        traceSink: trace === null ? null : trace.write,
        onRun: showProgress ? (_, done) => process.stderr.write(`\r${scenario.name}: ${done}/${seedCount} seeds done          `) : undefined,
        onProgress: showProgress ? (seed, doneMs, totalMs) => process.stderr.write(`\r${scenario.name} seed ${seed}: ${(doneMs / 1000).toFixed(0)}/${(totalMs / 1000).toFixed(0)} s virtual`) : undefined,
      })
    } finally {
      trace?.close()
    }
    if (showProgress) process.stderr.write('\n')

    if (args.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
    else process.stdout.write(formatReport(report, args))
    process.exitCode = simExitCode(report.verdict)
  },
}

/** --byzantine and --mode: only for scenarios with Byzantine replicas, and never more than the scenario tolerates. */
function byzantineOptions(scenario: Scenario, nodes: number, args: SimArgs): { byzantine: number | undefined; mode: string | undefined } {
  if (scenario.byzantine === undefined) {
    if (args.byzantine !== undefined || args.mode !== undefined) {
      const names = [...scenarios.values()].filter((held) => held.byzantine !== undefined).map((held) => held.name)
      throw new UsageError(`--byzantine and --mode apply to scenarios with Byzantine replicas (${names.join(', ')}), not to ${scenario.name}`)
    }
    return { byzantine: undefined, mode: undefined }
  }
  if (args.mode !== undefined && !scenario.byzantine.modes.includes(args.mode)) throw new UsageError(`--mode must be one of ${scenario.byzantine.modes.join(', ')}, got ${args.mode}`)
  if (args.byzantine === undefined) return { byzantine: undefined, mode: args.mode }
  const max = scenario.byzantine.replicasMax(nodes)
  if (typeof args.byzantine === 'number' && Number.isSafeInteger(args.byzantine) && args.byzantine > max) {
    throw new UsageError(`--byzantine ${args.byzantine} is more than ${nodes} replicas tolerate: at most f = ${max} (n ≥ 3f+1); add nodes or lower --byzantine`)
  }
  return { byzantine: integerOption('byzantine', args.byzantine, 0, max), mode: args.mode }
}

function openTrace(path: string): { write: (line: string) => void; close: () => void } {
  let fd: number
  try {
    fd = openSync(path, 'w')
  } catch (error) {
    throw new UsageError(`cannot write trace file ${path}: ${(error as Error).message}`)
  }
  let buffered: string[] = []
  let bufferedBytes = 0
  const flush = () => {
    if (buffered.length > 0) writeSync(fd, buffered.join(''))
    buffered = []
    bufferedBytes = 0
  }
  return {
    write: (line) => {
      buffered.push(line, '\n')
      bufferedBytes += line.length + 1
      if (bufferedBytes >= traceFlushBytes) flush()
    },
    close: () => {
      flush()
      closeSync(fd)
    },
  }
}

const verdictNames = {
  safety: 'a correctness invariant was violated',
  liveness: 'no progress, or too little work to check',
  undecided: 'a checker hit its limit and could not decide',
  crash: 'the engine or simulator threw',
} as const

function formatReport(report: SimReport, args: SimArgs): string {
  const failed = report.runs.filter((run) => run.violations > 0)
  const seedText = report.seeds.length === 1 ? `seed ${report.seeds[0]}` : `${report.seeds.length} seeds from ${report.seeds[0]}`
  const verdictText = report.verdict === 'ok' ? 'ok, every invariant held' : `${failed.length} run(s) failed (${verdictNames[report.verdict]}, exit ${simExitCode(report.verdict)})`
  const lines = [`dwcp sim ${report.scenario}: ${report.nodes} nodes, ${seedText}: ${verdictText}`]
  const width = Math.max(...Object.keys(report.metrics).map((key) => key.length))
  for (const [key, value] of Object.entries(report.metrics)) lines.push(`  ${key.padEnd(width)}  ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
  for (const violation of report.violations) {
    lines.push(`violation [${violation.kind}] ${violation.invariant} at ${violation.atMs} ms${violation.node === undefined ? '' : ` on ${violation.node}`} (seed ${violation.seed}): ${violation.message}`)
  }
  for (const run of failed) {
    const byzantine = [args.byzantine === undefined ? '' : `--byzantine ${args.byzantine}`, args.mode === undefined ? '' : `--mode ${args.mode}`, args.reconfigure === undefined ? '' : `--reconfigure ${args.reconfigure}`]
    const flags = [`--seed ${run.seed}`, `--nodes ${report.nodes}`, `--loss ${report.loss}`, `--partition ${report.partition}`, args.crashes ? '' : '--no-crashes', args.wire ? '--wire' : '', ...byzantine]
    lines.push(`replay: npx dwcp sim ${report.scenario} ${flags.filter((flag) => flag !== '').join(' ')}`)
  }
  return `${lines.join('\n')}\n`
}
