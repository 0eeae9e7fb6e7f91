/**
 * The layout of a local cluster under one data dir: `<data>/<id>/` per node,
 * `<data>/cluster.json`. The first `dwcp up` makes it (each node's data dir
 * opened once to make its key, then the cluster file written with the public
 * keys); later ones find it and check it still fits: the options asked for,
 * and every node's key against the file (a data dir that was deleted and made
 * anew would be a stranger to its peers).
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { isValidId } from '../../core/lib/limits.ts'
import { defaultPbftGroupSize, type ClusterConfig, type ClusterMember } from '../../node/clusterConfig.ts'
import { encodePublicKey, portOfUrl, readClusterFile, writeClusterFile } from '../../node/clusterFile.ts'
import { defaultNodePolicies } from '../../node/policies.ts'
import { openDataDir } from '../../node/dataDir.ts'
import { DataDirLockedError } from '../../node/sqliteStorage.ts'
import { UsageError } from '../exitCodes.ts'
import { clusterFileName, nodeDataDir, readUpFile } from '../upFile.ts'

export const upLayoutLimits = {
  /** Nodes one `dwcp up` runs: each is a process on this machine. */
  nodesMax: 32,
  regionsMax: 16,
  basePortMax: 65535,
} as const

export const upDefaults = {
  nodes: 5,
  regions: ['eu', 'us', 'ap'],
  basePort: 7701,
  host: '127.0.0.1',
} as const

/** What the command line asked for; undefined: not given (an existing cluster keeps its own). */
export interface LayoutRequest {
  nodes?: number
  regions?: string[]
  basePort?: number
  /** Raft voters wanted per region (joined learners are promoted toward it); a new cluster only. */
  voterTargets?: Record<string, number>
}

export interface ClusterLayout {
  readonly dataDir: string
  readonly clusterPath: string
  readonly cluster: ClusterConfig
  /** True when this run made the cluster. */
  readonly created: boolean
}

/** Nodes n1..nN, spread over the regions round-robin, on consecutive ports from basePort. */
export function planMembers(nodes: number, regions: readonly string[], basePort: number): { id: string; region: string; url: string }[] {
  return Array.from({ length: nodes }, (_, index) => ({ id: `n${index + 1}`, region: regions[index % regions.length]!, url: `http://${upDefaults.host}:${basePort + index}` }))
}

export function checkLayoutRequest(request: LayoutRequest): void {
  if (request.nodes !== undefined && (!Number.isSafeInteger(request.nodes) || request.nodes < 1 || request.nodes > upLayoutLimits.nodesMax)) {
    throw new UsageError(`--nodes: expected an integer 1..${upLayoutLimits.nodesMax}, got ${String(request.nodes)}`)
  }
  if (request.regions !== undefined) {
    if (request.regions.length === 0 || request.regions.length > upLayoutLimits.regionsMax) throw new UsageError(`--regions: expected 1 to ${upLayoutLimits.regionsMax} region names separated by commas`)
    const bad = request.regions.find((region) => !isValidId(region))
    if (bad !== undefined) throw new UsageError(`--regions: ${JSON.stringify(bad)} is not a region name (1 to 64 characters of [A-Za-z0-9._-])`)
    if (new Set(request.regions).size !== request.regions.length) throw new UsageError('--regions: a region is named twice')
  }
  const nodes = request.nodes ?? upDefaults.nodes
  if (request.basePort !== undefined && (!Number.isSafeInteger(request.basePort) || request.basePort < 1 || request.basePort + nodes - 1 > upLayoutLimits.basePortMax)) {
    throw new UsageError(`--base-port: expected an integer 1..${upLayoutLimits.basePortMax - nodes + 1} (${nodes} consecutive ports), got ${String(request.basePort)}`)
  }
}

/** Makes the cluster under `dataDir`, or loads the one there and checks it against `request` and the nodes' keys. */
export function prepareLayout(dataDir: string, request: LayoutRequest): ClusterLayout {
  checkLayoutRequest(request)
  const clusterPath = join(dataDir, clusterFileName)
  const running = readUpFile(dataDir)
  if (existsSync(clusterPath)) {
    const cluster = loadExisting(clusterPath, request)
    for (const member of cluster.members) checkKey(dataDir, member, running?.pid ?? null)
    return { dataDir, clusterPath, cluster, created: false }
  }
  const members = planMembers(request.nodes ?? upDefaults.nodes, request.regions ?? upDefaults.regions, request.basePort ?? upDefaults.basePort)
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  } catch (error) {
    throw new UsageError(`--data: cannot create ${dataDir}: ${(error as Error).message}`)
  }
  const withKeys: ClusterMember[] = members.map((member) => ({ ...member, publicKey: openForKey(dataDir, member.id, running?.pid ?? null) }))
  const ids = withKeys.map((member) => member.id)
  const pbft = ids.length >= defaultPbftGroupSize ? ids.slice(0, defaultPbftGroupSize) : []
  const cluster: ClusterConfig = { clusterId: `local-${randomBytes(4).toString('hex')}`, members: withKeys, raftVoters: ids, pbft, policies: defaultNodePolicies(pbft.length > 0), voterTargets: request.voterTargets ?? null }
  writeClusterFile(clusterPath, cluster)
  return { dataDir, clusterPath, cluster, created: true }
}

function loadExisting(clusterPath: string, request: LayoutRequest): ClusterConfig {
  let cluster: ClusterConfig
  try {
    cluster = readClusterFile(clusterPath)
  } catch (error) {
    throw new UsageError(`${(error as Error).message} (remove it, or choose another --data, to make a new cluster)`)
  }
  const fresh = `: remove ${clusterPath} and the node dirs beside it, or choose another --data, to make a new cluster`
  if (request.nodes !== undefined && request.nodes !== cluster.members.length) {
    throw new UsageError(`--nodes ${request.nodes}: the cluster in ${clusterPath} has ${cluster.members.length} nodes${fresh}`)
  }
  const regions = [...new Set(cluster.members.map((member) => member.region))]
  if (request.regions !== undefined && request.regions.join(',') !== regions.join(',')) {
    throw new UsageError(`--regions ${request.regions.join(',')}: the cluster in ${clusterPath} has regions ${regions.join(',')}${fresh}`)
  }
  const basePort = portOfUrl(cluster.members[0]!.url)
  if (request.basePort !== undefined && request.basePort !== basePort) {
    throw new UsageError(`--base-port ${request.basePort}: the cluster in ${clusterPath} starts at port ${basePort}${fresh}`)
  }
  return cluster
}

/** Opens a node's data dir (making its key on first use) and closes it again; returns its public key. */
function openForKey(dataDir: string, id: string, upPid: number | null): Uint8Array {
  const path = nodeDataDir(dataDir, id)
  try {
    const opened = openDataDir(path)
    opened.storage.close()
    return opened.signer.publicKey
  } catch (error) {
    if (error instanceof DataDirLockedError) {
      throw new UsageError(`${path} is in use: a cluster is already running from ${dataDir}${upPid === null ? '' : ` (dwcp up, pid ${upPid})`}; stop it first`)
    }
    throw new UsageError(`${path}: ${(error as Error).message}`)
  }
}

function checkKey(dataDir: string, member: ClusterMember, upPid: number | null): void {
  const path = nodeDataDir(dataDir, member.id)
  if (!existsSync(path)) throw new UsageError(`${path} is missing: node ${member.id} of the cluster in ${dataDir} has lost its data and key; remove ${dataDir} to make a new cluster`)
  const key = encodePublicKey(openForKey(dataDir, member.id, upPid))
  if (key !== encodePublicKey(member.publicKey)) throw new UsageError(`${path} holds another key than the cluster file lists for ${member.id}: its data dir was made anew; remove ${dataDir} to make a new cluster`)
}
