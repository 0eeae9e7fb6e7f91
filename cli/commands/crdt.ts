/**
 * dwcp crdt: typed operations on eventual namespaces (POST /v1/crdt/KEY):
 *
 *   dwcp crdt inc|dec KEY [N]           counters (cnt/… by default policy)
 *   dwcp crdt add|remove KEY ELEMENT    sets     (set/…)
 *   dwcp crdt put KEY FIELD VALUE       maps     (map/…); FIELD a.b.c puts at a nested path
 *
 * Prints the key's value after the operation.
 */
import type { Argv, CommandModule } from 'yargs'
import { crdtReplySchema, type CrdtOpBody, type CrdtReply } from '../../api/contract.ts'
import { UsageError } from '../exitCodes.ts'
import { describePosition, keyPath, runClient, withClientOptions, type ClientArgs } from '../client/clientCommand.ts'

/** One step of a counter: a safe integer, so the total stays exact. */
const counterStepMax = Number.MAX_SAFE_INTEGER

interface CrdtArgs extends ClientArgs {
  key: string
  amount?: string
  element?: string
  field?: string
  value?: string
}

function printAnswer(answer: CrdtReply): string {
  const value = typeof answer.value === 'string' ? answer.value : JSON.stringify(answer.value)
  return `${answer.key} = ${value}  (${describePosition(answer.position)})\n`
}

function amountOf(text: string | undefined): number {
  if (text === undefined) return 1
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < 1 || Number(text) > counterStepMax) {
    throw new UsageError(`N: expected a whole number from 1 to ${counterStepMax}, got ${JSON.stringify(text)}`)
  }
  return Number(text)
}

function post(args: CrdtArgs, body: CrdtOpBody) {
  return runClient(args, (client) => client.request('POST', `/v1/crdt/${keyPath(args.key)}`, crdtReplySchema, body), printAnswer)
}

function counter(op: 'inc' | 'dec'): CommandModule<object, CrdtArgs> {
  return {
    command: `${op} <key> [amount]`,
    describe: op === 'inc' ? 'Add N (default 1) to a counter' : 'Take N (default 1) from a counter',
    builder: (yargs) => withClientOptions(yargs.positional('key', { type: 'string', demandOption: true }).positional('amount', { type: 'string', describe: 'N, a whole number (default 1)' })),
    handler: (args) => post(args, { op, by: amountOf(args.amount) }),
  }
}

function setOp(op: 'add' | 'remove'): CommandModule<object, CrdtArgs> {
  return {
    command: `${op} <key> <element>`,
    describe: op === 'add' ? 'Add an element to a set' : 'Remove an element from a set',
    builder: (yargs) => withClientOptions(yargs.positional('key', { type: 'string', demandOption: true }).positional('element', { type: 'string', demandOption: true })),
    handler: (args) => post(args, { op, element: String(args.element) }),
  }
}

const mapPut: CommandModule<object, CrdtArgs> = {
  command: 'put <key> <field> <value>',
  describe: 'Put a field of a map (FIELD a.b puts at a nested path)',
  builder: (yargs) =>
    withClientOptions(
      yargs
        .positional('key', { type: 'string', demandOption: true })
        .positional('field', { type: 'string', demandOption: true, describe: 'the field; dots separate a nested path' })
        .positional('value', { type: 'string', demandOption: true }),
    ),
  handler: (args) => {
    const path = String(args.field).split('.')
    if (path.some((part) => part === '')) throw new UsageError(`FIELD: expected names separated by dots, got ${JSON.stringify(args.field)}`)
    return post(args, { op: 'put', path, value: String(args.value) })
  },
}

export const crdtCommand: CommandModule<object, object> = {
  command: 'crdt <op>',
  describe: 'CRDT operations: counters (inc, dec), sets (add, remove), maps (put)',
  builder: (yargs: Argv) =>
    yargs
      .command(counter('inc'))
      .command(counter('dec'))
      .command(setOp('add'))
      .command(setOp('remove'))
      .command(mapPut)
      .demandCommand(1, 'Name an operation: inc, dec, add, remove or put')
      .example('$0 crdt inc cnt/visits', 'a counter, +1')
      .example('$0 crdt add set/tags blue', 'add to a set')
      .example('$0 crdt put map/user name ada', 'put a map field'),
  handler: () => {},
}
