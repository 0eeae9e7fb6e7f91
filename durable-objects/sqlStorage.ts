/**
 * Durable storage in a region object: one table in the object's own SQLite
 * database (`ctx.storage.sql`), behind the ports the core and the kernel use
 * (`StorageReader`, `StorageWriter`), like node/sqliteStorage.ts on a node.
 *
 * Durability. `sync()` does nothing, and that is the contract kept, not
 * skipped: every `sql.exec` lands in the object's implicit transaction, whose
 * first write locks the object's output gate until the commit is confirmed
 * durable; every message that leaves the object waits on that gate, and if
 * the commit fails the gate breaks, the object is reset and the held messages
 * are never sent. So nothing a Ready promises after `mustSync` reaches anyone
 * before the writes it depends on are on disk. The region object's send
 * paths, each gated (workerd sources, cloudflare/workerd):
 *
 * | path                                         | where the gate is waited on                                  |
 * | -------------------------------------------- | ------------------------------------------------------------ |
 * | API answers (the object's `fetch` Response)  | api/http.c++ respondWith: a Response waits for the output locks (and the docs below) |
 * | peer frames out (RPC `deliver` to a peer)    | api/worker-rpc.c++ callImpl: the call waits for the caller's output locks before it is sent |
 * | the answer to a peer's `deliver` (RPC reply) | api/worker-rpc.c++ JsRpcTarget call: the result waits for the output locks |
 * | WebSocket sends (events feed, y-protocols)   | api/web-socket.c++: each send is a GatedMessage whose output lock the pump awaits |
 *
 * Docs: "Output gates hold outgoing network messages (responses, fetch
 * requests) until pending storage writes complete" (Rules of Durable
 * Objects). The only opt-out, `allowUnconfirmed`, is an option of the KV
 * API's put/delete, not of `sql.exec`, and nothing here uses either.
 *
 * A SQLite row, string or blob holds at most 2 MB in a Durable Object, and
 * the core stores larger values (Raft snapshots, compacted documents): a value
 * is stored as parts of at most `partBytesMax`, rewritten together in one
 * `transactionSync`. Keys are stored as their UTF-8 bytes, so a prefix scan
 * is a range scan (as on a node).
 */
import type { StorageReader, StorageWrite } from '../core/index.ts'
import type { StorageWriter } from '../host/ports.ts'
import { prefixEndBytes } from '../host/storageKeys.ts'

export const sqlStorageLimits = {
  /** Bytes of one stored part: under the 2 MB a Durable Object's SQLite row may hold, with room for the key. */
  partBytesMax: 1024 * 1024,
  /** One stored value (a Raft snapshot of the largest state, a compacted document), as on a node. */
  valueBytesMax: 64 * 1024 * 1024,
  /** Bytes of one key: keys travel as bound parameters and index entries. */
  keyBytesMax: 4 * 1024,
} as const

export interface SqlStorageMetrics {
  writes: number
  partsWritten: number
  /** `sync()` calls: each a no-op under the output gate (see above). */
  syncs: number
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export class SqlStorage implements StorageReader, StorageWriter {
  readonly metrics: SqlStorageMetrics = { writes: 0, partsWritten: 0, syncs: 0 }
  private readonly storage: DurableObjectStorage

  constructor(storage: DurableObjectStorage) {
    this.storage = storage
    // `part` 0 exists for every key: key listings read only those rows.
    storage.sql.exec('CREATE TABLE IF NOT EXISTS kv (key BLOB NOT NULL, part INTEGER NOT NULL, value BLOB NOT NULL, PRIMARY KEY (key, part)) WITHOUT ROWID')
  }

  get(key: string): Uint8Array | undefined {
    const rows = this.storage.sql.exec<{ value: ArrayBuffer }>('SELECT value FROM kv WHERE key = ? ORDER BY part', bufferOf(encoder.encode(key))).toArray()
    if (rows.length === 0) return undefined
    if (rows.length === 1) return new Uint8Array(rows[0]!.value)
    let length = 0
    for (const row of rows) length += row.value.byteLength
    const value = new Uint8Array(length)
    let offset = 0
    for (const row of rows) {
      value.set(new Uint8Array(row.value), offset)
      offset += row.value.byteLength
    }
    return value
  }

  keys(prefix: string): string[] {
    const rows =
      prefix === ''
        ? this.storage.sql.exec<{ key: ArrayBuffer }>('SELECT key FROM kv WHERE part = 0').toArray()
        : this.storage.sql.exec<{ key: ArrayBuffer }>('SELECT key FROM kv WHERE part = 0 AND key >= ? AND key < ?', ...prefixRange(prefix)).toArray()
    // The contract's order is code-unit order, which UTF-8 byte order matches except above U+FFFF.
    return rows.map((row) => decoder.decode(row.key)).sort()
  }

  write(change: StorageWrite): void {
    const key = bufferOf(encoder.encode(change.key))
    if (key.byteLength > sqlStorageLimits.keyBytesMax) throw new RangeError(`key ${change.key.slice(0, 64)}… is ${key.byteLength} bytes; keyBytesMax is ${sqlStorageLimits.keyBytesMax}`)
    const value = change.value
    if (value !== null && value.length > sqlStorageLimits.valueBytesMax) throw new RangeError(`value for ${change.key} is ${value.length} bytes; valueBytesMax is ${sqlStorageLimits.valueBytesMax}`)
    this.storage.transactionSync(() => {
      this.storage.sql.exec('DELETE FROM kv WHERE key = ?', key)
      if (value === null) return
      const parts = Math.max(1, Math.ceil(value.length / sqlStorageLimits.partBytesMax))
      for (let part = 0; part < parts; part++) {
        const start = part * sqlStorageLimits.partBytesMax
        this.storage.sql.exec('INSERT INTO kv (key, part, value) VALUES (?, ?, ?)', key, part, bufferOf(value.subarray(start, start + sqlStorageLimits.partBytesMax)))
      }
      this.metrics.partsWritten += parts
    })
    this.metrics.writes++
  }

  /** Nothing to do: the output gate holds every outgoing message until the writes before it are durable (see the file comment). */
  sync(): void {
    this.metrics.syncs++
  }
}

/** [low, high) of the keys that start with `prefix`, as UTF-8 bytes. */
function prefixRange(prefix: string): [ArrayBuffer, ArrayBuffer] {
  const low = encoder.encode(prefix)
  return [bufferOf(low), bufferOf(prefixEndBytes(low))]
}

/** SQL binds a blob as an ArrayBuffer: exactly the view's bytes, copied when the view is part of a larger buffer. */
function bufferOf(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) return bytes.buffer
  return bytes.slice().buffer as ArrayBuffer
}
