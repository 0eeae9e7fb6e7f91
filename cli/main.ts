/**
 * The dwcp command line. Commands appear here only once they work; each lives
 * in cli/commands/ and registers itself with yargs. Each command's module is
 * imported only when that command is run (or for the overall help, which
 * lists them all): `dwcp node`, which `dwcp up` starts once per node, loads
 * neither the simulator nor the client commands, and `dwcp kv get` loads
 * neither the node nor the simulator.
 */
import yargs, { type CommandModule } from 'yargs'
import { hideBin } from 'yargs/helpers'
import { exitCodes, UsageError } from './exitCodes.ts'

type AnyCommand = CommandModule<object, never>

/** Every command by the name typed first, with the import of its module (this order is the help's order). */
const commandLoaders: Record<string, () => Promise<AnyCommand[]>> = {
  up: async () => [(await import('./commands/up.ts')).upCommand as AnyCommand],
  node: async () => [(await import('./commands/node.ts')).nodeCommand as AnyCommand],
  kv: async () => [(await import('./commands/kv.ts')).kvCommand as AnyCommand],
  crdt: async () => [(await import('./commands/crdt.ts')).crdtCommand as AnyCommand],
  policy: async () => [(await import('./commands/policy.ts')).policyCommand as AnyCommand],
  status: async () => [(await import('./commands/status.ts')).statusCommand as AnyCommand],
  members: async () => [(await import('./commands/status.ts')).membersCommand as AnyCommand],
  member: async () => [(await import('./commands/member.ts')).memberCommand as AnyCommand],
  sim: async () => [(await import('./commands/sim.ts')).simCommand as AnyCommand],
  bench: async () => [(await import('./commands/bench.ts')).benchCommand as AnyCommand],
  check: async () => [(await import('./commands/check.ts')).checkCommand as AnyCommand],
  tui: async () => [(await import('./commands/tui.ts')).tuiCommand as AnyCommand],
}

const first = hideBin(process.argv)[0]
// A known command loads its module alone; anything else (help, a typo) loads every command so yargs can list them or say what is wrong.
const commands: AnyCommand[] = first !== undefined && Object.hasOwn(commandLoaders, first) ? await commandLoaders[first]!() : (await Promise.all(Object.values(commandLoaders).map((load) => load()))).flat()

const cli = yargs(hideBin(process.argv))
  .scriptName('dwcp')
  .usage('$0 <command> [options]\n\nDWCP: one sans-IO replication core (CRDTs, SWIM, Raft, PBFT) for Node, Durable Objects and a deterministic simulator.')
  .command(commands)
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
