/**
 * dwcp check FILE: checks a client history (JSON lines in Jepsen's
 * vocabulary, sim/checkers/jepsenHistory.ts) for linearizability of each key
 * as a read/write register. Exit 0 linearizable, 1 a violation, 4 undecided
 * (a search limit hit: never a pass), 2 a malformed file.
 */
import { readFileSync } from 'node:fs'
import type { CommandModule } from 'yargs'
import { readHistoryLines, registerOpsOf } from '../../sim/checkers/jepsenHistory.ts'
import { checkLinearizable, withoutUnobservedTimeouts } from '../../sim/checkers/linearizability.ts'
import { exitCodes, UsageError } from '../exitCodes.ts'

interface CheckArgs {
  file: string
  json: boolean
}

export const checkCommand: CommandModule<object, CheckArgs> = {
  command: 'check <file>',
  describe: 'Check a client history (Jepsen JSON lines) for linearizability, key by key',
  builder: (yargs) =>
    yargs
      .positional('file', { type: 'string', demandOption: true, describe: 'a history written by the end-to-end harness or any Jepsen-style client' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object and nothing else' })
      .example('$0 check history.jsonl', 'is every key linearizable?'),
  handler: (args) => {
    let text: string
    try {
      text = readFileSync(args.file, 'utf8')
    } catch (error) {
      throw new UsageError(`cannot read ${args.file}: ${(error as Error).message}`)
    }
    let ops
    try {
      ops = registerOpsOf(readHistoryLines(text))
    } catch (error) {
      throw new UsageError(`${args.file}: ${(error as Error).message}`)
    }
    const result = checkLinearizable(withoutUnobservedTimeouts(ops))
    const verdict = result.ok === true ? 'linearizable' : result.ok === false ? 'violation' : 'undecided'
    if (args.json) process.stdout.write(JSON.stringify({ file: args.file, operations: ops.length, verdict, ...(result.ok === true ? {} : { key: result.key, reason: result.reason }) }) + '\n')
    else process.stdout.write(result.ok === true ? `${args.file}: ${ops.length} operations, linearizable\n` : `${args.file}: ${verdict} on key ${result.key}: ${result.reason}\n`)
    process.exitCode = result.ok === true ? exitCodes.ok : result.ok === false ? exitCodes.violation : exitCodes.undecided
  },
}
