/**
 * dwcp kv put|get|del KEY [VALUE] [--consistency …]: registers through the
 * API (PUT, GET, DELETE /v1/kv/KEY). `get` prints the value alone, so a
 * script can use it; --json prints the API's answer.
 */
import type { CommandModule } from 'yargs'
import { kvDeleteReplySchema, kvGetReplySchema, kvPutReplySchema, type KvDeleteReply, type KvPutReply } from '../../api/contract.ts'
import { UsageError } from '../exitCodes.ts'
import { consistencyOption, consistencyQuery, describePosition, keyPath, runClient, withClientOptions, type ClientArgs } from '../client/clientCommand.ts'

interface KvArgs extends ClientArgs {
  action: string
  key: string
  value?: string
  consistency?: string
}

function describeWrite(verb: string, answer: KvPutReply | KvDeleteReply): string {
  const auto = answer.auto === undefined ? '' : ` (auto: ${answer.auto.reason}, mode ${answer.auto.mode})`
  return `${verb} ${answer.key}: ${describePosition(answer.position)}${auto}\n`
}

export const kvCommand: CommandModule<object, KvArgs> = {
  command: 'kv <action> <key> [value]',
  describe: 'Write, read or delete a key (put, get, del)',
  builder: (yargs) =>
    withClientOptions(
      yargs
        .positional('action', { type: 'string', choices: ['put', 'get', 'del'], demandOption: true })
        .positional('key', { type: 'string', demandOption: true, describe: 'namespace/rest, e.g. cfg/greeting' })
        .positional('value', { type: 'string', describe: 'the value (put)' })
        .option('consistency', consistencyOption),
    )
      .example('$0 kv put cfg/greeting hello', 'a strong write (cfg is a strong namespace)')
      .example('$0 kv get cfg/greeting --consistency eventual', 'a follower read of the committed value')
      .example('$0 kv del edge/x --json', "the API's JSON answer"),
  handler: async (args) => {
    const path = `/v1/kv/${keyPath(args.key)}${consistencyQuery(args.consistency)}`
    if (args.action !== 'put' && args.value !== undefined) throw new UsageError(`kv ${args.action} takes no VALUE (got ${JSON.stringify(args.value)})`)
    switch (args.action) {
      case 'put':
        if (args.value === undefined) throw new UsageError('kv put needs a VALUE: dwcp kv put KEY VALUE')
        return runClient(
          args,
          (client) => client.request('PUT', path, kvPutReplySchema, { value: String(args.value) }),
          (answer) => describeWrite('put', answer),
        )
      case 'get':
        return runClient(
          args,
          (client) => client.request('GET', path, kvGetReplySchema),
          (answer) => {
            const value = answer.value
            if (process.stdout.isTTY) process.stderr.write(`(${describePosition(answer.position)})\n`)
            return `${typeof value === 'string' ? value : JSON.stringify(value)}\n`
          },
        )
      case 'del':
        return runClient(
          args,
          (client) => client.request('DELETE', path, kvDeleteReplySchema),
          (answer) => describeWrite('deleted', answer),
        )
      default:
        throw new UsageError(`unknown kv action ${args.action}: put, get or del`)
    }
  },
}
