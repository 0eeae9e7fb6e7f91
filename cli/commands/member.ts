/**
 * dwcp member remove ID | leave: change the cluster's configuration at run
 * time. `remove` asks any node (the cluster's, or --url) to remove member ID
 * (DELETE /v1/members/ID, through the Raft leader); `leave` asks the node at
 * --url to remove itself and then stop (POST /v1/cluster/leave). Both print
 * the configuration once the change applied (--json: the API's answer).
 */
import type { Argv, CommandModule } from 'yargs'
import { configurationReplySchema, type ConfigurationReply } from '../../api/contract.ts'
import { runClient, withClientOptions, type ClientArgs } from '../client/clientCommand.ts'
import { UsageError } from '../exitCodes.ts'

interface MemberArgs extends ClientArgs {
  id?: string
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

export const memberCommand: CommandModule<object, MemberArgs> = {
  command: 'member <command>',
  describe: 'Change membership at run time: remove a member, or make one leave',
  builder: (yargs) =>
    yargs
      .command(removeCommand as CommandModule<object, MemberArgs>)
      .command(leaveCommand as CommandModule<object, MemberArgs>)
      .demandCommand(1, 'Name a member command: remove or leave.')
      .example('$0 member remove n4', 'remove n4 from the cluster dwcp up runs')
      .example('$0 member leave --url http://127.0.0.1:7706', 'the node on port 7706 removes itself and stops') as unknown as Argv<MemberArgs>,
  handler: () => {},
}
