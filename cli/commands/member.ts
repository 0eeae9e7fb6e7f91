/**
 * dwcp member remove ID | leave | pbft IDS: change the cluster's configuration at run
 * time. `remove` asks any node (the cluster's, or --url) to remove member ID
 * (DELETE /v1/members/ID, through the Raft leader); `leave` asks the node at
 * --url to remove itself and then stop (POST /v1/cluster/leave). Both print
 * the configuration once the change applied (--json: the API's answer).
 * `pbft n1,n2,n3,n5` sets the PBFT group the cluster should have (PUT
 * /v1/cluster/pbft); the running group changes to it by its own order.
 */
import type { Argv, CommandModule } from 'yargs'
import { configurationReplySchema, type ConfigurationReply } from '../../api/contract.ts'
import { runClient, withClientOptions, type ClientArgs } from '../client/clientCommand.ts'
import { UsageError } from '../exitCodes.ts'

interface MemberArgs extends ClientArgs {
  id?: string
  replicas?: string
}

function formatChange(what: string, answer: ConfigurationReply): string {
  const c = answer.configuration
  const list = (ids: readonly string[]) => (ids.length === 0 ? '-' : ids.join(','))
  return `${what}: configuration version ${answer.version}, voters ${list(c.raftVoters)}, learners ${list(c.raftLearners)}, pbft ${list(c.pbftReplicas)}\n`
}

const removeCommand: CommandModule<object, MemberArgs> = {
  command: 'remove <id>',
  describe: 'Remove member ID from the cluster (never below a quorum of live voters)',
  builder: (yargs) => withClientOptions(yargs).positional('id', { type: 'string', describe: 'the member to remove' }) as unknown as Argv<MemberArgs>,
  handler: (args) =>
    runClient(
      args,
      (client) => client.request('DELETE', `/v1/members/${encodeURIComponent(args.id!)}`, configurationReplySchema),
      (answer) => formatChange(`removed ${args.id}`, answer),
    ),
}

const leaveCommand: CommandModule<object, MemberArgs> = {
  command: 'leave',
  describe: 'Ask the node at --url to remove itself from the cluster, then stop',
  builder: (yargs) => withClientOptions(yargs) as unknown as Argv<MemberArgs>,
  handler: (args) => {
    if (args.url === undefined) throw new UsageError('--url: required: the node that leaves (dwcp member leave --url http://127.0.0.1:7705)')
    return runClient(
      args,
      (client) => client.request('POST', '/v1/cluster/leave', configurationReplySchema),
      (answer, url) => formatChange(`${new URL(url).origin} left the cluster and is stopping`, answer),
    )
  },
}

const pbftCommand: CommandModule<object, MemberArgs> = {
  command: 'pbft <replicas>',
  describe: 'Set the PBFT group (3f+1 members with keys, comma-separated); the running group changes to it by its own order',
  builder: (yargs) => withClientOptions(yargs).positional('replicas', { type: 'string', describe: 'member ids, e.g. n1,n2,n3,n5' }) as unknown as Argv<MemberArgs>,
  handler: (args) => {
    const replicas = args.replicas!.split(',').map((id) => id.trim())
    if (replicas.some((id) => id === '')) throw new UsageError(`replicas: expected member ids separated by commas, got ${JSON.stringify(args.replicas)}`)
    return runClient(
      args,
      (client) => client.request('PUT', '/v1/cluster/pbft', configurationReplySchema, { replicas }),
      (answer) => formatChange(`pbft group target ${replicas.join(',')}`, answer),
    )
  },
}

export const memberCommand: CommandModule<object, MemberArgs> = {
  command: 'member <command>',
  describe: 'Change membership at run time: remove a member, make one leave, set the PBFT group',
  builder: (yargs) =>
    yargs
      .command(removeCommand as CommandModule<object, MemberArgs>)
      .command(leaveCommand as CommandModule<object, MemberArgs>)
      .command(pbftCommand as CommandModule<object, MemberArgs>)
      .demandCommand(1, 'Name a member command: remove, leave or pbft.')
      .example('$0 member remove n4', 'remove n4 from the cluster dwcp up runs')
      .example('$0 member leave --url http://127.0.0.1:7706', 'the node on port 7706 removes itself and stops')
      .example('$0 member pbft n1,n2,n3,n5', 'the PBFT group becomes n1,n2,n3,n5 (n5 replacing n4)') as unknown as Argv<MemberArgs>,
  handler: () => {},
}
