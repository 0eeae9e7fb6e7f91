/**
 * The Raft log in memory, its stored form, and recovery.
 *
 * The log is the latest snapshot (index, term, membership) followed by the
 * entries after it. Every change comes back as storage writes for the engine's
 * next Ready:
 *
 *   raft/e/<index, 16 digits>   one entry: prevTerm, entry, checksum
 *   raft/snap/0, raft/snap/1    the snapshot, in two slots (see TwoSlotRecord)
 *
 * Recovery keeps the longest chain that starts right after the snapshot in
 * which each record is intact and names the term of the entry before it. An
 * unsynced write that a crash kept while an earlier one was lost (storage
 * keeps no order without a sync) breaks the chain there, so the recovered log
 * is always one the node really held, never a mix of an old and a new suffix.
 * Everything past the chain is deleted by the first Ready.
 */
import type * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import { readChecksummed, TwoSlotRecord, writeChecksummed } from '../codec/record.ts'
import { readId, readUint, writeId, writeUint } from '../codec/fields.ts'
import { assert } from '../lib/assert.ts'
import type { StorageReader, StorageWrite } from '../ports.ts'
import { readEntry, readSnapshot, writeEntry, writeSnapshot, type Entry, type Snapshot } from './messages.ts'

export const raftStorageKeys = {
  entryPrefix: 'raft/e/',
  snapshotSlots: ['raft/snap/0', 'raft/snap/1'],
  hardStateSlots: ['raft/hard/0', 'raft/hard/1'],
} as const

function entryKey(index: number): string {
  return raftStorageKeys.entryPrefix + String(index).padStart(16, '0')
}

interface StoredEntry {
  readonly prevTerm: number
  readonly entry: Entry
}

function writeStoredEntry(encoder: encoding.Encoder, stored: StoredEntry): void {
  writeUint(encoder, stored.prevTerm)
  writeEntry(encoder, stored.entry)
}

function readStoredEntry(decoder: decoding.Decoder): StoredEntry {
  const prevTerm = readUint(decoder, Number.MAX_SAFE_INTEGER, 'prev term')
  return { prevTerm, entry: readEntry(decoder) }
}

export function snapshotRecord(): TwoSlotRecord<Snapshot> {
  return new TwoSlotRecord<Snapshot>({ keys: raftStorageKeys.snapshotSlots, writeBody: writeSnapshot, readBody: readSnapshot, what: 'raft snapshot' })
}

const emptySnapshot: Snapshot = { index: 0, term: 0, membership: { voters: [], learners: [] }, data: new Uint8Array(0) }

export class RaftLog {
  /** The latest snapshot: everything up to its index is compacted away. */
  snapshot: Snapshot
  private entries: Entry[] = []

  constructor(snapshot: Snapshot) {
    this.snapshot = snapshot
  }

  /** Recovers the log from storage; `writes` delete whatever lies past the recovered chain. */
  static load(storage: StorageReader, snapshots: TwoSlotRecord<Snapshot>): { log: RaftLog; writes: StorageWrite[] } {
    const log = new RaftLog(snapshots.load(storage) ?? emptySnapshot)
    const writes: StorageWrite[] = []
    let chainOpen = true
    for (const key of storage.keys(raftStorageKeys.entryPrefix)) {
      const record = readChecksummed(storage.get(key)!, readStoredEntry, 'raft entry')
      const index = Number(key.slice(raftStorageKeys.entryPrefix.length))
      if (index <= log.snapshot.index) {
        writes.push({ key, value: null })
        continue
      }
      const follows = record.ok && record.value.entry.index === index && index === log.lastIndex + 1 && record.value.prevTerm === log.lastTerm && record.value.entry.term >= log.lastTerm
      if (chainOpen && follows) log.entries.push(record.value.entry)
      else {
        chainOpen = false
        writes.push({ key, value: null })
      }
    }
    return { log, writes }
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

  /** Entries from `from` on, at most `countMax` of them and about `bytesMax` of data (at least one). */
  slice(from: number, countMax: number, bytesMax: number): Entry[] {
    assert(from > this.snapshot.index, 'slice of a compacted range')
    const out: Entry[] = []
    let bytes = 0
    for (let index = from; index <= this.lastIndex && out.length < countMax; index++) {
      const entry = this.entry(index)!
      bytes += entry.data.length
      if (out.length > 0 && bytes > bytesMax) break
      out.push(entry)
    }
    return out
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

  /** The leader appends one entry of its own. */
  append(entry: Entry): StorageWrite {
    assert(entry.index === this.lastIndex + 1, 'append must extend the log by one')
    const write = { key: entryKey(entry.index), value: writeChecksummed({ prevTerm: this.lastTerm, entry }, writeStoredEntry) }
    this.entries.push(entry)
    return write
  }

  /**
   * A follower takes entries that follow a matching prevIndex: entries it holds
   * already are skipped, the first conflicting one truncates the log there, the
   * rest is appended. Committed entries never conflict (the caller checks).
   */
  appendFollowing(entries: readonly Entry[]): { writes: StorageWrite[]; truncatedFrom: number | null } {
    const writes: StorageWrite[] = []
    const endBefore = this.lastIndex
    let truncatedFrom: number | null = null
    for (const entry of entries) {
      if (entry.index <= this.snapshot.index) continue
      const held = this.term(entry.index)
      if (held === entry.term) continue
      if (held !== undefined) {
        // Drop the conflicting suffix; keys past the new end are deleted below.
        truncatedFrom ??= entry.index
        this.entries.length = entry.index - this.snapshot.index - 1
      }
      writes.push(this.append(entry))
    }
    // Old entries past the new end: if a crash keeps one of them, recovery's chain check drops it.
    for (let index = this.lastIndex + 1; index <= endBefore; index++) writes.push({ key: entryKey(index), value: null })
    return { writes, truncatedFrom }
  }

  /** Compacts everything up to `snapshot.index` (applied state); returns the deletes, to be written once the snapshot is synced. */
  compact(snapshot: Snapshot): StorageWrite[] {
    assert(snapshot.index > this.snapshot.index && snapshot.index <= this.lastIndex, 'compaction index out of range')
    const deletes: StorageWrite[] = []
    for (let index = this.snapshot.index + 1; index <= snapshot.index; index++) deletes.push({ key: entryKey(index), value: null })
    this.entries = this.entries.slice(snapshot.index - this.snapshot.index)
    this.snapshot = snapshot
    return deletes
  }

  /**
   * Installs a leader's snapshot. Entries after it are kept when the log holds
   * the snapshot's last entry (the logs match up to there); otherwise the log
   * restarts at the snapshot. Returns the deletes, for after the snapshot is synced.
   */
  install(snapshot: Snapshot): StorageWrite[] {
    const deletes: StorageWrite[] = []
    const keepSuffix = this.term(snapshot.index) === snapshot.term
    const deleteTo = keepSuffix ? snapshot.index : this.lastIndex
    for (let index = this.snapshot.index + 1; index <= deleteTo; index++) deletes.push({ key: entryKey(index), value: null })
    this.entries = keepSuffix ? this.entries.slice(snapshot.index - this.snapshot.index) : []
    this.snapshot = snapshot
    return deletes
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
