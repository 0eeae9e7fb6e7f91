/**
 * The CRDT engine: a replicated store of typed values, kept in sync by
 * delta-state anti-entropy (Almeida et al., "causal delta-merging").
 *
 * Every change, local or received, becomes a numbered delta in a buffer.
 * Each sync round a replica sends a few peers the deltas they have not
 * acknowledged, joined into one delta group; a peer joins them, makes them
 * durable, and acknowledges. Deltas everyone has acknowledged are dropped.
 * When a peer is behind the buffer (it overflowed) or we know nothing of it
 * (after a restart), the two exchange digests instead and ship whole values of
 * the keys that differ — never the whole store.
 *
 * Durability: a local operation is acknowledged to its client only after its
 * value is synced; received deltas are synced before they are acknowledged.
 *
 * Documents (Yjs) are kept as one live Y.Doc per key for the life of the
 * engine: local edits, peer deltas and anti-entropy all apply updates into
 * it. Every change to a document, however it came, is a `docChanged` event
 * carrying the Yjs update (recovery: the whole recovered state), so a server
 * that applies only those updates to a Y.Doc of its own holds the same
 * document. Documents are stored as appended updates and compacted now and
 * then into a base (see `writeDocRecords`), never rewritten whole per change.
 * Awareness (presence, cursors) is relayed to every peer and never stored
 * (awareness.ts).
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'
import { decodeWith, encodeWith } from '../codec/envelope.ts'
import { expectEnd, readBytes, readUint, writeUint } from '../codec/fields.ts'
import { fail } from '../codec/decodeError.ts'
import { assert } from '../lib/assert.ts'
import { PeerList } from '../lib/peers.ts'
import { fnv1a32Bytes, fnv1a32String, hex32 } from '../lib/hash.ts'
import { err, ok, type Result } from '../lib/result.ts'
import { AwarenessTable, awarenessLimits, readAwarenessUpdate } from './awareness.ts'
import { docDiff, docStateVector, emptyDocStateVector, emptyDocUpdate, encodeDocState, loadDocUpdates, mergeDocUpdates } from './doc.ts'
import type { Rng } from '../lib/prng.ts'
import type { Clock, NodeId, StorageReader, StorageWrite } from '../ports.ts'
import { emptyReady, noTickWork, ReadyBuffer, type Engine, type Ready, type Refusal } from '../ready.ts'
import { defaultCrdtConfig, type CrdtConfig } from './config.ts'
import { HybridClock, type HlcStamper } from './hlc.ts'
import type { LwwRegister } from './lwwRegister.ts'
import type { CrdtMetrics, CrdtStatus } from './status.ts'
import { writeCompressedFrame, type CompressionLevel } from '../compression.ts'
import { crdtMessageLimits, encodeEntries, readEntries, writeCrdtBody, writeEntries, type CrdtMessage, type Entry } from './messages.ts'
import { applyOp, type CrdtOp, type OpEffect } from './ops.ts'
import { digestOfEncoded, digestValue, joinDeltas, joinValueChanged, plainValue, readValue, valueAsDelta, writeDelta, writeValue, type CrdtType, type Delta, type PlainValue, type Value } from './value.ts'

export type { CrdtMetrics, CrdtStatus } from './status.ts'

export interface CrdtCommand {
  readonly requestId: number
  readonly op: CrdtOp
}

/** A durable operation: its effect and the key's value after it. */
export interface CrdtAck {
  readonly requestId: number
  readonly key: string
  readonly type: CrdtType
  readonly effect: OpEffect
  readonly value: PlainValue
}

/** How a document change reached this replica: a client of this node, a peer (delta or anti-entropy), or storage at restart. */
export type DocChangeOrigin = 'local' | 'peer' | 'recovery'

/** How a key's value changed here: a client operation, a peer's delta or state, or recovery at start. */
export type KeyChangeOrigin = DocChangeOrigin

/**
 * Key changes reported one by one in a Ready; past it, the rest of that Ready's
 * changes are one `keysChanged` count (a recovery or a large state transfer
 * would otherwise flood viewers, which re-read a snapshot instead).
 */
export const keyChangedEventsPerReadyMax = 1_024

/** How an awareness change reached this replica; `timeout`: states not renewed within awarenessTimeoutMs were removed. */
export type AwarenessChangeOrigin = 'local' | 'peer' | 'timeout'

export type CrdtEvent =
  | { readonly kind: 'recovered'; readonly keys: number; readonly recordsDropped: number }
  /** A key's value changed (documents also report each change's update as `docChanged`). */
  | { readonly kind: 'keyChanged'; readonly key: string; readonly valueType: CrdtType; readonly origin: KeyChangeOrigin }
  /** More keys changed in one Ready than keyChangedEventsPerReadyMax: how many were not reported one by one. */
  | { readonly kind: 'keysChanged'; readonly count: number }
  /**
   * A document changed; `update` is the Yjs update of the change (for
   * `recovery`, the whole recovered state). Applying every such update, in
   * order, to a Y.Doc that starts empty yields this replica's document.
   */
  | { readonly kind: 'docChanged'; readonly key: string; readonly update: Uint8Array; readonly origin: DocChangeOrigin }
  /** Awareness states of a document changed; `update` is a y-protocols awareness update of just those states, to forward to clients. */
  | {
      readonly kind: 'awarenessChanged'
      readonly key: string
      readonly update: Uint8Array
      readonly origin: AwarenessChangeOrigin
      readonly added: readonly number[]
      readonly updated: readonly number[]
      readonly removed: readonly number[]
    }
  | { readonly kind: 'refusedEntry'; readonly from: NodeId; readonly key: string; readonly code: string; readonly message: string }
  | { readonly kind: 'refusedMessage'; readonly from: NodeId; readonly code: string; readonly message: string }

/**
 * Storage: every value but documents in one record, `crdt/v/<key>`. A
 * document in numbered records `crdt/doc/<key>/<n>` (the key may hold '/':
 * the number is after the last one), each a base (the whole state) or an
 * update appended after it; recovery applies the newest valid base and the
 * valid updates after it (see `writeDocRecords`).
 */
export const crdtStorageKeys = {
  valuePrefix: 'crdt/v/',
  docPrefix: 'crdt/doc/',
  meta: 'crdt/meta',
} as const

export function docRecordKey(key: string, recordNumber: number): string {
  return `${crdtStorageKeys.docPrefix}${key}/${recordNumber}`
}

export interface CrdtEngineOptions {
  readonly id: NodeId
  readonly peers: readonly NodeId[]
  readonly storage: StorageReader
  readonly rng: Rng
  readonly clock: Clock
  readonly config?: CrdtConfig
  /** How hard to compress what goes to `peer` (the replica makes it follow the link's mode); default: by size and entropy alone. */
  readonly compressionFor?: (peer: NodeId) => CompressionLevel
}

/** Delta groups kept encoded for reuse (one per recent interval). */
const groupCacheEntriesMax = 32

/** A document's records in storage and the updates waiting to be appended. */
interface DocRecords {
  /** Numbers of its records in storage (valid or not), oldest first. */
  numbers: number[]
  nextNumber: number
  /** Updates appended since the last base, and their bytes. */
  appendedCount: number
  appendedBytes: number
  /** Bytes of its records in storage: the document's size as the sync rounds count it. */
  storedBytes: number
  /** Updates applied since the last Ready, to append in the next. */
  queued: Uint8Array[]
  queuedBytes: number
}

interface Buffered {
  readonly seq: number
  readonly key: string
  readonly delta: Delta
  /** The delta's encoded size, to keep delta messages under `entriesBytesMax`. */
  readonly bytes: number
}

export class CrdtEngine implements Engine<CrdtCommand, CrdtMessage, CrdtAck, CrdtEvent> {
  readonly id: NodeId
  private readonly metrics: CrdtMetrics = {
    deltaMessages: 0,
    deltaBytes: 0,
    deltaRawBytes: 0,
    fullStateBytes: 0,
    digestMessages: 0,
    digestBytes: 0,
    stateMessages: 0,
    stateBytes: 0,
    entriesJoined: 0,
    entriesRefused: 0,
    messagesRefused: 0,
    bufferOverflows: 0,
    docAppends: 0,
    docCompactions: 0,
    awarenessMessages: 0,
    awarenessRefused: 0,
    awarenessExpired: 0,
  }
  private peers: PeerList
  private readonly rng: Rng
  private readonly compressionFor: ((peer: NodeId) => CompressionLevel) | undefined
  private readonly config: CrdtConfig
  private readonly hybridClock: HybridClock
  private readonly values = new Map<string, Value>()
  private readonly encodedBytes = new Map<string, number>()
  /** Each key's digest and encoded size, as of the last `refresh`; `stale` keys changed since. */
  private readonly digests = new Map<string, string>()
  private readonly stale = new Set<string>()
  /** Documents whose digest is out of date: computed only when a digest is needed (it walks the whole document). */
  private readonly staleDocDigests = new Set<string>()
  private readonly docRecords = new Map<string, DocRecords>()
  /** The Y.Doc of each document key that this engine listens to, and its listener. */
  private readonly watchedDocs = new Map<string, Y.Doc>()
  private readonly docListeners = new Map<string, (update: Uint8Array) => void>()
  /** Where the document changes being applied now come from. */
  private changeOrigin: DocChangeOrigin = 'local'
  /** Keys changed since the last Ready, with how; reported as keyChanged events in it. */
  private readonly changedKeys = new Map<string, KeyChangeOrigin>()
  /** Storage keys made redundant by a write of the last Ready; deleted in the next, once that write is synced. */
  private deletesAfterSync: string[] = []
  /**
   * Storage keys recovery found redundant. What replaces them was read back,
   * but may sit unsynced in a page cache that outlived the process: the first
   * Ready syncs, the one after deletes.
   */
  private recoveryDeletes: string[] = []
  private readonly awareness = new AwarenessTable()
  private readonly clock: Clock
  private stateBytes = 0
  /** The seq the next buffered delta gets; persisted, so seqs never repeat across restarts. */
  private seq = 1
  private buffer: Buffered[] = []
  /** Per peer: it has joined every delta of ours with a seq below this. */
  private readonly acked = new Map<NodeId, number>()
  private readonly lastDigestTick = new Map<NodeId, number>()
  /** Per peer: the toSeq of the last delta message and the tick it left, to wait for its ack before resending. */
  private readonly inFlight = new Map<NodeId, { readonly toSeq: number; readonly tick: number }>()
  /** Encoded delta groups by interval: peers at the same point get the same bytes without joining again. */
  private readonly groupCache = new Map<string, { readonly payload: Uint8Array; readonly rawBytes: number }>()
  private ticks = 0
  private readonly dirty = new Set<string>()
  private readonly out = new ReadyBuffer<CrdtMessage, CrdtAck, CrdtEvent>()
  /** Local operations wait for a sync before they are acknowledged. */
  private mustSync = false

  constructor(options: CrdtEngineOptions) {
    this.id = options.id
    this.peers = new PeerList(options.peers, options.id)
    this.rng = options.rng
    this.config = options.config ?? defaultCrdtConfig
    this.compressionFor = options.compressionFor
    this.hybridClock = new HybridClock(options.clock)
    this.clock = options.clock
    this.recover(options.storage)
  }

  private recover(storage: StorageReader): void {
    let recordsDropped = 0
    const meta = storage.get(crdtStorageKeys.meta)
    if (meta !== undefined) {
      const decoded = decodeWith(meta, readMeta, 'crdt meta')
      if (decoded.ok) {
        this.seq = decoded.value.seq
        this.hybridClock.restore(decoded.value.hlcHighWaterMs)
      } else recordsDropped++
    }
    this.changeOrigin = 'recovery'
    for (const storageKey of storage.keys(crdtStorageKeys.valuePrefix)) {
      const key = storageKey.slice(crdtStorageKeys.valuePrefix.length)
      const decoded = decodeWith(storage.get(storageKey)!, (decoder) => readValueRecord(decoder, key, this.id), 'crdt value record')
      if (!decoded.ok) {
        recordsDropped++
        continue
      }
      this.setValue(key, decoded.value)
    }
    recordsDropped += this.recoverDocs(storage)
    this.changeOrigin = 'local'
    this.out.events.push({ kind: 'recovered', keys: this.values.size, recordsDropped })
  }

  /**
   * Loads each document from its newest valid base and the valid updates
   * after it. A torn record (only an unsynced one can be) is dropped and the
   * rest recovered; records older than that base are deleted. Returns the
   * records dropped.
   */
  private recoverDocs(storage: StorageReader): number {
    let recordsDropped = 0
    const byKey = new Map<string, { readonly recordNumber: number; readonly storageKey: string }[]>()
    for (const storageKey of storage.keys(crdtStorageKeys.docPrefix)) {
      const slash = storageKey.lastIndexOf('/')
      const key = storageKey.slice(crdtStorageKeys.docPrefix.length, slash)
      const recordNumber = Number(storageKey.slice(slash + 1))
      if (key.length === 0 || !Number.isSafeInteger(recordNumber) || recordNumber < 0) continue
      const held = byKey.get(key)
      if (held === undefined) byKey.set(key, [{ recordNumber, storageKey }])
      else held.push({ recordNumber, storageKey })
    }
    for (const [key, stored] of byKey) {
      stored.sort((a, b) => a.recordNumber - b.recordNumber)
      const valid: { readonly recordNumber: number; readonly record: DocRecord; readonly bytes: number }[] = []
      for (const { recordNumber, storageKey } of stored) {
        const bytes = storage.get(storageKey)!
        const decoded = decodeWith(bytes, readDocRecord, 'crdt document record')
        if (decoded.ok) valid.push({ recordNumber, record: decoded.value, bytes: bytes.length })
        else recordsDropped++
      }
      let first = 0
      for (let index = valid.length - 1; index >= 0; index--) {
        if (valid[index]!.record.kind === 'base') {
          first = index
          break
        }
      }
      // All records under one temporary client id: they hold this replica's own edits (see loadDoc).
      const used = valid.slice(first)
      const { doc, refusals } = loadDocUpdates(
        key,
        this.id,
        used.map((entry) => entry.record.update),
      )
      recordsDropped += refusals.length
      // Numbers go on after every record found, so a new record never lands on a torn one's key before its delete.
      const records: DocRecords = { numbers: [], nextNumber: stored[stored.length - 1]!.recordNumber + 1, appendedCount: 0, appendedBytes: 0, storedBytes: 0, queued: [], queuedBytes: 0 }
      this.docRecords.set(key, records)
      // The records used stay; those before the base, the torn ones (and all, when none loads) go.
      const kept = new Set(doc === null ? [] : used.map((entry) => entry.recordNumber))
      for (const { recordNumber, storageKey } of stored) if (!kept.has(recordNumber)) this.recoveryDeletes.push(storageKey)
      if (doc === null) continue
      for (const { recordNumber, record, bytes } of used) {
        records.numbers.push(recordNumber)
        records.storedBytes += bytes
        if (record.kind === 'update') {
          records.appendedCount++
          records.appendedBytes += record.update.length
        }
      }
      // A document supersedes any other value the key held (documents rank highest).
      if (this.values.has(key)) this.recoveryDeletes.push(crdtStorageKeys.valuePrefix + key)
      this.setValue(key, { type: 'doc', state: doc })
    }
    return recordsDropped
  }

  /**
   * The node's hybrid logical clock, for stamping local events outside this
   * engine (strong, auto and byzantine commands): one clock per node, so
   * every stamp it hands out is covered by the high-water mark this engine persists.
   */
  get hlc(): HlcStamper {
    return this.hybridClock
  }

  /** This replica as plain data (copies): what viewers, checkers and tests read instead of its fields. */
  /**
   * Follows the cluster configuration: deltas go to the new peer list; a
   * dropped peer's acknowledgements are forgotten (so the buffer is not kept
   * for it), a new one catches up through anti-entropy (digests and state).
   */
  setPeers(ids: readonly NodeId[]): void {
    this.peers = new PeerList([...ids], this.id)
    const kept = new Set(ids)
    for (const peer of [...this.acked.keys()]) if (!kept.has(peer)) this.acked.delete(peer)
  }

  status(): CrdtStatus {
    return {
      id: this.id,
      keys: this.values.size,
      storeDigest: this.storeDigest(),
      hlc: this.hybridClock.status(),
      deltaSeq: this.seq,
      bufferedDeltas: this.buffer.length,
      awarenessDocs: this.awareness.size,
      metrics: { ...this.metrics },
    }
  }

  read(key: string): PlainValue | undefined {
    const value = this.values.get(key)
    return value === undefined ? undefined : plainValue(value)
  }

  /** The LWW register `key` holds (immutable: joins make new ones), or undefined when it holds none (or another type). */
  register(key: string): LwwRegister | undefined {
    const value = this.values.get(key)
    return value?.type === 'register' ? value.state : undefined
  }

  /** Document `key`'s whole state as one Yjs update (a copy: load it into a Y.Doc of your own), or null when the key holds no document. */
  docUpdate(key: string): Uint8Array | null {
    const value = this.values.get(key)
    return value?.type === 'doc' ? encodeDocState(value.state) : null
  }

  /** The Yjs client id this replica's own edits of document `key` carry (kept across restarts), or null when the key holds no document. */
  docClientId(key: string): number | null {
    const value = this.values.get(key)
    return value?.type === 'doc' ? value.state.clientID : null
  }

  /** Each key with its type and digest, in key order (convergence views compare digests across replicas). */
  keyDigests(): { readonly key: string; readonly type: CrdtType; readonly digest: string }[] {
    this.refreshDigests()
    return [...this.digests.keys()].sort().map((key) => ({ key, type: this.values.get(key)!.type, digest: this.digests.get(key)! }))
  }

  /**
   * The Yjs state vector of document `key` (y-protocols SyncStep1); an empty
   * document's when the key holds none yet.
   */
  docStateVector(key: string): Uint8Array {
    const value = this.values.get(key)
    return value?.type === 'doc' ? docStateVector(value.state) : emptyDocStateVector()
  }

  /**
   * What a holder of `stateVector` lacks of document `key` (y-protocols
   * SyncStep2): an empty update when the key holds no document; a refusal
   * when the state vector is malformed.
   */
  docDiff(key: string, stateVector: Uint8Array): Result<Uint8Array, Refusal> {
    try {
      Y.decodeStateVector(stateVector)
    } catch (error) {
      return err({ code: 'invalidStateVector', message: `not a Yjs state vector: ${(error as Error).message}` })
    }
    const value = this.values.get(key)
    return ok(value?.type === 'doc' ? docDiff(value.state, stateVector) : emptyDocUpdate())
  }

  /** The present awareness states of document `key` as one y-protocols update (for a client that connects), or null when there are none. */
  awarenessStates(key: string): Uint8Array | null {
    return this.awareness.states(key)
  }

  /**
   * An awareness update from a client of this node (y-protocols encoding):
   * taken into the table, sent to every peer, reported as an
   * `awarenessChanged` event; never stored and never acknowledged. Refused
   * when malformed, above awarenessBytesMax, or when none of its new clients
   * fit in awarenessStatesMax.
   */
  publishAwareness(key: string, update: Uint8Array): Refusal | null {
    assert(!this.out.isHandedOut, 'publishAwareness while a Ready is out')
    if (key.length === 0 || key.length * 3 > crdtMessageLimits.keyBytesMax) return { code: 'invalidKey', message: `a key has 1 to ${crdtMessageLimits.keyBytesMax / 3} characters` }
    const entries = readAwarenessUpdate(update, awarenessLimits.awarenessBytesMax)
    if (!entries.ok) {
      this.metrics.awarenessRefused++
      return entries.error
    }
    const { change, refused } = this.awareness.apply(key, entries.value, this.clock.nowMs())
    this.metrics.awarenessRefused += refused
    if (change === null) {
      return refused > 0 ? { code: 'tooManyAwarenessStates', message: `awarenessStatesMax=${awarenessLimits.awarenessStatesMax} states are held` } : null
    }
    this.out.events.push({ kind: 'awarenessChanged', key, origin: 'local', ...change })
    for (const peer of this.peers.ids) {
      if (peer === this.id) continue
      if (this.out.send(peer, { type: 'awareness', key, update: change.update }, this.config.outboxMessagesMax)) this.metrics.awarenessMessages++
    }
    return null
  }

  /** A digest of the whole store: equal on two replicas exactly when their values are equal. */
  private storeDigest(): string {
    this.refreshDigests()
    let text = ''
    for (const key of [...this.digests.keys()].sort()) text += `${key}=${this.digests.get(key)!};`
    return hex32(fnv1a32String(text)) + hex32(fnv1a32String(text, 0x01000193))
  }

  propose(command: CrdtCommand): Refusal | null {
    this.out.assertIdle('propose')
    if (this.out.applied.length >= this.config.pendingAcksMax) {
      return { code: 'overloaded', message: `pendingAcksMax=${this.config.pendingAcksMax} acknowledgements wait for the host` }
    }
    const { op } = command
    if (op.key.length === 0 || op.key.length * 3 > crdtMessageLimits.keyBytesMax) return { code: 'invalidKey', message: `a key has 1 to ${crdtMessageLimits.keyBytesMax / 3} characters` }
    const current = this.values.get(op.key)
    if (current === undefined && this.values.size >= this.config.keysMax) return { code: 'tooManyKeys', message: `the store holds keysMax=${this.config.keysMax} keys` }
    const made = applyOp(op, current, this.id, this.hybridClock)
    if (!made.ok) return made.error
    const { value, delta } = made.value
    this.setValue(op.key, value)
    this.buffer.push({ seq: this.seq++, key: op.key, delta, bytes: encodeWith(delta, writeDelta).length })
    this.trimBuffer()
    this.dirty.add(op.key)
    this.mustSync = true
    this.out.applied.push({ requestId: command.requestId, key: op.key, type: value.type, effect: made.value.effect, value: plainValue(value) })
    return null
  }

  /** Joins a received delta into the store; when it changed something, buffers it for other peers and marks the key dirty. */
  private apply(key: string, delta: Delta): boolean {
    const joined = joinValueChanged(key, this.id, this.values.get(key), delta)
    if (!joined.changed) return false
    this.setValue(key, joined.value)
    this.dirty.add(key)
    this.buffer.push({ seq: this.seq++, key, delta, bytes: encodeWith(delta, writeDelta).length })
    this.trimBuffer()
    return true
  }

  private trimBuffer(): void {
    if (this.buffer.length <= this.config.deltaBufferEntriesMax) return
    this.buffer.shift()
    this.metrics.bufferOverflows++
  }

  /** Sets a value; its size and digest are brought up to date lazily, by `refresh`. A new document is listened to. */
  private setValue(key: string, value: Value): void {
    this.values.set(key, value)
    this.stale.add(key)
    this.changedKeys.set(key, this.changeOrigin)
    if (value.type === 'doc' && this.watchedDocs.get(key) !== value.state) this.watchDoc(key, value.state)
  }

  /**
   * Listens to a document new to this engine (created by an edit, received
   * from a peer, or recovered): its whole state is its first change, and
   * every later update is one.
   */
  private watchDoc(key: string, doc: Y.Doc): void {
    this.watchedDocs.get(key)?.off('update', this.docListeners.get(key)!)
    const listener = (update: Uint8Array): void => this.handleDocUpdate(key, update)
    this.watchedDocs.set(key, doc)
    this.docListeners.set(key, listener)
    doc.on('update', listener)
    this.handleDocUpdate(key, encodeDocState(doc))
  }

  /** A document changed: report it, and (unless it came from storage) queue the update for appending. */
  private handleDocUpdate(key: string, update: Uint8Array): void {
    this.out.events.push({ kind: 'docChanged', key, update, origin: this.changeOrigin })
    this.stale.add(key)
    if (this.changeOrigin === 'recovery') return
    const records = this.docRecordsOf(key)
    records.queued.push(update)
    records.queuedBytes += update.length
    this.dirty.add(key)
  }

  private docRecordsOf(key: string): DocRecords {
    let records = this.docRecords.get(key)
    if (records === undefined) {
      records = { numbers: [], nextNumber: 0, appendedCount: 0, appendedBytes: 0, storedBytes: 0, queued: [], queuedBytes: 0 }
      this.docRecords.set(key, records)
    }
    return records
  }

  /**
   * Brings the sizes and digests of the values changed since the last call up
   * to date, and returns their encodings (storage records). Documents are not
   * encoded: their size is their stored bytes plus what waits to be appended,
   * and their digest waits for `refreshDigests`.
   */
  private refresh(): Map<string, Uint8Array> {
    const encodedByKey = new Map<string, Uint8Array>()
    for (const key of this.stale) {
      const value = this.values.get(key)!
      let bytes: number
      if (value.type === 'doc') {
        const records = this.docRecords.get(key)
        bytes = records === undefined ? 0 : records.storedBytes + records.queuedBytes
        this.staleDocDigests.add(key)
      } else {
        const encoded = encodeWith(value, writeValue)
        encodedByKey.set(key, encoded)
        bytes = encoded.length
        this.digests.set(key, digestOfEncoded(value, encoded))
      }
      this.stateBytes += bytes - (this.encodedBytes.get(key) ?? 0)
      this.encodedBytes.set(key, bytes)
    }
    this.stale.clear()
    return encodedByKey
  }

  /** `refresh`, and the digests of the documents changed since they were last needed. */
  private refreshDigests(): void {
    this.refresh()
    for (const key of this.staleDocDigests) this.digests.set(key, digestValue(this.values.get(key)!))
    this.staleDocDigests.clear()
  }

  tick(): void {
    this.out.assertIdle('tick')
    this.ticks++
    if (this.awareness.size > 0) this.expireAwareness()
    if (this.ticks % this.config.syncTicks !== 0) return
    for (const peer of this.peers.randomOthers(this.rng, this.config.fanout)) this.syncWith(peer)
  }

  /**
   * Ticks until a sync round may send something: the first
   * sync tick at which some peer is owed a digest (none acknowledged yet, or
   * behind the buffer; at most one per digestTicks) or deltas (not in flight,
   * or unacknowledged for resendTicks).
   */
  ticksUntilSync(): number {
    const now = this.ticks
    let eligible = noTickWork
    for (let index = 0; index < this.peers.othersCount && eligible > now + 1; index++) {
      const peer = this.peers.other(index)
      const acked = this.acked.get(peer)
      if (acked === undefined || acked < this.bufferStart) {
        const last = this.lastDigestTick.get(peer)
        eligible = Math.min(eligible, last === undefined ? now + 1 : last + this.config.digestTicks)
        continue
      }
      if (acked >= this.seq) continue
      const sent = this.inFlight.get(peer)
      eligible = Math.min(eligible, sent !== undefined && acked < sent.toSeq ? sent.tick + this.config.resendTicks : now + 1)
    }
    if (eligible === noTickWork) return noTickWork
    const first = Math.max(eligible, now + 1)
    const syncTicks = this.config.syncTicks
    return first + ((syncTicks - (first % syncTicks)) % syncTicks) - now
  }

  /**
   * Ticks until a tick may have work (core/ready.ts): a sync round, or, while
   * awareness states are held, every tick (their expiry runs on the clock,
   * which the engine cannot turn into ticks; the replica can and asks
   * `ticksUntilSync` and `awarenessExpiresAtMs` instead).
   */
  ticksUntilWork(): number {
    return this.awareness.size > 0 ? 1 : this.ticksUntilSync()
  }

  /** When a held awareness state next expires (an event then), on the engine's clock; Infinity when none is held. */
  awarenessExpiresAtMs(): number {
    return this.awareness.size > 0 ? this.awareness.nextExpiryMs() : Number.POSITIVE_INFINITY
  }

  private expireAwareness(): void {
    for (const [key, change] of this.awareness.expire(this.clock.nowMs())) {
      this.metrics.awarenessExpired += change.removed.length
      this.out.events.push({ kind: 'awarenessChanged', key, origin: 'timeout', ...change })
    }
  }

  private get bufferStart(): number {
    return this.buffer.length === 0 ? this.seq : this.buffer[0]!.seq
  }

  private syncWith(peer: NodeId): void {
    const acked = this.acked.get(peer)
    if (acked === undefined || acked < this.bufferStart) {
      const last = this.lastDigestTick.get(peer)
      if (last !== undefined && this.ticks - last < this.config.digestTicks) return
      this.lastDigestTick.set(peer, this.ticks)
      this.sendDigest(peer)
      return
    }
    if (acked >= this.seq) return
    const sent = this.inFlight.get(peer)
    if (sent !== undefined && acked < sent.toSeq && this.ticks - sent.tick < this.config.resendTicks) return
    const first = acked - this.bufferStart // buffered seqs are consecutive
    let last = first
    let bytes = 0
    while (last < this.buffer.length && last - first < this.config.deltaBatchEntriesMax && (last === first || bytes + this.buffer[last]!.bytes <= crdtMessageLimits.entriesBytesMax)) {
      bytes += this.buffer[last]!.bytes
      last++
    }
    const batch = this.buffer.slice(first, last)
    const toSeq = batch[batch.length - 1]!.seq + 1
    const { payload, rawBytes } = this.deltaGroup(acked, toSeq, batch, this.compressionFor?.(peer) ?? 'auto')
    this.inFlight.set(peer, { toSeq, tick: this.ticks })
    this.metrics.deltaRawBytes += rawBytes
    this.refresh()
    this.metrics.deltaMessages++
    this.metrics.deltaBytes += payload.length
    this.metrics.fullStateBytes += this.stateBytes
    this.send(peer, { type: 'delta', fromSeq: acked, toSeq, payload })
  }

  /** The encoded delta group of the buffered interval [fromSeq, toSeq). Buffered deltas never change, so neither does it. */
  private deltaGroup(fromSeq: number, toSeq: number, batch: readonly Buffered[], level: CompressionLevel | 'auto'): { readonly payload: Uint8Array; readonly rawBytes: number } {
    const cacheKey = `${fromSeq}-${toSeq}-${level}`
    const cached = this.groupCache.get(cacheKey)
    if (cached !== undefined) return cached
    const groups = new Map<string, Delta[]>()
    for (const { key, delta } of batch) {
      const held = groups.get(key)
      if (held === undefined) groups.set(key, [delta])
      else held.push(delta)
    }
    const raw = encodeEntries([...groups].map(([key, deltas]) => ({ key, delta: joinDeltas(key, this.id, deltas) })))
    const group = { payload: writeCompressedFrame(raw, level), rawBytes: raw.length }
    if (this.groupCache.size >= groupCacheEntriesMax) this.groupCache.delete(this.groupCache.keys().next().value!)
    this.groupCache.set(cacheKey, group)
    return group
  }

  private sendDigest(peer: NodeId): void {
    this.refreshDigests()
    const keys = [...this.digests.keys()].sort().map((key) => [key, this.digests.get(key)!] as const)
    const message: CrdtMessage = { type: 'digest', seq: this.seq, storeDigest: this.storeDigest(), keys }
    this.metrics.digestMessages++
    this.metrics.digestBytes += encodeWith(message, writeCrdtBody).length
    this.send(peer, message)
  }

  step(from: NodeId, message: CrdtMessage): Refusal | null {
    this.out.assertIdle('step')
    this.changeOrigin = 'peer'
    try {
      return this.stepFrom(from, message)
    } finally {
      this.changeOrigin = 'local'
    }
  }

  private stepFrom(from: NodeId, message: CrdtMessage): Refusal | null {
    switch (message.type) {
      case 'ack':
        return this.handleAck(from, message)
      case 'delta':
        return this.handleDelta(from, message)
      case 'digest':
        return this.handleDigest(from, message)
      case 'state':
        return this.handleState(from, message)
      case 'awareness':
        return this.handleAwareness(from, message.key, message.update)
    }
  }

  private handleAck(from: NodeId, message: Extract<CrdtMessage, { type: 'ack' }>): Refusal | null {
    if (message.seq > this.seq) return this.refuseMessage(from, 'invalidAck', `ack of seq ${message.seq}, beyond ${this.seq}`)
    if (message.seq > (this.acked.get(from) ?? -1)) this.acked.set(from, message.seq)
    this.collectBuffer()
    return null
  }

  private handleDelta(from: NodeId, message: Extract<CrdtMessage, { type: 'delta' }>): Refusal | null {
    const entries = readEntries(message.payload)
    if (!entries.ok) return this.refuseMessage(from, entries.error.code, entries.error.message)
    this.joinEntries(from, entries.value)
    this.send(from, { type: 'ack', seq: message.toSeq })
    return null
  }

  private handleState(from: NodeId, message: Extract<CrdtMessage, { type: 'state' }>): Refusal | null {
    const entries = readEntries(message.payload)
    if (!entries.ok) return this.refuseMessage(from, entries.error.code, entries.error.message)
    this.joinEntries(from, entries.value)
    if (message.ackSeq > 0) this.send(from, { type: 'ack', seq: message.ackSeq })
    if (message.requested.length > 0) {
      const wanted = message.requested.filter((key) => this.values.has(key))
      this.sendState(from, message.echoSeq, 0, wanted, [])
    }
    return null
  }

  private handleAwareness(from: NodeId, key: string, update: Uint8Array): Refusal | null {
    const entries = readAwarenessUpdate(update, awarenessLimits.awarenessBytesMax)
    if (!entries.ok) {
      this.metrics.awarenessRefused++
      return this.refuseMessage(from, entries.error.code, entries.error.message)
    }
    const { change, refused } = this.awareness.apply(key, entries.value, this.clock.nowMs())
    this.metrics.awarenessRefused += refused
    if (change !== null) this.out.events.push({ kind: 'awarenessChanged', key, origin: 'peer', ...change })
    return null
  }

  private handleDigest(from: NodeId, message: Extract<CrdtMessage, { type: 'digest' }>): Refusal | null {
    if (message.storeDigest === this.storeDigest()) {
      // Same store: each side has everything of the other's; an empty state lets the sender acknowledge ours.
      this.send(from, { type: 'ack', seq: message.seq })
      this.sendState(from, this.seq, 0, [], [])
      return null
    }
    this.refreshDigests()
    const theirs = new Map(message.keys)
    const differing: string[] = []
    const requested: string[] = []
    for (const [key, mine] of this.digests) {
      const digest = theirs.get(key)
      if (digest !== mine) differing.push(key)
      if (digest !== undefined && digest !== mine) requested.push(key)
    }
    for (const key of theirs.keys()) if (!this.values.has(key)) requested.push(key)
    if (requested.length === 0) this.send(from, { type: 'ack', seq: message.seq })
    this.sendState(from, this.seq, message.seq, differing.sort(), requested.sort())
    return null
  }

  /**
   * Sends whole values of `keys`, in as many messages as `entriesBytesMax`
   * needs. Only a single message may carry `ackSeq`: if one of several were
   * lost the peer would acknowledge what it lacks, so a split exchange
   * acknowledges nothing and the next digest round finishes the job.
   */
  private sendState(peer: NodeId, ackSeq: number, echoSeq: number, keys: readonly string[], requested: readonly string[]): void {
    this.refresh()
    const chunks: string[][] = [[]]
    let bytes = 0
    for (const key of keys) {
      const size = this.encodedBytes.get(key)!
      if (chunks[chunks.length - 1]!.length > 0 && bytes + size > crdtMessageLimits.entriesBytesMax) {
        chunks.push([])
        bytes = 0
      }
      chunks[chunks.length - 1]!.push(key)
      bytes += size
    }
    chunks.forEach((chunk, index) => {
      const lastChunk = index === chunks.length - 1
      const payload = writeEntries(chunk.map((key) => ({ key, delta: valueAsDelta(this.values.get(key)!) })))
      this.metrics.stateMessages++
      this.metrics.stateBytes += payload.length
      this.send(peer, { type: 'state', ackSeq: chunks.length === 1 ? ackSeq : 0, echoSeq: lastChunk ? echoSeq : 0, payload, requested: lastChunk ? requested : [] })
    })
  }

  private joinEntries(from: NodeId, entries: readonly Entry[]): void {
    for (const { key, delta } of entries) {
      if (delta.type === 'register' && delta.state.written) {
        const refusal = this.hybridClock.observe(delta.state.timestamp)
        if (refusal !== null) {
          this.refuseEntry(from, key, refusal.code, refusal.message)
          continue
        }
      }
      if (!this.values.has(key) && this.values.size >= this.config.keysMax) {
        this.refuseEntry(from, key, 'tooManyKeys', `the store holds keysMax=${this.config.keysMax} keys`)
        continue
      }
      try {
        if (this.apply(key, delta)) this.metrics.entriesJoined++
      } catch (error) {
        // joinValue fails only on a malformed document update; the key keeps its value.
        this.refuseEntry(from, key, 'invalidEntry', (error as Error).message)
      }
    }
    if (this.dirty.size > 0) this.mustSync = true
  }

  /** Drops deltas that every peer has acknowledged. */
  private collectBuffer(): void {
    let lowest = this.seq
    for (const peer of this.peers.ids) {
      if (peer === this.id) continue
      const acked = this.acked.get(peer)
      if (acked === undefined) return
      lowest = Math.min(lowest, acked)
    }
    let drop = 0
    while (drop < this.buffer.length && this.buffer[drop]!.seq < lowest) drop++
    if (drop > 0) this.buffer = this.buffer.slice(drop)
  }

  private refuseEntry(from: NodeId, key: string, code: string, message: string): void {
    this.metrics.entriesRefused++
    this.out.events.push({ kind: 'refusedEntry', from, key, code, message })
  }

  private refuseMessage(from: NodeId, code: string, message: string): Refusal {
    this.metrics.messagesRefused++
    this.out.events.push({ kind: 'refusedMessage', from, code, message })
    return { code, message }
  }

  private send(to: NodeId, message: CrdtMessage): void {
    this.out.send(to, message, this.config.outboxMessagesMax)
  }

  hasReady(): boolean {
    return !this.out.isHandedOut && (this.dirty.size > 0 || this.changedKeys.size > 0 || this.out.hasPending || this.hybridClock.needsPersist || this.deletesAfterSync.length > 0 || this.recoveryDeletes.length > 0)
  }

  private reportChangedKeys(): void {
    let reported = 0
    for (const [key, origin] of this.changedKeys) {
      if (reported === keyChangedEventsPerReadyMax) {
        this.out.events.push({ kind: 'keysChanged', count: this.changedKeys.size - reported })
        break
      }
      const value = this.values.get(key)
      if (value !== undefined) this.out.events.push({ kind: 'keyChanged', key, valueType: value.type, origin })
      reported++
    }
    this.changedKeys.clear()
  }

  ready(): Ready<CrdtMessage, CrdtAck, CrdtEvent> {
    if (!this.out.isHandedOut && !this.hasReady()) return emptyReady
    // Made redundant by writes of a Ready before this one, which the host has synced since.
    const deletes = this.deletesAfterSync
    this.deletesAfterSync = this.recoveryDeletes
    this.recoveryDeletes = []
    const encodedByKey = this.refresh()
    const writes: StorageWrite[] = []
    for (const key of [...this.dirty].sort()) {
      const value = this.values.get(key)!
      if (value.type === 'doc') {
        this.writeDocRecords(key, value.state, writes)
        continue
      }
      const encoded = encodedByKey.get(key) ?? encodeWith(value, writeValue)
      writes.push({ key: crdtStorageKeys.valuePrefix + key, value: encodeWith(encoded, writeValueRecord) })
    }
    // A moved high-water mark is synced with this Ready: the replica sends nothing carrying a
    // new stamp before it (strong, auto and byzantine commands are stamped by this clock too).
    const highWaterMoved = this.hybridClock.needsPersist
    const valuesMustSync = this.mustSync && writes.length > 0
    if (writes.length > 0 || highWaterMoved) writes.push({ key: crdtStorageKeys.meta, value: encodeWith({ seq: this.seq, hlcHighWaterMs: this.hybridClock.takeHighWater() }, writeMeta) })
    this.dirty.clear()
    this.reportChangedKeys()
    // A compaction's base must be durable before the next Ready deletes what it replaces.
    const mustSync = valuesMustSync || highWaterMoved || this.deletesAfterSync.length > 0
    this.mustSync = false
    for (const key of deletes) writes.push({ key, value: null })
    return this.out.handOut(writes, mustSync)
  }

  /**
   * Writes what document `key` changed since the last Ready: the updates
   * merged into one record appended after the others, or, once
   * docUpdatesBeforeCompaction updates or docAppendedBytesMax bytes are
   * appended (and for a document's first record), a base holding the whole
   * state. The records a base replaces are deleted in the next Ready, after
   * this one is synced: until then they still hold what the base holds.
   */
  private writeDocRecords(key: string, doc: Y.Doc, writes: StorageWrite[]): void {
    const records = this.docRecordsOf(key)
    if (records.queued.length === 0) return
    const update = mergeDocUpdates(records.queued)
    records.queued = []
    records.queuedBytes = 0
    const recordNumber = records.nextNumber++
    const compact = records.numbers.length === 0 || records.appendedCount >= this.config.docUpdatesBeforeCompaction || records.appendedBytes + update.length > this.config.docAppendedBytesMax
    if (!compact) {
      const record = encodeWith<DocRecord>({ kind: 'update', update }, writeDocRecord)
      writes.push({ key: docRecordKey(key, recordNumber), value: record })
      records.numbers.push(recordNumber)
      records.appendedCount++
      records.appendedBytes += update.length
      records.storedBytes += record.length
      this.metrics.docAppends++
      this.docSizeChanged(key, records)
      return
    }
    const record = encodeWith<DocRecord>({ kind: 'base', update: encodeDocState(doc) }, writeDocRecord)
    writes.push({ key: docRecordKey(key, recordNumber), value: record })
    if (records.numbers.length === 0) this.deletesAfterSync.push(crdtStorageKeys.valuePrefix + key) // a value of another type it replaced, if any
    for (const old of records.numbers) this.deletesAfterSync.push(docRecordKey(key, old))
    records.numbers = [recordNumber]
    records.appendedCount = 0
    records.appendedBytes = 0
    records.storedBytes = record.length
    this.metrics.docCompactions++
    this.docSizeChanged(key, records)
  }

  /** A document's stored size moved with its content unchanged: its size is brought up to date, its digest stays. */
  private docSizeChanged(key: string, records: DocRecords): void {
    const bytes = records.storedBytes + records.queuedBytes
    this.stateBytes += bytes - (this.encodedBytes.get(key) ?? 0)
    this.encodedBytes.set(key, bytes)
  }

  advance(ready: Ready<CrdtMessage, CrdtAck, CrdtEvent>): void {
    this.out.advance(ready)
  }
}

/** A stored value: the value's encoding, then a checksum of it (a torn record is dropped and repaired by sync). */
function writeValueRecord(encoder: encoding.Encoder, body: Uint8Array): void {
  encoding.writeVarUint8Array(encoder, body)
  encoding.writeUint32(encoder, fnv1a32Bytes(body))
}

function readValueRecord(decoder: decoding.Decoder, key: string, replica: string): Value {
  const body = decoding.readVarUint8Array(decoder)
  if (decoding.readUint32(decoder) !== fnv1a32Bytes(body)) fail('invalidField', 'value record checksum mismatch (torn write)')
  const inner = decoding.createDecoder(body)
  const value = readValue(inner, key, replica)
  expectEnd(inner, 'value record')
  return value
}

/** A document record: a base (the whole state) or an update appended after one. */
interface DocRecord {
  readonly kind: 'base' | 'update'
  readonly update: Uint8Array
}

const docRecordKinds = ['base', 'update'] as const

/** kind, the update, then a checksum of it: a torn record fails to decode and is dropped. */
function writeDocRecord(encoder: encoding.Encoder, record: DocRecord): void {
  writeUint(encoder, docRecordKinds.indexOf(record.kind))
  encoding.writeVarUint8Array(encoder, record.update)
  encoding.writeUint32(encoder, fnv1a32Bytes(record.update))
}

function readDocRecord(decoder: decoding.Decoder): DocRecord {
  const kind = docRecordKinds[readUint(decoder, docRecordKinds.length - 1, 'document record kind')]!
  const update = readBytes(decoder, Number.MAX_SAFE_INTEGER, 'document record update')
  if (decoding.readUint32(decoder) !== fnv1a32Bytes(update)) fail('invalidField', 'document record checksum mismatch (torn write)')
  return { kind, update }
}

const metaVersion = 2

/** Version 2: the hybrid clock's high-water mark (version 1 kept its latest stamp, which missed stamps no CRDT write carried). */
function writeMeta(encoder: encoding.Encoder, meta: { readonly seq: number; readonly hlcHighWaterMs: number }): void {
  writeUint(encoder, metaVersion)
  writeUint(encoder, meta.seq)
  writeUint(encoder, meta.hlcHighWaterMs)
}

function readMeta(decoder: decoding.Decoder): { seq: number; hlcHighWaterMs: number } {
  if (readUint(decoder, metaVersion, 'meta version') !== metaVersion) fail('invalidField', 'unknown crdt meta version')
  const seq = readUint(decoder, Number.MAX_SAFE_INTEGER, 'seq')
  return { seq, hlcHighWaterMs: readUint(decoder, Number.MAX_SAFE_INTEGER, 'hlc high-water mark') }
}
