/**
 * Client histories as JSON lines in Jepsen's vocabulary (DESIGN §7), so any
 * external checker (Knossos, Porcupine, Elle) can read what our end-to-end
 * runs saw, and our own linearizability checker reads the same file:
 *
 *   {"process":3,"type":"invoke","f":"write","key":"cfg/a","value":"v7","time":1234567}
 *   {"process":3,"type":"ok","f":"write","key":"cfg/a","value":"v7","time":1299999}
 *
 * `time` is nanoseconds on one monotonic clock for the whole history. Each
 * process has at most one operation open: an `invoke` is completed by the
 * process's next `ok` (it happened), `fail` (it certainly did not) or `info`
 * (unknown: a timeout or a crash, it may have happened at any time after its
 * invoke). A read's completion carries the value read (null: absent).
 */
import type { RegisterOp } from './linearizability.ts'

export type HistoryType = 'invoke' | 'ok' | 'fail' | 'info'
export type HistoryF = 'read' | 'write'

export interface HistoryEntry {
  readonly process: number
  readonly type: HistoryType
  readonly f: HistoryF
  readonly key: string
  readonly value: string | null
  /** Nanoseconds on the history's monotonic clock. */
  readonly time: number
}

export const historyLimits = {
  /** Lines one history file may hold: hours of a few clients, and what the checker can search. */
  entriesMax: 1_000_000,
  /** One line, value included (values of histories are short test tokens). */
  lineBytesMax: 64 * 1024,
} as const

const types: readonly HistoryType[] = ['invoke', 'ok', 'fail', 'info']
const fs: readonly HistoryF[] = ['read', 'write']

export function writeHistoryLine(entry: HistoryEntry): string {
  return JSON.stringify({ process: entry.process, type: entry.type, f: entry.f, key: entry.key, value: entry.value, time: entry.time }) + '\n'
}

/** The entries of a JSON-lines history; throws a RangeError naming the line for anything malformed. */
export function readHistoryLines(text: string): HistoryEntry[] {
  const entries: HistoryEntry[] = []
  const lines = text.split('\n')
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!.trim()
    if (line === '') continue
    const where = `history line ${index + 1}`
    if (line.length > historyLimits.lineBytesMax) throw new RangeError(`${where}: longer than lineBytesMax=${historyLimits.lineBytesMax}`)
    if (entries.length >= historyLimits.entriesMax) throw new RangeError(`${where}: more than entriesMax=${historyLimits.entriesMax} entries`)
    let raw: unknown
    try {
      raw = JSON.parse(line)
    } catch (error) {
      throw new RangeError(`${where}: not JSON (${(error as Error).message})`)
    }
    entries.push(entryOf(raw, where))
  }
  return entries
}

function entryOf(raw: unknown, where: string): HistoryEntry {
  if (typeof raw !== 'object' || raw === null) throw new RangeError(`${where}: not an object`)
  const { process, type, f, key, value, time } = raw as Record<string, unknown>
  if (!Number.isSafeInteger(process)) throw new RangeError(`${where}: process must be an integer`)
  if (!types.includes(type as HistoryType)) throw new RangeError(`${where}: type must be one of ${types.join(', ')}`)
  if (!fs.includes(f as HistoryF)) throw new RangeError(`${where}: f must be one of ${fs.join(', ')}`)
  if (typeof key !== 'string') throw new RangeError(`${where}: key must be a string`)
  if (value !== null && value !== undefined && typeof value !== 'string') throw new RangeError(`${where}: value must be a string or null`)
  if (typeof time !== 'number' || !Number.isFinite(time) || time < 0) throw new RangeError(`${where}: time must be nanoseconds >= 0`)
  return { process: process as number, type: type as HistoryType, f: f as HistoryF, key, value: (value as string | null | undefined) ?? null, time }
}

/**
 * The register operations a history records, for `checkLinearizable`: an
 * invoke with its ok becomes a completed op; with info, or with nothing by the
 * end, an op that may have happened; with fail, nothing. Throws a RangeError
 * for a completion without an invoke or an invoke while one is open.
 */
export function registerOpsOf(entries: readonly HistoryEntry[]): RegisterOp[] {
  const open = new Map<number, HistoryEntry>()
  const ops: RegisterOp[] = []
  const toUs = (ns: number): number => Math.floor(ns / 1_000)
  const add = (invoke: HistoryEntry, completion: HistoryEntry | null): void => {
    const value = invoke.f === 'write' ? invoke.value : completion !== null && completion.type === 'ok' ? completion.value : null
    // A read without an answer observed nothing: it constrains no order.
    if (invoke.f === 'read' && (completion === null || completion.type !== 'ok')) return
    ops.push({ client: String(invoke.process), key: invoke.key, kind: invoke.f === 'write' ? 'write' : 'read', value, invokeUs: toUs(invoke.time), returnUs: completion !== null && completion.type === 'ok' ? toUs(completion.time) : null })
  }
  for (const entry of entries) {
    const pending = open.get(entry.process)
    if (entry.type === 'invoke') {
      if (pending !== undefined) throw new RangeError(`process ${entry.process} invokes ${entry.f} ${entry.key} while its ${pending.f} of ${pending.key} is open`)
      open.set(entry.process, entry)
      continue
    }
    if (pending === undefined) throw new RangeError(`process ${entry.process}: ${entry.type} without an invoke`)
    if (pending.f !== entry.f || pending.key !== entry.key) throw new RangeError(`process ${entry.process}: ${entry.type} ${entry.f} ${entry.key} completes ${pending.f} ${pending.key}`)
    open.delete(entry.process)
    if (entry.type !== 'fail') add(pending, entry)
  }
  for (const pending of open.values()) add(pending, null)
  return ops
}
