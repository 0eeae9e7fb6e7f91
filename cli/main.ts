/**
 * The dwcp command line. Commands appear here only once they work; each lives
 * in cli/commands/ and registers itself with yargs. The simulator, bench and
 * checker commands load the whole simulator: they are imported only when one
 * of them (or the overall help) is asked for, so a client command such as
 * `dwcp kv get` starts in a fraction of the time.
 */
import yargs, { type CommandModule } from 'yargs'
import { hideBin } from 'yargs/helpers'
import { crdtCommand } from './commands/crdt.ts'
import { kvCommand } from './commands/kv.ts'
import { nodeCommand } from './commands/node.ts'
import { policyCommand } from './commands/policy.ts'
import { membersCommand, statusCommand } from './commands/status.ts'
import { upCommand } from './commands/up.ts'
import { exitCodes, UsageError } from './exitCodes.ts'

const lightCommands = new Set(['up', 'node', 'kv', 'crdt', 'policy', 'status', 'members'])
const first = hideBin(process.argv)[0]
const heavyCommands: CommandModule<object, never>[] =
  first !== undefined && lightCommands.has(first)
    ? []
    : ([(await import('./commands/sim.ts')).simCommand, (await import('./commands/bench.ts')).benchCommand, (await import('./commands/check.ts')).checkCommand] as CommandModule<object, never>[])

const cli = yargs(hideBin(process.argv))
  .scriptName('dwcp')
  .usage('$0 <command> [options]\n\nDWCP: one sans-IO replication core (CRDTs, SWIM, Raft, PBFT) for Node, Durable Objects and a deterministic simulator.')
  .command(upCommand)
  .command(nodeCommand)
  .command(kvCommand)
  .command(crdtCommand)
  .command(policyCommand)
  .command(statusCommand)
  .command(membersCommand)
  .command(heavyCommands)
  .demandCommand(1, 'Name a command (dwcp --help lists them).')
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
