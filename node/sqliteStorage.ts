/**
 * Durable storage on a Node host: one SQLite database (built-in node:sqlite)
 * per data dir, in WAL mode with synchronous=FULL, behind the ports the core
 * and the kernel use (`StorageReader`, `StorageWriter`).
 *
 * - `write` goes into an open transaction: readers on this connection see it
 *   at once, but nothing is durable yet (a crash loses it, as the contract of
 *   core/ready.ts allows for unsynced writes);
 * - `sync` commits: with synchronous=FULL the WAL is fsynced before it
 *   returns, so what the next messages promise is on disk; with
 *   `onSyncRequested` set (group commit, node/groupCommit.ts) it only asks
 *   for a commit, and the host calls `commitNow` before anything that relies
 *   on it leaves;
 * - like a page cache's dirty limit, at most `unsyncedWritesMax` writes stay
 *   uncommitted, and `writeBack` (called by the host now and then) commits
 *   whatever waits, so an engine that never asks for a sync still reaches
 *   the disk;
 * - the connection holds SQLite's exclusive lock for its whole life: a second
 *   process on the same data dir is refused at open (`DataDirLockedError`),
 *   and the lock goes with the process, even after kill -9.
 *
 * Keys are stored as their UTF-8 bytes so a prefix scan is a range scan.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import type { StorageReader, StorageWrite } from '../core/index.ts'
import type { StorageWriter } from '../host/ports.ts'
import { prefixEndBytes } from '../host/storageKeys.ts'

export const sqliteStorageLimits = {
  /** One stored value (a Raft record of a big batch, a compacted document). */
  valueBytesMax: 64 * 1024 * 1024,
  /** Writes left uncommitted before they are committed on their own. */
  unsyncedWritesMax: 1_024,
  /** How long a second opener waits for the lock before it is refused. */
  lockWaitMs: 0,
} as const

export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError'
}

export interface SqliteStorageMetrics {
  writes: number
  syncs: number
  writeBacks: number
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export class SqliteStorage implements StorageReader, StorageWriter {
  readonly path: string
  readonly metrics: SqliteStorageMetrics = { writes: 0, syncs: 0, writeBacks: 0 }
  private readonly db: DatabaseSync
  private readonly selectValue: StatementSync
  private readonly selectKeys: StatementSync
  private readonly selectAllKeys: StatementSync
  private readonly upsert: StatementSync
  private readonly remove: StatementSync
  /** Group commit: when set, sync() calls this instead of committing (see the header). */
  onSyncRequested: (() => void) | null = null
  private inTransaction = false
  private unsynced = 0
  private closed = false

  constructor(path: string) {
    this.path = path
    this.db = new DatabaseSync(path, { timeout: sqliteStorageLimits.lockWaitMs })
    try {
      this.db.exec('PRAGMA locking_mode = EXCLUSIVE')
      this.db.exec('PRAGMA journal_mode = WAL')
      this.db.exec('PRAGMA synchronous = FULL')
      // Takes the exclusive lock now, not at the first write: a second node on this dir fails at once.
      this.db.exec('BEGIN IMMEDIATE')
      this.db.exec('CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID')
      this.db.exec('COMMIT')
    } catch (error) {
      this.db.close()
      if (isBusy(error)) throw new DataDirLockedError(`${path} is in use by another process (is a node already running on this data dir?)`)
      throw error
    }
    this.selectValue = this.db.prepare('SELECT value FROM kv WHERE key = ?')
    this.selectKeys = this.db.prepare('SELECT key FROM kv WHERE key >= ? AND key < ?')
    // (An empty blob binds as NULL, and no key compares >= NULL.)
    this.selectAllKeys = this.db.prepare('SELECT key FROM kv')
    this.upsert = this.db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value')
    this.remove = this.db.prepare('DELETE FROM kv WHERE key = ?')
  }

  get(key: string): Uint8Array | undefined {
    const row = this.selectValue.get(encoder.encode(key)) as { value: Uint8Array } | undefined
    return row?.value
  }

  keys(prefix: string): string[] {
    if (prefix === '') return (this.selectAllKeys.all() as { key: Uint8Array }[]).map((row) => decoder.decode(row.key)).sort()
    const low = encoder.encode(prefix)
    const rows = this.selectKeys.all(low, prefixEndBytes(low)) as { key: Uint8Array }[]
    // The contract's order is code-unit order, which UTF-8 byte order matches except above U+FFFF.
    return rows.map((row) => decoder.decode(row.key)).sort()
  }

  write(change: StorageWrite): void {
    this.assertOpen()
    if (change.value !== null && change.value.length > sqliteStorageLimits.valueBytesMax) {
      throw new RangeError(`value for ${change.key} is ${change.value.length} bytes; valueBytesMax is ${sqliteStorageLimits.valueBytesMax}`)
    }
    if (!this.inTransaction) {
      this.db.exec('BEGIN')
      this.inTransaction = true
    }
    const key = encoder.encode(change.key)
    if (change.value === null) this.remove.run(key)
    else this.upsert.run(key, change.value)
    this.metrics.writes++
    if (++this.unsynced >= sqliteStorageLimits.unsyncedWritesMax) this.commit()
  }

  /** Makes every write so far durable (commit, WAL fsynced); under group commit, asks for that. */
  sync(): void {
    this.assertOpen()
    if (this.onSyncRequested !== null) return this.onSyncRequested()
    this.commitNow()
  }

  /** Makes every write so far durable now (commit, WAL fsynced). */
  commitNow(): void {
    this.assertOpen()
    this.commit()
    this.metrics.syncs++
  }

  /** Commits what waits, if anything: the host calls it now and then, and before closing. */
  writeBack(): void {
    this.assertOpen()
    if (!this.inTransaction) return
    this.commit()
    this.metrics.writeBacks++
  }

  /** Commits what waits and releases the data dir. */
  close(): void {
    if (this.closed) return
    this.writeBack()
    this.closed = true
    this.db.close()
  }

  private commit(): void {
    if (!this.inTransaction) return
    this.db.exec('COMMIT')
    this.inTransaction = false
    this.unsynced = 0
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`storage ${this.path} is closed`)
  }
}

function isBusy(error: unknown): boolean {
  const code = (error as { errcode?: number }).errcode
  // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with or without extended bits.
  return code !== undefined && ((code & 0xff) === 5 || (code & 0xff) === 6)
}
