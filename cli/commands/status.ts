/**
 * dwcp status and dwcp members: what one node says of itself (GET /v1/status)
 * and of the cluster configuration and the members it sees through gossip
 * (GET /v1/members), as a table on a terminal or the API's JSON with --json.
 */
import type { CommandModule } from 'yargs'
import { membersReplySchema, statusReplySchema, type ConfigurationBody, type MembersReply, type StatusReply } from '../../api/contract.ts'
import { runClient, withClientOptions, type ClientArgs } from '../client/clientCommand.ts'
import { formatFields, formatTable } from '../client/table.ts'

const show = (value: unknown) => (value === null || value === undefined ? '-' : String(value))
/** The TAGS column shows a member's tags up to this many characters, cut with … beyond. */
const tagsColumnCharsMax = 32
const milliseconds = (value: number | null) => (value === null ? '-' : `${value < 10 ? value.toFixed(2) : value.toFixed(0)} ms`)

export function formatStatus(status: StatusReply): string {
  return formatFields([
    ['node', `${status.node} (${status.region})${status.clusterId == null ? '' : ` in cluster ${status.clusterId}`}, boot ${status.boot}`],
    ['mode', show(status.mode)],
    ['role', `${show(status.role)}, term ${show(status.term)}`],
    ['leader', show(status.leader)],
    ['commit', show(status.commit)],
    ['peers', `${status.peers} connected of ${status.members} members`],
    ['events', `${status.events.epoch}:${status.events.lastSeq}`],
    ['config', `version ${status.configuration.version}: voters ${list(status.configuration.voters)}; learners ${list(status.configuration.learners)}; pbft ${list(status.configuration.pbft)}`],
  ])
}

const list = (ids: readonly string[]) => (ids.length === 0 ? '-' : ids.join(','))

/** The configuration's groups in one line. */
export function formatConfiguration(c: ConfigurationBody): string {
  const running = c.pbftRunning === undefined ? '' : `; pbft running epoch ${c.pbftRunning.epoch} ${list(c.pbftRunning.replicas)}`
  return `configuration version ${c.version}: voters ${list(c.raftVoters)}; learners ${list(c.raftLearners)}; pbft ${list(c.pbftReplicas)}${running}\n`
}

/**
 * One row per member of the configuration (with its Raft and PBFT roles and
 * URL) and per member gossip still knows of (a removed one: role `-`), with
 * what gossip and the prober say of it.
 */
/** Tags as name=value,… (gossip's, the member's own newest word, else the configuration's); '-' when none. */
function formatTags(tags: Readonly<Record<string, string>> | undefined): string {
  const text = Object.entries(tags ?? {})
    .map(([name, value]) => `${name}=${value}`)
    .join(',')
  if (text.length === 0) return '-'
  return text.length <= tagsColumnCharsMax ? text : `${text.slice(0, tagsColumnCharsMax - 1)}…`
}

export function formatMembersReply(reply: MembersReply): string {
  const c = reply.configuration
  const byId = new Map(reply.members.map((member) => [member.id, member]))
  const ids = [...new Set([...c.members.map((member) => member.id), ...reply.members.map((member) => member.id)])].sort()
  const rows = ids.map((id) => {
    const configured = c.members.find((member) => member.id === id)
    const gossip = byId.get(id)
    const raft = c.raftVoters.includes(id) ? 'voter' : c.raftLearners.includes(id) ? 'learner' : configured === undefined ? 'removed' : '-'
    return [
      id,
      configured?.region ?? show(gossip?.region),
      configured?.url || '-',
      raft,
      c.pbftReplicas.includes(id) ? 'yes' : '-',
      gossip?.state ?? '-',
      gossip === undefined ? '-' : String(gossip.incarnation),
      // A link is null for the answering node itself (or before any probe); a removed member is no longer probed.
      gossip === undefined || configured === undefined ? '-' : gossip.link === null ? '(this node)' : show(gossip.link.mode),
      milliseconds(gossip?.link?.rttMsP50 ?? null),
      milliseconds(gossip?.link?.rttMsP99 ?? null),
      gossip?.link?.lossRate == null ? '-' : `${(gossip.link.lossRate * 100).toFixed(1)}%`,
      formatTags(gossip?.meta?.tags ?? configured?.tags),
    ]
  })
  return formatConfiguration(c) + formatTable(['ID', 'REGION', 'URL', 'RAFT', 'PBFT', 'STATE', 'INC', 'MODE', 'RTT P50', 'RTT P99', 'LOSS', 'TAGS'], rows)
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
  describe: 'The cluster configuration (version, voters, learners, PBFT group) and each member: region, URL, roles, gossip state, link mode and round-trip times',
  builder: (yargs) => withClientOptions(yargs),
  handler: (args) =>
    runClient(
      args,
      (client) => client.request('GET', '/v1/members', membersReplySchema),
      (answer, url, region) => `${formatMembersReply(answer)}(as seen by ${url}${region === null ? '' : `: region ${region}`})\n`,
    ),
}
