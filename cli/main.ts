/**
 * The dwcp command line. Commands appear here only once they work; each lives
 * in cli/commands/ and registers itself with yargs.
 */
import yargs from 'yargs'
import { hideBin } from 'yargs/helpers'
import { benchCommand } from './commands/bench.ts'
import { checkCommand } from './commands/check.ts'
import { simCommand } from './commands/sim.ts'
import { tuiCommand } from './commands/tui.ts'
import { exitCodes, UsageError } from './exitCodes.ts'

const cli = yargs(hideBin(process.argv))
  .scriptName('dwcp')
  .usage('$0 <command> [options]\n\nDWCP: one sans-IO replication core (CRDTs, SWIM, Raft, PBFT) for Node, Durable Objects and a deterministic simulator.')
  .command(simCommand)
  .command(tuiCommand)
  .command(benchCommand)
  .command(checkCommand)
  .demandCommand(1, 'Name a command: dwcp sim or dwcp bench (dwcp --help lists them).')
  .strict()
  .help()
  .alias('h', 'help')
  .version(false)
  .wrap(Math.min(100, process.stdout.columns || 100))
  .fail((message, error) => {
    if (error !== undefined && error !== null && !(error instanceof UsageError)) throw error
    process.stderr.write(`dwcp: ${error?.message ?? message}\nRun 'dwcp --help' for usage.\n`)
    process.exit(exitCodes.usage)
  })

try {
  await cli.parseAsync()
} catch (error) {
  if (error instanceof UsageError) {
    process.stderr.write(`dwcp: ${error.message}\nRun 'dwcp --help' for usage.\n`)
    process.exit(exitCodes.usage)
  }
  throw error
}
