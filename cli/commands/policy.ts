/**
 * dwcp policy get [NAMESPACE] | set NAMESPACE [--consistency …] [--type …] [--home REGION|none]:
 * a namespace's consistency, value type and home region (GET/PUT
 * /v1/policies/NAMESPACE). A change is a strong write: every replica
 * switches at the same log position. Without NAMESPACE, get lists them all.
 */
import type { CommandModule } from 'yargs'
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

interface PolicyView {
  consistency: string
  valueType: string
  home: string | null
}

interface NamespacePolicy {
  namespace: string
  policy: PolicyView
}

function policyTable(policies: readonly NamespacePolicy[]): string {
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
        return runClient(args, (client) => client.request<{ policies: NamespacePolicy[] }>('GET', '/v1/policies'), (answer) => policyTable(answer.policies))
      }
      return runClient(args, (client) => client.request<NamespacePolicy>('GET', `/v1/policies/${encodeURIComponent(namespace)}`), (answer) => policyTable([answer]))
    }
    if (namespace === undefined) throw new UsageError('policy set needs a NAMESPACE: dwcp policy set NAMESPACE --consistency …')
    const change: Record<string, string | null> = {}
    if (args.consistency !== undefined) change.consistency = args.consistency
    if (args.type !== undefined) change.valueType = args.type
    if (args.home !== undefined) change.home = args.home === 'none' ? null : args.home
    if (Object.keys(change).length === 0) throw new UsageError('policy set needs at least one of --consistency, --type, --home')
    return runClient(args, (client) => client.request<NamespacePolicy>('PUT', `/v1/policies/${encodeURIComponent(namespace)}`, change), (answer) => policyTable([answer]))
  },
}
