/**
 * The clusters `dwcp tui` attaches to, as contexts: the node URLs given (one
 * cluster), each `--context NAME=URL[,URL…]`, and the cluster `dwcp up` runs
 * under the data dir (context `up`, with its cluster id from cluster.json)
 * whenever one runs there — first when nothing else is given.
 */
import { join, resolve } from 'node:path'
import { readClusterFile } from '../node/clusterFile.ts'
import type { ContextSpec } from '../tui/data/contexts.ts'
import { contextLimits } from '../tui/data/contexts.ts'
import { UsageError } from './exitCodes.ts'
import { clusterFileName, readUpFile } from './upFile.ts'

export function liveContexts(urls: readonly string[], contextOptions: readonly string[], dataDir: string): ContextSpec[] {
  const contexts: ContextSpec[] = []
  if (urls.length > 0) contexts.push({ name: 'urls', clusterId: null, urls })
  for (const text of contextOptions) contexts.push(contextOption(text))
  const up = upCluster(dataDir)
  if (up !== null && !contexts.some((context) => context.name === up.name)) contexts.push(up)
  if (contexts.length === 0) throw new UsageError(`no cluster running under ${resolve(dataDir)} (no up.json): start one with 'dwcp up', name node URLs, or use --sim SCENARIO`)
  if (contexts.length > contextLimits.contextsMax) throw new UsageError(`at most ${contextLimits.contextsMax} contexts, got ${contexts.length}`)
  for (const url of contexts.flatMap((context) => context.urls)) {
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) throw new UsageError(`expected node URLs as http(s)://HOST:PORT, got ${JSON.stringify(url)}`)
  }
  const names = contexts.map((context) => context.name)
  const twice = names.find((name, index) => names.indexOf(name) !== index)
  if (twice !== undefined) throw new UsageError(`--context: two contexts named ${twice}`)
  return contexts
}

/** `NAME=URL[,URL…]`. */
function contextOption(text: string): ContextSpec {
  const match = /^([A-Za-z0-9][\w.-]{0,31})=(.+)$/.exec(text)
  if (match === null) throw new UsageError(`--context: expected NAME=URL[,URL…] (a name of letters, digits, . _ -), got ${JSON.stringify(text)}`)
  return { name: match[1]!, clusterId: null, urls: match[2]!.split(',').filter((url) => url !== '') }
}

/** The cluster `dwcp up` runs from `dataDir` (its up.json, and its id from cluster.json), or null when none runs there. */
function upCluster(dataDir: string): ContextSpec | null {
  const up = readUpFile(dataDir)
  if (up === null || up.nodes.length === 0) return null
  let clusterId: string | null = null
  try {
    clusterId = readClusterFile(join(dataDir, clusterFileName)).clusterId
  } catch {
    // A cluster file that cannot be read leaves the id unknown; the nodes are still there.
  }
  return { name: 'up', clusterId, urls: up.nodes.map((node) => node.url) }
}
