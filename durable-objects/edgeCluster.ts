/**
 * The edge cluster, read from the Worker's vars: one region object per
 * configured region, each a member of the cluster and a Raft voter (the
 * region objects are the Raft group); the first four form the PBFT group
 * when there are four or more (n = 3f+1, f >= 1), as in a node cluster file.
 *
 * REGIONS lists the regions, comma-separated: `weur,enam,apac` (each id is
 * a Durable Object location hint), or `eu=weur,us=enam,ap=apac` (an id of
 * your own, then its location hint). A region's object is named
 * `region:<id>` (the issue's name; `:` keeps it apart from any name a user
 * could pick for a member); its member id is `region-<id>`, since member ids
 * on the wire are [A-Za-z0-9._-] (core/lib/limits.ts isValidId).
 */
import { isValidId, raftLimits, type NodeId, type Policy } from '../core/index.ts'
import { defaultNodePolicies } from '../node/policies.ts'

/** Where a Durable Object may be placed (Cloudflare's location hints). */
export const locationHints = ['wnam', 'enam', 'sam', 'weur', 'eeur', 'apac', 'oc', 'afr', 'me'] as const
export type LocationHint = (typeof locationHints)[number]

export const edgeClusterLimits = {
  /** Regions in one edge cluster: every region object is a Raft voter, and a Raft group has at most this many members. */
  regionsMax: raftLimits.membersMax,
  /** The PBFT group: the first this many regions, when there are that many. */
  pbftGroupSize: 4,
} as const

export interface EdgeRegion {
  readonly id: string
  readonly locationHint: LocationHint
  /** The region object's member id in the cluster. */
  readonly member: NodeId
  /** The Durable Object name of the region object. */
  readonly objectName: string
}

export interface EdgeCluster {
  readonly clusterId: string
  readonly regions: readonly EdgeRegion[]
  readonly raftVoters: readonly NodeId[]
  readonly pbft: readonly NodeId[]
  readonly policies: Readonly<Record<string, Policy>>
}

/** The vars the cluster is read from (wrangler.toml [vars]). */
export interface EdgeClusterVars {
  readonly REGIONS?: string
  readonly DWCP_CLUSTER_ID?: string
}

export class EdgeConfigError extends Error {
  override readonly name = 'EdgeConfigError'
}

export const defaultEdgeClusterId = 'edge'

export function regionObjectName(regionId: string): string {
  return `region:${regionId}`
}

export function regionMember(regionId: string): NodeId {
  return `region-${regionId}`
}

/** The cluster the vars describe; an EdgeConfigError says what is wrong with them. */
export function readEdgeCluster(vars: EdgeClusterVars): EdgeCluster {
  const clusterId = vars.DWCP_CLUSTER_ID ?? defaultEdgeClusterId
  if (!isValidId(clusterId)) throw new EdgeConfigError(`DWCP_CLUSTER_ID must be 1 to 64 characters of [A-Za-z0-9._-], got ${JSON.stringify(clusterId)}`)
  const list = (vars.REGIONS ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
  if (list.length === 0) throw new EdgeConfigError('REGIONS is empty: list the regions, e.g. REGIONS = "weur,enam,apac" or "eu=weur,us=enam,ap=apac"')
  if (list.length > edgeClusterLimits.regionsMax) throw new EdgeConfigError(`REGIONS lists ${list.length} regions; at most ${edgeClusterLimits.regionsMax} (every region object is a Raft voter)`)
  const regions = list.map(readRegion)
  const ids = regions.map((region) => region.id)
  const duplicate = ids.find((id, index) => ids.indexOf(id) !== index)
  if (duplicate !== undefined) throw new EdgeConfigError(`REGIONS lists region ${duplicate} twice`)
  const members = regions.map((region) => region.member)
  const pbft = members.length >= edgeClusterLimits.pbftGroupSize ? members.slice(0, edgeClusterLimits.pbftGroupSize) : []
  return { clusterId, regions, raftVoters: members, pbft, policies: defaultNodePolicies(pbft.length > 0) }
}

function readRegion(entry: string): EdgeRegion {
  const [id, hint, extra] = entry.split('=').map((part) => part.trim())
  if (extra !== undefined) throw new EdgeConfigError(`REGIONS entry ${JSON.stringify(entry)}: write id=hint or a hint alone`)
  const locationHint = hint ?? id!
  if (!(locationHints as readonly string[]).includes(locationHint)) throw new EdgeConfigError(`REGIONS entry ${JSON.stringify(entry)}: ${JSON.stringify(locationHint)} is not a location hint (${locationHints.join(', ')})`)
  const member = regionMember(id!)
  if (!isValidId(id!) || !isValidId(member)) throw new EdgeConfigError(`REGIONS entry ${JSON.stringify(entry)}: a region id is 1 to ${64 - 'region-'.length} characters of [A-Za-z0-9._-]`)
  return { id: id!, locationHint: locationHint as LocationHint, member, objectName: regionObjectName(id!) }
}
