/**
 * A node's data dir: the SQLite database (locked while the node runs) and
 * the node's Ed25519 key, made on first start and kept with mode 0600. The
 * key is the node's identity to its peers (the signed hello) and its PBFT
 * signing key; it is never logged.
 */
import { randomBytes } from 'node:crypto'
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeSync, fsyncSync } from 'node:fs'
import { join } from 'node:path'
import { ed25519SeedBytes, Ed25519Signer } from './ed25519Signer.ts'
import { SqliteStorage } from './sqliteStorage.ts'

export const dataDirFiles = {
  database: 'dwcp.sqlite',
  nodeKey: 'node.key',
} as const

export class DataDirError extends Error {
  override readonly name = 'DataDirError'
}

export interface DataDir {
  readonly path: string
  readonly storage: SqliteStorage
  readonly signer: Ed25519Signer
  /** True when this start made the key (a new node). */
  readonly created: boolean
}

/** Opens (making it on first use) the data dir at `path`; throws a DataDirError or DataDirLockedError naming the problem. */
export function openDataDir(path: string): DataDir {
  try {
    mkdirSync(path, { recursive: true, mode: 0o700 })
  } catch (error) {
    throw new DataDirError(`cannot create data dir ${path}: ${(error as Error).message}`)
  }
  const storage = new SqliteStorage(join(path, dataDirFiles.database))
  try {
    const { seed, created } = loadOrCreateKey(join(path, dataDirFiles.nodeKey))
    return { path, storage, signer: new Ed25519Signer(seed), created }
  } catch (error) {
    storage.close()
    throw error
  }
}

/**
 * The public key of the node key in the data dir at `path`, or null when it
 * holds none (or does not exist); creates nothing, so a node can check it is
 * its own data dir before opening it. Throws a DataDirError for a key file
 * others can read or one that is not a node key.
 */
export function readNodePublicKey(path: string): Uint8Array | null {
  const file = join(path, dataDirFiles.nodeKey)
  return existsSync(file) ? new Ed25519Signer(readKey(file)).publicKey : null
}

function loadOrCreateKey(file: string): { seed: Uint8Array; created: boolean } {
  if (!existsSync(file)) {
    const seed = randomBytes(ed25519SeedBytes)
    // 'wx': never overwrite a key another start made in between.
    const fd = openSync(file, 'wx', 0o600)
    try {
      writeSync(fd, seed)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    chmodSync(file, 0o600)
    return { seed: new Uint8Array(seed), created: true }
  }
  return { seed: readKey(file), created: false }
}

/** The seed in an existing key file, checked: only its owner may read it, and it has a seed's length. */
function readKey(file: string): Uint8Array {
  const mode = statSync(file).mode & 0o777
  if ((mode & 0o077) !== 0) throw new DataDirError(`node key ${file} is readable by others (mode ${mode.toString(8)}); run chmod 600 ${file}`)
  const seed = readFileSync(file)
  if (seed.length !== ed25519SeedBytes) throw new DataDirError(`node key ${file} has ${seed.length} bytes, not ${ed25519SeedBytes}: it is not a DWCP node key`)
  return new Uint8Array(seed)
}
