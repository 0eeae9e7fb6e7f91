/**
 * dwcp policy get [NAMESPACE] | set NAMESPACE [--consistency …] [--type …] [--home REGION|none]:
 * a namespace's consistency, value type and home region (GET/PUT
 * /v1/policies/NAMESPACE). A change is a strong write: every replica
 * switches at the same log position. Without NAMESPACE, get lists them all.
 */
import type { CommandModule } from 'yargs'
import { policiesReplySchema, policyReplySchema, type PolicyPutBody, type PolicyReply } from '../../api/contract.ts'
import { valueTypes } from '../../core/replica/policy.ts'
import { UsageError } from '../exitCodes.ts'
import { consistencyOption, runClient, withClientOptions, type ClientArgs } from '../client/clientCommand.ts'
import { formatTable } from '../client/table.ts'

interface PolicyArgs extends ClientArgs {
  action: string
  namespace?: string
  consistency?: string
  type?: string
  home?: string
}

function policyTable(policies: readonly PolicyReply[]): string {
  return formatTable(
    ['NAMESPACE', 'CONSISTENCY', 'TYPE', 'HOME'],
    policies.map(({ namespace, policy }) => [namespace, policy.consistency, policy.valueType, policy.home ?? '-']),
  )
}

export const policyCommand: CommandModule<object, PolicyArgs> = {
  command: 'policy <action> [namespace]',
  describe: "Show or change a namespace's policy (get, set)",
  builder: (yargs) =>
    withClientOptions(
      yargs
        .positional('action', { type: 'string', choices: ['get', 'set'], demandOption: true })
        .positional('namespace', { type: 'string', describe: 'the namespace (get without one lists every namespace with a policy)' })
        .option('consistency', { ...consistencyOption, describe: 'set: the new consistency level' })
        .option('type', { type: 'string', choices: valueTypes as readonly string[], describe: 'set: the value type' })
        .option('home', { type: 'string', describe: "set: the home region whose leader serves it ('none': wherever the leader is)" }),
    )
      .example('$0 policy get', 'every namespace with a policy')
      .example('$0 policy set edge --consistency strong --home eu', 'make edge/… strong, led from eu'),
  handler: (args) => {
    const namespace = args.namespace
    if (args.action === 'get') {
      if (args.consistency !== undefined || args.type !== undefined || args.home !== undefined) throw new UsageError('policy get takes no --consistency, --type or --home (use policy set)')
      if (namespace === undefined) {
        return runClient(
          args,
          (client) => client.request('GET', '/v1/policies', policiesReplySchema),
          (answer) => policyTable(answer.policies),
        )
      }
      return runClient(
        args,
        (client) => client.request('GET', `/v1/policies/${encodeURIComponent(namespace)}`, policyReplySchema),
        (answer) => policyTable([answer]),
      )
    }
    if (namespace === undefined) throw new UsageError('policy set needs a NAMESPACE: dwcp policy set NAMESPACE --consistency …')
    const change: { -readonly [K in keyof PolicyPutBody]: PolicyPutBody[K] } = {}
    if (args.consistency !== undefined) change.consistency = args.consistency as NonNullable<PolicyPutBody['consistency']>
    if (args.type !== undefined) change.valueType = args.type as NonNullable<PolicyPutBody['valueType']>
    if (args.home !== undefined) change.home = args.home === 'none' ? null : args.home
    if (Object.keys(change).length === 0) throw new UsageError('policy set needs at least one of --consistency, --type, --home')
    return runClient(
      args,
      (client) => client.request('PUT', `/v1/policies/${encodeURIComponent(namespace)}`, policyReplySchema, change),
      (answer) => policyTable([answer]),
    )
  },
}
