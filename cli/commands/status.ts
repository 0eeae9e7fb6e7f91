/**
 * dwcp status and dwcp members: what one node says of itself (GET /v1/status)
 * and of the members it sees through gossip (GET /v1/members), as a table
 * on a terminal or the API's JSON with --json.
 */
import type { CommandModule } from 'yargs'
import { membersReplySchema, statusReplySchema, type MemberViewBody, type StatusReply } from '../../api/contract.ts'
import { runClient, withClientOptions, type ClientArgs } from '../client/clientCommand.ts'
import { formatFields, formatTable } from '../client/table.ts'

const show = (value: unknown) => (value === null || value === undefined ? '-' : String(value))
const milliseconds = (value: number | null) => (value === null ? '-' : `${value < 10 ? value.toFixed(2) : value.toFixed(0)} ms`)

export function formatStatus(status: StatusReply): string {
  return formatFields([
    ['node', `${status.node} (${status.region}), boot ${status.boot}`],
    ['mode', show(status.mode)],
    ['role', `${show(status.role)}, term ${show(status.term)}`],
    ['leader', show(status.leader)],
    ['commit', show(status.commit)],
    ['peers', `${status.peers} connected of ${status.members} members`],
    ['events', `${status.events.epoch}:${status.events.lastSeq}`],
  ])
}

export function formatMembers(members: readonly MemberViewBody[]): string {
  return formatTable(
    ['ID', 'REGION', 'STATE', 'INC', 'MODE', 'RTT P50', 'RTT P99', 'LOSS'],
    members.map((member) => [
      member.id,
      show(member.region),
      member.state,
      String(member.incarnation),
      member.link === null ? '(this node)' : show(member.link.mode),
      milliseconds(member.link?.rttMsP50 ?? null),
      milliseconds(member.link?.rttMsP99 ?? null),
      member.link?.lossRate == null ? '-' : `${(member.link.lossRate * 100).toFixed(1)}%`,
    ]),
  )
}

export const statusCommand: CommandModule<object, ClientArgs> = {
  command: 'status',
  describe: "One node's id, region, mode, Raft role, term, leader and peers",
  builder: (yargs) => withClientOptions(yargs),
  handler: (args) =>
    runClient(
      args,
      (client) => client.request('GET', '/v1/status', statusReplySchema),
      (status) => formatStatus(status),
    ),
}

export const membersCommand: CommandModule<object, ClientArgs> = {
  command: 'members',
  describe: 'The members one node sees: region, state, incarnation, link mode and round-trip times',
  builder: (yargs) => withClientOptions(yargs),
  handler: (args) =>
    runClient(
      args,
      (client) => client.request('GET', '/v1/members', membersReplySchema),
      (answer, url) => `${formatMembers(answer.members)}(as seen by ${url})\n`,
    ),
}
