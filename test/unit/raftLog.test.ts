import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { writeChecksummed } from '../../core/codec/record.ts'
import { writeUint } from '../../core/codec/fields.ts'
import { raftLimits } from '../../core/raft/config.ts'
import { decodeLogRecord, encodeLogRecord, RaftLog, raftStorageKeys, recordFormatVersion, recordKey, snapshotRecord, writeLogRecord } from '../../core/raft/log.ts'
import { writeEntry, type Entry } from '../../core/raft/messages.ts'
import type { StorageReader, StorageWrite } from '../../core/ports.ts'

/** A map as storage: writes land in order; keys come back sorted. */
class MapStorage implements StorageReader {
  readonly values = new Map<string, Uint8Array>()
  get(key: string): Uint8Array | undefined {
    return this.values.get(key)
  }
  keys(prefix: string): string[] {
    return [...this.values.keys()].filter((key) => key.startsWith(prefix)).sort()
  }
  apply(writes: readonly StorageWrite[]): void {
    for (const write of writes) {
      if (write.value === null) this.values.delete(write.key)
      else this.values.set(write.key, write.value)
    }
  }
  clone(): MapStorage {
    const copy = new MapStorage()
    for (const [key, value] of this.values) copy.values.set(key, value)
    return copy
  }
}

function entry(index: number, term: number, bytes = 1): Entry {
  return { index, term, kind: 'command', data: new Uint8Array(bytes).fill(index & 0xff) }
}

function run(from: number, to: number, term: number): Entry[] {
  const entries: Entry[] = []
  for (let index = from; index <= to; index++) entries.push(entry(index, term))
  return entries
}

function recover(storage: MapStorage): { log: RaftLog; writes: StorageWrite[] } {
  return RaftLog.load(storage, snapshotRecord())
}

/** (index, term) of every entry after the snapshot. */
function termsOf(log: RaftLog): string[] {
  const out: string[] = []
  for (let index = log.firstIndex; index <= log.lastIndex; index++) out.push(`${index}@${log.term(index)}`)
  return out
}

describe('Raft log records', () => {
  it('writes a record straight into its bytes exactly as the encoder writes it, and keys it by its first index in 16 digits (property)', () => {
    const number = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 2 ** 32 + 5 }), fc.maxSafeNat())
    const anyEntry = fc.record({ term: number, index: number, kind: fc.constantFrom('command' as const, 'config' as const, 'noop' as const), data: fc.uint8Array({ maxLength: 300 }) })
    fc.assert(
      fc.property(number, fc.array(anyEntry, { minLength: 1, maxLength: 12 }), (prevTerm, entries) => {
        expect(encodeLogRecord({ prevTerm, entries })).toEqual(writeChecksummed({ prevTerm, entries }, writeLogRecord))
        expect(recordKey(entries[0]!.index)).toBe(raftStorageKeys.recordPrefix + String(entries[0]!.index).padStart(16, '0'))
      }),
    )
  })

  it('stores the entries a leader appends between two Readies as one record, with its format version', () => {
    const storage = new MapStorage()
    const log = recover(storage).log
    for (const held of run(1, 5, 1)) log.append(held)
    const writes = log.takeWrites()
    expect(writes.map((write) => write.key)).toEqual([recordKey(1)])
    const decoded = decodeLogRecord(writes[0]!.value!)
    expect(decoded.ok && decoded.value.entries.map((held) => held.index)).toEqual([1, 2, 3, 4, 5])
    expect(decoded.ok && decoded.value.prevTerm).toBe(0)
    expect(writes[0]!.value![0]).toBe(recordFormatVersion)
    storage.apply(writes)
    for (const held of run(6, 7, 2)) log.append(held)
    storage.apply(log.takeWrites())
    expect(storage.keys(raftStorageKeys.recordPrefix)).toEqual([recordKey(1), recordKey(6)])
    expect(termsOf(recover(storage).log)).toEqual(termsOf(log))
    expect(log.hasWrites).toBe(false)
  })

  it('splits a run past recordEntryBytesMax, and keeps an entry larger than it alone in its record', () => {
    const log = new RaftLog({ index: 0, term: 0, membership: { voters: [], learners: [] }, data: new Uint8Array(0) })
    const half = raftLimits.recordEntryBytesMax / 2
    log.append(entry(1, 1, half))
    log.append(entry(2, 1, half))
    log.append(entry(3, 1, 1))
    log.append(entry(4, 1, raftLimits.recordEntryBytesMax + 10))
    log.append(entry(5, 1, 1))
    expect(log.takeWrites().map((write) => write.key)).toEqual([recordKey(1), recordKey(3), recordKey(4), recordKey(5)])
  })

  it('truncates inside a record by writing the new run under its own index; recovery lets it replace the tail', () => {
    const storage = new MapStorage()
    const log = recover(storage).log
    log.appendFollowing(run(1, 6, 1))
    storage.apply(log.takeWrites())
    log.appendFollowing(run(7, 9, 1))
    storage.apply(log.takeWrites())
    const before = storage.clone()
    // A leader of term 2 overwrites from 4 on: record 1 keeps its bytes, record 7 is deleted, record 4 is new.
    const { truncatedFrom } = log.appendFollowing(run(4, 5, 2))
    expect(truncatedFrom).toBe(4)
    const writes = log.takeWrites()
    expect(writes.map((write) => `${write.key}${write.value === null ? ' delete' : ''}`)).toEqual([`${recordKey(7)} delete`, recordKey(4)])
    storage.apply(writes)
    expect(termsOf(recover(storage).log)).toEqual(['1@1', '2@1', '3@1', '4@2', '5@2'])

    // Any subset of that Ready's writes kept by a crash recovers the old log, a prefix of it, or the new one.
    for (let mask = 0; mask < 1 << writes.length; mask++) {
      const crashed = before.clone()
      crashed.apply(writes.filter((_, index) => (mask & (1 << index)) !== 0))
      const recovered = termsOf(recover(crashed).log)
      const old = ['1@1', '2@1', '3@1', '4@1', '5@1', '6@1', '7@1', '8@1', '9@1']
      const isPrefixOf = (log: string[]): boolean => recovered.every((held, index) => log[index] === held)
      expect(isPrefixOf(old) || isPrefixOf(['1@1', '2@1', '3@1', '4@2', '5@2'])).toBe(true)
      expect(recovered.length).toBeGreaterThanOrEqual(3)
    }
  })

  it('ends the chain at a torn record or one of an unknown format, and deletes everything after', () => {
    const storage = new MapStorage()
    const log = recover(storage).log
    for (const [from, to] of [
      [1, 3],
      [4, 6],
      [7, 9],
    ] as const) {
      log.appendFollowing(run(from, to, 1))
      storage.apply(log.takeWrites())
    }
    const torn = storage.clone()
    const bytes = torn.get(recordKey(4))!
    torn.values.set(recordKey(4), bytes.subarray(0, bytes.length - 2))
    const fromTorn = recover(torn)
    expect(termsOf(fromTorn.log)).toEqual(['1@1', '2@1', '3@1'])
    expect(fromTorn.writes).toEqual([
      { key: recordKey(4), value: null },
      { key: recordKey(7), value: null },
    ])

    const future = storage.clone()
    future.values.set(
      recordKey(4),
      writeChecksummed(run(4, 6, 1), (encoder, entries) => {
        writeUint(encoder, recordFormatVersion + 1)
        writeUint(encoder, 1)
        writeUint(encoder, entries.length)
        for (const held of entries) writeEntry(encoder, held)
      }),
    )
    expect(termsOf(recover(future).log)).toEqual(['1@1', '2@1', '3@1'])

    // A record that names a term before it which the chain does not hold is not part of it.
    const mixed = storage.clone()
    mixed.values.set(
      recordKey(4),
      writeChecksummed(run(4, 6, 5), (encoder) => writeLogRecord(encoder, { prevTerm: 5, entries: run(4, 6, 5) })),
    )
    expect(termsOf(recover(mixed).log)).toEqual(['1@1', '2@1', '3@1'])
  })

  it('compacts by records: a record reaching past the snapshot stays, and recovery joins it at the snapshot', () => {
    const storage = new MapStorage()
    const snapshots = snapshotRecord()
    const log = RaftLog.load(storage, snapshots).log
    log.appendFollowing(run(1, 4, 1))
    storage.apply(log.takeWrites())
    log.appendFollowing(run(5, 8, 1))
    storage.apply(log.takeWrites())
    const snapshot = { index: 6, term: 1, membership: { voters: ['a'], learners: [] }, data: new Uint8Array(0) }
    storage.apply([snapshots.write(snapshot)])
    const deletes = log.compact(snapshot)
    expect(deletes).toEqual([{ key: recordKey(1), value: null }])
    // Recovery before and after the deletes land holds the same log.
    expect(termsOf(RaftLog.load(storage, snapshotRecord()).log)).toEqual(['7@1', '8@1'])
    storage.apply(deletes)
    const recovered = RaftLog.load(storage, snapshotRecord())
    expect(termsOf(recovered.log)).toEqual(['7@1', '8@1'])
    expect(recovered.writes).toEqual([])
  })

  it('recovers, after a crash at any Ready of random appends and truncations, a log the node held that keeps everything not being replaced (property)', () => {
    const step = fc.record({ keep: fc.nat(12), count: fc.integer({ min: 1, max: 5 }), crashMask: fc.nat(255) })
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 12 }), (steps) => {
        const storage = new MapStorage()
        const log = recover(storage).log
        // Every log the node held after a Ready: an older uncommitted suffix may come back (a crash lost the
        // record that replaced it), but never a mix, and never less than what this Ready does not replace.
        const held: string[][] = [[]]
        let term = 1
        for (const { keep, count, crashMask } of steps) {
          const from = Math.min(keep, log.lastIndex) + 1
          term++
          log.appendFollowing(run(from, from + count - 1, term))
          const after = termsOf(log)
          const writes = log.takeWrites()
          const crashed = storage.clone()
          crashed.apply(writes.filter((_, index) => (crashMask & (1 << (index % 8))) !== 0))
          const recovered = termsOf(recover(crashed).log)
          const isPrefixOf = (log: string[]): boolean => recovered.every((value, index) => log[index] === value)
          if (![...held, after].some(isPrefixOf)) return false
          if (recovered.length < from - 1) return false
          storage.apply(writes)
          if (termsOf(recover(storage).log).join() !== after.join()) return false
          held.push(after)
        }
        return true
      }),
      { numRuns: 300 },
    )
  })
})
