/**
 * Which nodes a client command talks to: `--url`, else the nodes of the
 * cluster `dwcp up` runs from `--data` (up.json), else the members of its
 * cluster file. The client tries them in order until one takes the request.
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { readClusterFile } from '../../node/clusterFile.ts'
import { UsageError } from '../exitCodes.ts'
import { clusterFileName, readUpFile } from '../upFile.ts'
import type { ApiTarget } from './apiClient.ts'

export const defaultDataDir = '.dwcp'

export function resolveTargets(url: string | undefined, dataDir: string): ApiTarget[] {
  if (url !== undefined) {
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) throw new UsageError(`--url: expected http(s)://HOST:PORT, got ${JSON.stringify(url)}`)
    return [{ id: null, url }]
  }
  const up = readUpFile(dataDir)
  if (up !== null && up.nodes.length > 0) return up.nodes.map((node) => ({ id: node.id, url: node.url }))
  const clusterPath = join(dataDir, clusterFileName)
  if (existsSync(clusterPath)) {
    try {
      return readClusterFile(clusterPath).members.map((member) => ({ id: member.id, url: member.url }))
    } catch (error) {
      throw new UsageError((error as Error).message)
    }
  }
  throw new UsageError(`no cluster found under ${resolve(dataDir)}: start one with 'dwcp up', or name a node with --url`)
}
