/**
 * The cluster file on disk: `dwcp up` writes it, `dwcp node --cluster FILE`
 * reads it. The schema and its defaults are node/clusterConfig.ts (one
 * module for both sides); this adds the file: a size limit, JSON errors that
 * name the file, and a write that replaces the file whole or not at all.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { readClusterFile as parseClusterConfig, writeClusterFile as clusterFileOf, type ClusterConfig } from './clusterConfig.ts'

export const clusterFileLimits = {
  /** The file itself: members and policies fit well below this. */
  fileBytesMax: 1024 * 1024,
} as const

export class ClusterFileError extends Error {
  override readonly name = 'ClusterFileError'
}

/** The cluster configuration in the file at `path`, defaults filled; a ClusterFileError names the file and the problem. */
export function readClusterFile(path: string): ClusterConfig {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new ClusterFileError(`cannot read cluster file ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`)
  }
  if (text.length > clusterFileLimits.fileBytesMax) throw new ClusterFileError(`${path}: ${text.length} bytes, more than fileBytesMax=${clusterFileLimits.fileBytesMax}`)
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    throw new ClusterFileError(`${path}: not JSON: ${(error as Error).message}`)
  }
  try {
    return parseClusterConfig(json)
  } catch (error) {
    throw new ClusterFileError(`${path}: ${(error as Error).message.replace(/^cluster file: /, '').replace(/\n\s*/g, ' ')}`)
  }
}

/** Writes `config` to `path` whole or not at all (a temporary file renamed over it). */
export function writeClusterFile(path: string, config: ClusterConfig): void {
  const json = clusterFileOf(config)
  parseClusterConfig(json)
  const temporary = `${path}.tmp`
  writeFileSync(temporary, `${JSON.stringify(json, null, 2)}\n`, { mode: 0o644 })
  renameSync(temporary, path)
}

export function encodePublicKey(key: Uint8Array): string {
  return Buffer.from(key).toString('base64url')
}

/** The port of a member url: the explicit one, else the scheme's default. */
export function portOfUrl(url: string): number {
  const parsed = new URL(url)
  return parsed.port !== '' ? Number(parsed.port) : parsed.protocol === 'https:' ? 443 : 80
}
