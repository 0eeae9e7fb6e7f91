/**
 * The cluster file (JSON, written by `dwcp up`, read by `dwcp node --cluster
 * FILE`): members with region, URL and Ed25519 public key, the Raft voters,
 * the PBFT group and the starting policies. `readClusterFile` validates it
 * (zod) and fills the defaults; `writeClusterFile` is its inverse. The
 * cluster secret is never in this file.
 */
import { z } from 'zod'
import { bootstrapConfiguration, configurationLimits, consistencies, isValidId, pbftLimits, policyProblem, replicaLimits, valueTypes, type ClusterConfiguration, type Policy } from '../core/index.ts'
import { defaultNodePolicies } from './policies.ts'

export interface ClusterMember {
  readonly id: string
  readonly region: string
  /** Base URL of the node's one port: http://host:port (https with TLS). */
  readonly url: string
  /** Raw 32-byte Ed25519 public key (the file holds it as base64url). */
  readonly publicKey: Uint8Array
}

export interface ClusterConfig {
  readonly clusterId: string
  readonly members: readonly ClusterMember[]
  readonly raftVoters: readonly string[]
  readonly pbft: readonly string[]
  readonly policies: Readonly<Record<string, Policy>>
  /** Raft voters wanted per region (autopilot promotes joined learners toward it); null: the voters each region starts with. */
  readonly voterTargets?: Readonly<Record<string, number>> | null
}

/** PBFT needs n = 3f+1 with f ≥ 1: the default group is the first 4 members, when there are that many. */
export const defaultPbftGroupSize = 4

export class ClusterConfigError extends Error {
  override readonly name = 'ClusterConfigError'
}

const id = (what: string) => z.string().refine(isValidId, { message: `${what} must be 1 to 64 characters of [A-Za-z0-9._-]` })

const publicKey = z.string().refine((text) => /^[A-Za-z0-9_-]{43}$/.test(text) && Buffer.from(text, 'base64url').length === 32, { message: 'publicKey must be the base64url of a raw 32-byte Ed25519 public key' })

const url = z.string().refine(
  (text) => {
    try {
      const parsed = new URL(text)
      return (parsed.protocol === 'http:' || parsed.protocol === 'https:') && parsed.pathname === '/' && parsed.search === ''
    } catch {
      return false
    }
  },
  { message: 'url must be http://host:port or https://host:port' },
)

const policy = z.object({
  consistency: z.enum(consistencies as [Policy['consistency'], ...Policy['consistency'][]]),
  valueType: z.enum(valueTypes as [Policy['valueType'], ...Policy['valueType'][]]),
  home: id('home').nullable().default(null),
})

export const clusterFileSchema = z.object({
  clusterId: id('clusterId'),
  members: z
    .array(z.object({ id: id('member id'), region: id('region'), url, publicKey }))
    .min(1)
    .max(replicaLimits.membersMax),
  raftVoters: z.array(id('raft voter')).min(1).optional(),
  pbft: z.array(id('pbft member')).max(pbftLimits.replicasMax).optional(),
  policies: z.record(id('namespace'), policy).optional(),
  voterTargets: z.record(id('region'), z.number().int().min(0).max(configurationLimits.votersMax)).optional(),
})

export type ClusterFile = z.input<typeof clusterFileSchema>

/** The cluster configuration in `json` (parsed), defaults filled; a ClusterConfigError names every problem. */
export function readClusterFile(json: unknown): ClusterConfig {
  const parsed = clusterFileSchema.safeParse(json)
  if (!parsed.success) throw new ClusterConfigError(`cluster file: ${z.prettifyError(parsed.error)}`)
  const file = parsed.data
  const ids = file.members.map((member) => member.id)
  const duplicate = ids.find((member, index) => ids.indexOf(member) !== index)
  if (duplicate !== undefined) throw new ClusterConfigError(`cluster file: member ${duplicate} is listed twice`)
  const raftVoters = file.raftVoters ?? ids
  const pbft = file.pbft ?? (ids.length >= defaultPbftGroupSize ? ids.slice(0, defaultPbftGroupSize) : [])
  for (const [group, list] of [
    ['raftVoters', raftVoters],
    ['pbft', pbft],
  ] as const) {
    for (const member of list) if (!ids.includes(member)) throw new ClusterConfigError(`cluster file: ${group} names ${member}, which is not a member`)
    if (new Set(list).size !== list.length) throw new ClusterConfigError(`cluster file: ${group} lists a member twice`)
  }
  if (pbft.length > 0 && pbft.length < defaultPbftGroupSize) throw new ClusterConfigError(`cluster file: a pbft group has at least ${defaultPbftGroupSize} members (n = 3f+1, f >= 1), got ${pbft.length}`)
  const policies = file.policies ?? defaultNodePolicies(pbft.length > 0)
  for (const [namespace, entry] of Object.entries(policies)) {
    const problem = policyProblem(entry)
    if (problem !== null) throw new ClusterConfigError(`cluster file: policy of ${namespace}: ${problem.message}`)
    if (entry.consistency === 'byzantine' && pbft.length === 0) throw new ClusterConfigError(`cluster file: namespace ${namespace} is byzantine but the cluster has no pbft group`)
  }
  return {
    clusterId: file.clusterId,
    members: file.members.map((member) => ({ id: member.id, region: member.region, url: member.url, publicKey: new Uint8Array(Buffer.from(member.publicKey, 'base64url')) })),
    raftVoters,
    pbft,
    policies,
    voterTargets: file.voterTargets ?? null,
  }
}

/** The JSON object of `config` (the inverse of readClusterFile). */
export function writeClusterFile(config: ClusterConfig): ClusterFile {
  return {
    clusterId: config.clusterId,
    members: config.members.map((member) => ({ id: member.id, region: member.region, url: member.url, publicKey: Buffer.from(member.publicKey).toString('base64url') })),
    raftVoters: [...config.raftVoters],
    pbft: [...config.pbft],
    policies: { ...config.policies },
    ...(config.voterTargets == null ? {} : { voterTargets: { ...config.voterTargets } }),
  }
}

/** The configuration (version 1) a cluster made from this file starts with: every member, its voters and PBFT group, the voter targets. */
export function bootstrapConfigurationOf(config: ClusterConfig): ClusterConfiguration {
  return bootstrapConfiguration({
    members: config.members.map((member) => ({ id: member.id, region: member.region, address: member.url, publicKey: member.publicKey, tags: {} })),
    raftVoters: config.raftVoters,
    pbftReplicas: config.pbft,
    ...(config.voterTargets == null ? {} : { voterTargets: config.voterTargets }),
  })
}
