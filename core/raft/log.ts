/**
 * The Raft log in memory, its stored form, and recovery.
 *
 * The log is the latest snapshot (index, term, membership) followed by the
 * entries after it. Changes come back as storage writes for the engine's next
 * Ready: entries appended since the last Ready go out together as records,
 * one per run (split only past recordEntryBytesMax), each under the index of
 * its first entry:
 *
 *   raft/r/<first index, 16 digits>   record := varuint format (recordFormatVersion), varuint prevTerm,
 *                                               varuint count, entry{count}, uint32 checksum (FNV-1a)
 *   raft/snap/0, raft/snap/1          the snapshot, in two slots (see TwoSlotRecord)
 *
 * A record is never rewritten to shorten it: a follower that truncates inside
 * a record writes the new run under its own first index, and recovery lets a
 * record that starts inside the chain and names the term of the entry before
 * it replace the chain's tail from there (Log Matching: two records that agree
 * on that term agree on everything before it, so the later one is the
 * truncation). A torn write therefore destroys only entries being written, never
 * ones already synced.
 *
 * Recovery keeps the longest chain that starts right after the snapshot in
 * which each record is intact (checksum, a known format), names the term of
 * the entry before it, and never lowers terms. An unsynced write that a crash
 * kept while an earlier one was lost (storage keeps no order without a sync)
 * breaks the chain there, so the recovered log is always one the node really
 * held, never a mix of an old and a new suffix. Records past the chain are
 * deleted by the first Ready.
 */
import type * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import { fail, type DecodeError } from '../codec/decodeError.ts'
import type { Result } from '../lib/result.ts'
import { readChecksummed, TwoSlotRecord, writeChecksummedSized } from '../codec/record.ts'
import { putUint, readId, readUint, uintBytes, writeId, writeUint } from '../codec/fields.ts'
import { assert } from '../lib/assert.ts'
import type { StorageReader, StorageWrite } from '../ports.ts'
import { raftLimits } from './config.ts'
import { entryBytes, putEntry, readEntry, readSnapshot, writeEntry, writeSnapshot, type Entry, type Snapshot } from './messages.ts'

export const raftStorageKeys = {
  recordPrefix: 'raft/r/',
  snapshotSlots: ['raft/snap/0', 'raft/snap/1'],
  hardStateSlots: ['raft/hard/0', 'raft/hard/1'],
} as const

/** The stored record format; a record of another version reads as broken (the chain ends before it). */
export const recordFormatVersion = 1

const recordKeyDigits = 16
/** The prefix and the zeros before an index of each length, made once: a key is then one concatenation. */
const recordKeyHeads = Array.from({ length: recordKeyDigits + 1 }, (_, digits) => raftStorageKeys.recordPrefix + '0'.repeat(recordKeyDigits - digits))

export function recordKey(firstIndex: number): string {
  const digits = String(firstIndex)
  return (recordKeyHeads[digits.length] ?? raftStorageKeys.recordPrefix) + digits
}

/** A run of entries as stored: the term of the entry before the first, and the entries. */
export interface LogRecord {
  readonly prevTerm: number
  readonly entries: readonly Entry[]
}

export function writeLogRecord(encoder: encoding.Encoder, record: LogRecord): void {
  writeUint(encoder, recordFormatVersion)
  writeUint(encoder, record.prevTerm)
  writeUint(encoder, record.entries.length)
  for (const entry of record.entries) writeEntry(encoder, entry)
}

/** A record's entries as `entries[start..end)`: the log stores a run straight from its own array, without copying it out. */
interface RecordRun {
  readonly prevTerm: number
  readonly entries: readonly Entry[]
  readonly start: number
  readonly end: number
}

/** Bytes of a run's record body (what writeLogRecord writes for it). */
function recordRunBytes(run: RecordRun): number {
  let bytes = uintBytes(recordFormatVersion) + uintBytes(run.prevTerm) + uintBytes(run.end - run.start)
  for (let index = run.start; index < run.end; index++) bytes += entryBytes(run.entries[index]!)
  return bytes
}

/** writeLogRecord for a run, straight into an array sized with recordRunBytes; the same bytes. */
function putRecordRun(out: Uint8Array, run: RecordRun): number {
  let at = putUint(out, 0, recordFormatVersion)
  at = putUint(out, at, run.prevTerm)
  at = putUint(out, at, run.end - run.start)
  for (let index = run.start; index < run.end; index++) at = putEntry(out, at, run.entries[index]!)
  return at
}

/** A run's stored record, checksum included: the bytes of encodeLogRecord, written without an encoder. */
function encodeRecordRun(run: RecordRun): Uint8Array {
  return writeChecksummedSized(run, recordRunBytes(run), putRecordRun)
}

export function readLogRecord(decoder: decoding.Decoder): LogRecord {
  const format = readUint(decoder, Number.MAX_SAFE_INTEGER, 'record format')
  if (format !== recordFormatVersion) fail('unsupportedVersion', `raft record format ${format}, this build reads ${recordFormatVersion}`)
  const prevTerm = readUint(decoder, Number.MAX_SAFE_INTEGER, 'prev term')
  const count = readUint(decoder, raftLimits.entriesPerRecordMax, 'record entries')
  if (count === 0) fail('invalidField', 'a raft record without entries')
  const entries: Entry[] = []
  for (let index = 0; index < count; index++) entries.push(readEntry(decoder))
  return { prevTerm, entries }
}

/** The bytes of one stored record (with its checksum); the twin of `decodeLogRecord`. */
export function encodeLogRecord(record: LogRecord): Uint8Array {
  return encodeRecordRun({ prevTerm: record.prevTerm, entries: record.entries, start: 0, end: record.entries.length })
}

export function decodeLogRecord(bytes: Uint8Array): Result<LogRecord, DecodeError> {
  return readChecksummed(bytes, readLogRecord, 'raft record')
}

export function snapshotRecord(): TwoSlotRecord<Snapshot> {
  return new TwoSlotRecord<Snapshot>({ keys: raftStorageKeys.snapshotSlots, writeBody: writeSnapshot, readBody: readSnapshot, what: 'raft snapshot' })
}

/** What an empty slice returns: one shared array (messages carry entries read-only). */
const noEntries: readonly Entry[] = Object.freeze([])

const emptySnapshot: Snapshot = { index: 0, term: 0, membership: { voters: [], learners: [] }, data: new Uint8Array(0) }

/**
 * A stored record: its first index, its key (kept, so that its delete names
 * the very string it was written under), and the last index of it still in
 * the log (a later record may replace its tail).
 */
interface StoredRun {
  readonly first: number
  readonly key: string
  last: number
}

export class RaftLog {
  /** The latest snapshot: everything up to its index is compacted away. */
  snapshot: Snapshot
  private entries: Entry[] = []
  /** The records holding the log's entries, by first index; the first may start at or before the snapshot. */
  private runs: StoredRun[] = []
  /** Entries from here on are in no record yet: the next `takeWrites` stores them. */
  private unwrittenFrom: number
  /** Deletes to go out with the next `takeWrites`, before its records. */
  private deletes: StorageWrite[] = []

  constructor(snapshot: Snapshot) {
    this.snapshot = snapshot
    this.unwrittenFrom = snapshot.index + 1
  }

  /** Recovers the log from storage; `writes` delete whatever lies past the recovered chain. */
  static load(storage: StorageReader, snapshots: TwoSlotRecord<Snapshot>): { log: RaftLog; writes: StorageWrite[] } {
    const log = new RaftLog(snapshots.load(storage) ?? emptySnapshot)
    const writes: StorageWrite[] = []
    let chainOpen = true
    for (const key of storage.keys(raftStorageKeys.recordPrefix)) {
      const first = Number(key.slice(raftStorageKeys.recordPrefix.length))
      const decoded = chainOpen ? decodeLogRecord(storage.get(key)!) : undefined
      const record = decoded?.ok === true ? decoded.value : undefined
      const last = first + (record?.entries.length ?? 1) - 1
      if (record !== undefined && last <= log.snapshot.index) {
        writes.push({ key, value: null })
        continue
      }
      if (chainOpen && record !== undefined && log.follows(first, record)) {
        log.takeRecord(first, key, record)
        continue
      }
      chainOpen = false
      writes.push({ key, value: null })
    }
    log.unwrittenFrom = log.lastIndex + 1
    return { log, writes }
  }

  /** Whether a stored record continues the chain recovered so far: it starts inside it or right after, on the term before it. */
  private follows(first: number, record: LogRecord): boolean {
    if (first < 1 || first > this.lastIndex + 1) return false
    for (let offset = 0; offset < record.entries.length; offset++) {
      if (record.entries[offset]!.index !== first + offset) return false
    }
    // A record reaching back past the snapshot joins it at the snapshot's entry.
    const joinAt = Math.max(first - 1, this.snapshot.index)
    const termAtJoin = joinAt === first - 1 ? record.prevTerm : record.entries[joinAt - first]!.term
    if (this.term(joinAt) !== termAtJoin) return false
    let termBefore = termAtJoin
    for (let index = joinAt + 1; index < first + record.entries.length; index++) {
      const term = record.entries[index - first]!.term
      if (term < termBefore) return false
      termBefore = term
    }
    return true
  }

  /** Recovery: the record replaces the chain from its first entry after the snapshot on. */
  private takeRecord(first: number, key: string, record: LogRecord): void {
    const from = Math.max(first, this.snapshot.index + 1)
    this.truncateFrom(from)
    for (let index = from; index < first + record.entries.length; index++) this.entries.push(record.entries[index - first]!)
    this.runs.push({ first, key, last: this.lastIndex })
  }

  /** Drops entries from `index` on in memory, and the runs' claims on them. */
  private truncateFrom(index: number): void {
    if (index > this.lastIndex) return
    this.entries.length = index - this.snapshot.index - 1
    while (this.runs.length > 0 && this.runs[this.runs.length - 1]!.first >= index) this.runs.pop()
    const tail = this.runs[this.runs.length - 1]
    if (tail !== undefined && tail.last >= index) tail.last = index - 1
  }

  get firstIndex(): number {
    return this.snapshot.index + 1
  }

  get lastIndex(): number {
    return this.snapshot.index + this.entries.length
  }

  get lastTerm(): number {
    return this.entries.length === 0 ? this.snapshot.term : this.entries[this.entries.length - 1]!.term
  }

  /** The term of the entry at `index`, or undefined when it is compacted away or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.snapshot.index) return this.snapshot.term
    if (index < this.snapshot.index || index > this.lastIndex) return undefined
    return this.entries[index - this.snapshot.index - 1]!.term
  }

  entry(index: number): Entry | undefined {
    if (index <= this.snapshot.index || index > this.lastIndex) return undefined
    return this.entries[index - this.snapshot.index - 1]
  }

  /** Entries from `from` on, at most `countMax` of them and about `bytesMax` of data (at least one; none past the end). */
  slice(from: number, countMax: number, bytesMax: number): readonly Entry[] {
    assert(from > this.snapshot.index, 'slice of a compacted range')
    if (from > this.lastIndex || countMax < 1) return noEntries
    const start = from - this.snapshot.index - 1
    const end = Math.min(this.entries.length, start + countMax)
    let bytes = this.entries[start]!.data.length
    let stop = start + 1
    while (stop < end) {
      bytes += this.entries[stop]!.data.length
      if (bytes > bytesMax) break
      stop++
    }
    return this.entries.slice(start, stop)
  }

  /** Raft's voting rule (§5.4.1): a log at least as up to date as this one. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm || (lastTerm === this.lastTerm && lastIndex >= this.lastIndex)
  }

  /** The largest index at or below `index` whose term is at most `term` (fast backtracking). */
  findConflictByTerm(index: number, term: number): number {
    let at = Math.min(index, this.lastIndex)
    while (at > this.snapshot.index && this.term(at)! > term) at--
    return at
  }

  /** The leader appends one entry of its own; it is stored by the next `takeWrites`, with the rest of its run. */
  append(entry: Entry): void {
    assert(entry.index === this.lastIndex + 1, 'append must extend the log by one')
    this.entries.push(entry)
  }

  /**
   * A follower takes entries that follow a matching prevIndex: entries it holds
   * already are skipped, the first conflicting one truncates the log there, the
   * rest is appended. Committed entries never conflict (the caller checks).
   * Returns whether anything changed (there is then something to store and sync).
   */
  appendFollowing(entries: readonly Entry[]): { changed: boolean; truncatedFrom: number | null } {
    let truncatedFrom: number | null = null
    let changed = false
    for (let offset = 0; offset < entries.length; offset++) {
      const entry = entries[offset]!
      if (entry.index <= this.snapshot.index) continue
      const held = this.term(entry.index)
      if (held === entry.term) continue
      if (held !== undefined) {
        truncatedFrom ??= entry.index
        this.truncate(entry.index)
      }
      this.append(entry)
      changed = true
    }
    return { changed, truncatedFrom }
  }

  /**
   * Drops the entries from `index` on. Records starting after it are deleted
   * (one starting at it is overwritten by the new run); a record it cuts keeps
   * its stored bytes, and the new run, written under `index`, replaces its tail
   * at recovery.
   */
  private truncate(index: number): void {
    for (const run of this.runs) if (run.first > index) this.deletes.push({ key: run.key, value: null })
    this.truncateFrom(index)
    this.unwrittenFrom = Math.min(this.unwrittenFrom, index)
  }

  /** Whether `takeWrites` has anything to store. */
  get hasWrites(): boolean {
    return this.deletes.length > 0 || this.unwrittenFrom <= this.lastIndex
  }

  /** The storage writes for the changes since the last call: deletes, then one record per run of new entries. */
  takeWrites(): StorageWrite[] {
    // Usually one record and no deletes: an array of one then, not an empty one grown to hold 16.
    let writes: StorageWrite[] | null = null
    if (this.deletes.length > 0) {
      writes = this.deletes
      this.deletes = []
    }
    let first = this.unwrittenFrom
    while (first <= this.lastIndex) {
      let last = first
      let bytes = this.entry(first)!.data.length
      while (last < this.lastIndex && last - first + 1 < raftLimits.entriesPerRecordMax) {
        const next = this.entry(last + 1)!.data.length
        if (bytes + next > raftLimits.recordEntryBytesMax) break
        bytes += next
        last++
      }
      const key = recordKey(first)
      const offset = this.snapshot.index + 1
      const value = encodeRecordRun({ prevTerm: this.term(first - 1)!, entries: this.entries, start: first - offset, end: last - offset + 1 })
      if (writes === null) writes = [{ key, value }]
      else writes.push({ key, value })
      this.runs.push({ first, key, last })
      first = last + 1
    }
    this.unwrittenFrom = first
    return writes ?? []
  }

  /** Compacts everything up to `snapshot.index` (applied state); returns the deletes, to be written once the snapshot is synced. */
  compact(snapshot: Snapshot): StorageWrite[] {
    assert(snapshot.index > this.snapshot.index && snapshot.index <= this.lastIndex, 'compaction index out of range')
    this.entries = this.entries.slice(snapshot.index - this.snapshot.index)
    this.snapshot = snapshot
    this.unwrittenFrom = Math.max(this.unwrittenFrom, snapshot.index + 1)
    return this.dropRunsThrough(snapshot.index)
  }

  /** Forgets the runs wholly at or before `index`; their deletes are the caller's to write. */
  private dropRunsThrough(index: number): StorageWrite[] {
    const deletes: StorageWrite[] = []
    let kept = 0
    while (kept < this.runs.length && this.runs[kept]!.last <= index) deletes.push({ key: this.runs[kept++]!.key, value: null })
    this.runs = this.runs.slice(kept)
    return deletes
  }

  /**
   * Installs a leader's snapshot. Entries after it are kept when the log holds
   * the snapshot's last entry (the logs match up to there); otherwise the log
   * restarts at the snapshot. Returns the deletes of what the snapshot covers,
   * for after the snapshot is synced; records wholly after it that no longer
   * match are deleted with the next `takeWrites`.
   */
  install(snapshot: Snapshot): StorageWrite[] {
    const keepSuffix = this.term(snapshot.index) === snapshot.term
    if (!keepSuffix) {
      // Not covered by the snapshot and not matching it: never committed, deleted at once (a new run may reuse a key).
      for (const run of this.runs) if (run.first > snapshot.index) this.deletes.push({ key: run.key, value: null })
      this.runs = this.runs.filter((run) => run.first <= snapshot.index)
      for (const run of this.runs) run.last = Math.min(run.last, snapshot.index)
    }
    this.entries = keepSuffix ? this.entries.slice(snapshot.index - this.snapshot.index) : []
    this.snapshot = snapshot
    this.unwrittenFrom = keepSuffix ? Math.max(this.unwrittenFrom, snapshot.index + 1) : snapshot.index + 1
    return this.dropRunsThrough(snapshot.index)
  }
}

/** Term and vote ('' for none): written (synced) before any message that depends on them. */
export interface HardState {
  readonly term: number
  readonly vote: string
}

export function hardStateRecord(): TwoSlotRecord<HardState> {
  return new TwoSlotRecord<HardState>({
    keys: raftStorageKeys.hardStateSlots,
    writeBody: (encoder, state) => {
      writeUint(encoder, state.term)
      writeUint(encoder, state.vote === '' ? 0 : 1)
      if (state.vote !== '') writeId(encoder, state.vote)
    },
    readBody: (decoder) => {
      const term = readUint(decoder, Number.MAX_SAFE_INTEGER, 'term')
      return { term, vote: readUint(decoder, 1, 'vote flag') === 1 ? readId(decoder, 'vote') : '' }
    },
    what: 'raft hard state',
  })
}
