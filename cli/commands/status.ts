/**
 * dwcp status and dwcp members: what one node says of itself (GET /v1/status)
 * and of the members it sees through gossip (GET /v1/members), as a table
 * on a terminal or the API's JSON with --json.
 */
import type { CommandModule } from 'yargs'
import { runClient, withClientOptions, type ClientArgs } from '../client/clientCommand.ts'
import { formatFields, formatTable } from '../client/table.ts'

interface StatusView {
  node: string
  region: string
  boot: number
  mode: string
  role: string | null
  term: number | null
  leader: string | null
  commit: number | null
  peers: number
  members: number
  events: { epoch: string; lastSeq: number }
}

interface MemberRow {
  id: string
  region: string | null
  state: string
  incarnation: number
  link: { mode: string | null; rttMsP50: number | null; rttMsP99: number | null; lossRate: number | null; samples: number } | null
}

const show = (value: unknown) => (value === null || value === undefined ? '-' : String(value))
const milliseconds = (value: number | null) => (value === null ? '-' : `${value < 10 ? value.toFixed(2) : value.toFixed(0)} ms`)

export function formatStatus(status: StatusView): string {
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

export function formatMembers(members: readonly MemberRow[]): string {
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
    runClient(args, (client) => client.request<StatusView>('GET', '/v1/status'), (status) => formatStatus(status)),
}

export const membersCommand: CommandModule<object, ClientArgs> = {
  command: 'members',
  describe: 'The members one node sees: region, state, incarnation, link mode and round-trip times',
  builder: (yargs) => withClientOptions(yargs),
  handler: (args) =>
    runClient(args, (client) => client.request<{ members: MemberRow[] }>('GET', '/v1/members'), (answer, url) => `${formatMembers(answer.members)}(as seen by ${url})\n`),
}
