/**
 * The keyed, versioned updates one gossip node holds (the higher version
 * wins), with what anti-entropy needs to find differences cheaply: a digest of
 * every held (key, version) kept up to date on each change, so two nodes
 * compare their whole sets with one small message, and the version list to
 * find what the other side lacks once the digests differ.
 *
 * Changed updates are durable before anyone hears of them: the engine takes
 * the dirty records into its next Ready and syncs them.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { fail } from '../codec/decodeError.ts'
import { decodeWith, encodeWith } from '../codec/envelope.ts'
import { readBytes, readText, readUint, writeBytes, writeText, writeUint } from '../codec/fields.ts'
import { fnv1a32Bytes, fnv1a32String, mix32 } from '../lib/hash.ts'
import type { StorageReader, StorageWrite } from '../ports.ts'
import { updateLimits, type Update } from './messages.ts'

export const updateStoragePrefix = 'gossip/u/'

/** Both sides' sets are equal (up to a 2^-32 chance of a collision) when their digests are. */
export interface UpdateDigest {
  readonly count: number
  readonly hash: number
}

export type AcceptResult = 'stored' | 'stale' | 'full'

export class UpdateStore {
  private readonly byKey = new Map<string, Update>()
  /** Changed since the last `takeWrites`: written (and synced) before anyone hears of them. */
  private readonly dirty = new Set<string>()
  /** XOR of every held entry's hash: one change updates it in O(1), whatever the store's size. */
  private hash = 0

  /** Loads the updates stored by an earlier run; torn records are skipped (anti-entropy brings them back). */
  static load(storage: StorageReader): UpdateStore {
    const store = new UpdateStore()
    for (const storageKey of storage.keys(updateStoragePrefix)) {
      const update = decodeWith(storage.get(storageKey)!, readStoredUpdate, 'stored update')
      if (update.ok) store.put(update.value)
    }
    return store
  }

  get size(): number {
    return this.byKey.size
  }

  get(key: string): Update | undefined {
    return this.byKey.get(key)
  }

  /** Stores `update` when it is newer than what is held and there is room. */
  accept(update: Update): AcceptResult {
    const held = this.byKey.get(update.key)
    if (held !== undefined && held.version >= update.version) return 'stale'
    if (held === undefined && this.byKey.size >= updateLimits.updatesMax) return 'full'
    this.put({ key: update.key, version: update.version, value: update.value })
    this.dirty.add(update.key)
    return 'stored'
  }

  digest(): UpdateDigest {
    return { count: this.byKey.size, hash: this.hash >>> 0 }
  }

  matches(digest: UpdateDigest): boolean {
    return digest.count === this.byKey.size && digest.hash === this.hash >>> 0
  }

  versions(): [string, number][] {
    return [...this.byKey.values()].map((update) => [update.key, update.version])
  }

  /** The updates the holder of `theirs` lacks or holds older. */
  missingFrom(theirs: readonly (readonly [string, number])[]): Update[] {
    const versions = new Map(theirs)
    return [...this.byKey.values()].filter((update) => (versions.get(update.key) ?? 0) < update.version)
  }

  get hasWrites(): boolean {
    return this.dirty.size > 0
  }

  /** Storage writes for every update changed since the last call, in key order. */
  takeWrites(): StorageWrite[] {
    const writes = [...this.dirty].sort().map((key) => ({ key: updateStoragePrefix + key, value: encodeWith(this.byKey.get(key)!, writeStoredUpdate) }))
    this.dirty.clear()
    return writes
  }

  private put(update: Update): void {
    const held = this.byKey.get(update.key)
    if (held !== undefined) this.hash ^= entryHash(held)
    this.byKey.set(update.key, update)
    this.hash ^= entryHash(update)
  }
}

function entryHash(update: Update): number {
  return mix32(fnv1a32String(update.key, update.version >>> 0) ^ Math.floor(update.version / 0x1_0000_0000))
}

function writeStoredUpdate(encoder: encoding.Encoder, update: Update): void {
  writeText(encoder, update.key)
  writeUint(encoder, update.version)
  writeBytes(encoder, update.value)
  encoding.writeUint32(encoder, storedChecksum(update))
}

function readStoredUpdate(decoder: decoding.Decoder): Update {
  const key = readText(decoder, updateLimits.keyBytesMax, 'update key')
  const version = readUint(decoder, Number.MAX_SAFE_INTEGER, 'update version')
  const value = readBytes(decoder, updateLimits.valueBytesMax, 'update value')
  if (decoding.readUint32(decoder) !== storedChecksum({ key, version, value })) fail('invalidField', 'stored update checksum mismatch (torn write)')
  return { key, version, value }
}

function storedChecksum(update: Update): number {
  return fnv1a32Bytes(update.value, fnv1a32String(`${update.key}/${update.version}`))
}
