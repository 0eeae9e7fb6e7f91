/**
 * What a node that joined a running cluster keeps in its data dir
 * (`joined.json`): the join answer, i.e. the cluster id, the configuration it
 * was admitted with and the cluster's starting policies. Its replica is built
 * from it at every start (storage then moves it to the configuration it last
 * applied), so a restart never joins a second time. Written whole or not at
 * all, before the replica first starts.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { configurationBodyOf, configurationOfBody } from '../api/configurationBody.ts'
import { joinReplySchema } from '../api/contract.ts'
import { policyProblem, type ClusterConfiguration, type Policy } from '../core/index.ts'

export const joinStateFile = 'joined.json'

export const joinStateLimits = {
  fileBytesMax: 1024 * 1024,
} as const

export interface JoinState {
  readonly clusterId: string
  /** The configuration the node was admitted with: its bootstrap configuration. */
  readonly configuration: ClusterConfiguration
  readonly policies: Readonly<Record<string, Policy>>
  /** The edge Worker URL the join answer named (a join through another node of a cluster with region objects), or null. */
  readonly edgeUrl: string | null
}

export class JoinStateError extends Error {
  override readonly name = 'JoinStateError'
}

const fileSchema = joinReplySchema.extend({ joinedVia: z.string(), joinedAt: z.string() })

/** What the data dir keeps of a join: its state and the URL it went through. */
export interface KeptJoin extends JoinState {
  readonly joinedVia: string
}

/** The join state in the data dir at `dataDir`, or null when the node never joined (a cluster-file node, or a new one). */
export function readJoinState(dataDir: string): KeptJoin | null {
  const path = join(dataDir, joinStateFile)
  if (!existsSync(path)) return null
  const text = readFileSync(path, 'utf8')
  if (text.length > joinStateLimits.fileBytesMax) throw new JoinStateError(`${path}: more than ${joinStateLimits.fileBytesMax} bytes`)
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    throw new JoinStateError(`${path}: not JSON: ${(error as Error).message}`)
  }
  const parsed = fileSchema.safeParse(json)
  if (!parsed.success) throw new JoinStateError(`${path}: ${z.prettifyError(parsed.error).replace(/\n\s*/g, ' ')}`)
  return { ...joinStateOf(parsed.data, path), joinedVia: parsed.data.joinedVia }
}

/** The join answer checked as a configuration and policies the replica can start with; throws a JoinStateError naming `where`. */
export function joinStateOf(answer: z.infer<typeof joinReplySchema>, where: string): JoinState {
  let configuration: ClusterConfiguration
  try {
    configuration = configurationOfBody(answer.configuration)
  } catch (error) {
    throw new JoinStateError(`${where}: ${(error as Error).message}`)
  }
  for (const [namespace, policy] of Object.entries(answer.policies)) {
    const problem = policyProblem(policy)
    if (problem !== null) throw new JoinStateError(`${where}: policy of ${namespace}: ${problem.message}`)
  }
  return { clusterId: answer.clusterId, configuration, policies: answer.policies, edgeUrl: answer.edgeUrl ?? null }
}

/**
 * The URL a joined node reaches the cluster's region objects (members
 * without an address) through: the edge Worker URL its join answer named,
 * else the URL it joined through when the cluster has region objects (it
 * came through the Worker), else null (a cluster of nodes only).
 */
export function edgeUrlOf(state: JoinState, joinedVia: string): string | null {
  if (state.edgeUrl !== null) return state.edgeUrl
  return state.configuration.members.some((member) => member.address === '') ? joinedVia : null
}

/** Writes `state` into `dataDir` (a temporary file synced, then renamed over the old one). */
export function writeJoinState(dataDir: string, state: JoinState, joinedVia: string): void {
  const path = join(dataDir, joinStateFile)
  const body = {
    clusterId: state.clusterId,
    configuration: configurationBodyOf(state.configuration),
    policies: { ...state.policies },
    ...(state.edgeUrl === null ? {} : { edgeUrl: state.edgeUrl }),
    joinedVia,
    joinedAt: new Date().toISOString(),
  }
  const temporary = `${path}.tmp`
  const fd = openSync(temporary, 'w', 0o600)
  try {
    writeSync(fd, `${JSON.stringify(body, null, 2)}\n`)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(temporary, path)
}
