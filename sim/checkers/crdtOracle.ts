/**
 * The reference model the CRDT checker compares replicas with: a slow,
 * deliberately plain restatement of each type's semantics over a history of
 * acknowledged operations, each with its explicit causal predecessors. It
 * shares no code with core/crdt's joins, dot stores or effects.
 *
 * A history entry is one acknowledged client operation: what the client
 * asked for, the replica that issued it, the identity the engine gave it (the
 * dot of an add, put or multi-value write; the hybrid timestamp of an LWW
 * write — names only, like a request id), and for the causal types
 * `observed`: the dots of that key that had reached the issuing replica when
 * it was issued. The checker builds `observed` itself from the simulator's
 * deliveries (see crdtChecker.ts); the engine never reports it.
 *
 * Semantics, per key:
 * - counter: the sum of every acknowledged amount;
 * - LWW register: the value of the greatest write by (wall ms, logical,
 *   replica id), compared here; and that order respects causality: a write
 *   issued at a replica after another write of the key had reached it (its
 *   `observedWriter`) orders after that write. A client that saw value v and
 *   then wrote w (a read-modify-write, a correction) must never see v win over
 *   w; a hybrid clock that does not advance past what it receives breaks this
 *   while every replica still agrees on the winner;
 * - MV register, OR-set (add-wins), OR-map: an operation `o` covers a write
 *   `w` when `w` had reached o's replica before `o` was issued (w's dot is
 *   in o.observed) and `o` acts on w's place — any write of an MV register;
 *   the same element of a set (an add as well as a remove: a re-add replaces
 *   the adds it saw, the element stays through the new dot); a map path that
 *   is w's path or a prefix of it (a put or remove replaces everything at
 *   and below its path). A write survives when nothing covers it: an MV
 *   register holds its surviving values, a set its elements with a surviving
 *   add, a map the surviving values at each path. So a remove takes away
 *   exactly the adds its replica had seen, and a concurrent add wins.
 * - documents: every acknowledged insert adds a unique token; the text must
 *   consist of exactly the inserted tokens that no acknowledged delete took.
 */
import type { CrdtOp } from '../../core/crdt/ops.ts'
import type { Hlc } from '../../core/crdt/hlc.ts'
import type { NestedValue } from '../../core/crdt/causal.ts'
import type { PlainValue } from '../../core/crdt/value.ts'

export interface RecordedOp {
  readonly requestId: number
  readonly op: CrdtOp
  /** The replica that issued and acknowledged it. */
  readonly replica: string
  /** Causal types: the dots of `op.key` that had reached `replica` when the operation was issued. */
  readonly observed?: ReadonlySet<string>
  /** The dot the engine named an add, put or MV write with. */
  readonly dot?: string
  /** The hybrid timestamp of an LWW write. */
  readonly timestamp?: Hlc
  /** LWW writes: the greatest write of `op.key` (stamp and replica) that had reached `replica` when this one was issued. */
  readonly observedWriter?: StampedWrite
  /** Documents: the tokens a delete took out of the issuing replica's text. */
  readonly deletedTokens?: readonly string[]
}

/** An LWW write's place in LWW order: its hybrid timestamp, then its replica id. */
export interface StampedWrite {
  readonly timestamp: Hlc
  readonly replica: string
}

/** Positive when `a` orders after `b` in LWW order, compared here field by field. */
export function compareStamped(a: StampedWrite, b: StampedWrite): number {
  if (a.timestamp.wallMs !== b.timestamp.wallMs) return a.timestamp.wallMs - b.timestamp.wallMs
  if (a.timestamp.logical !== b.timestamp.logical) return a.timestamp.logical - b.timestamp.logical
  return a.replica < b.replica ? -1 : a.replica > b.replica ? 1 : 0
}

export interface Expected {
  /** Plain values per key, documents excluded. */
  readonly values: Map<string, PlainValue>
  /** Per document key: the tokens its text must hold, once each. */
  readonly docTokens: Map<string, Set<string>>
  /** Per document key: tokens an acknowledged delete took (they must be gone). */
  readonly docDeleted: Map<string, Set<string>>
  /** Histories no correct engine produces: a dot or an LWW stamp given twice. */
  readonly anomalies: string[]
  /** LWW writes on one key with an equal timestamp from different replicas (the tie-break decided them). */
  readonly lwwStampTies: number
  /** LWW writes that order before (or equal to) a write that had reached their replica when they were issued. */
  readonly causalityProblems: string[]
}

/** A document token: what the scenario inserts, unique per request. */
export const docTokenPattern = /\[\d+\]/g

export function docToken(requestId: number): string {
  return `[${requestId}]`
}

export function expectedFrom(history: readonly RecordedOp[]): Expected {
  const values = new Map<string, PlainValue>()
  const anomalies: string[] = []
  const byKey = new Map<string, RecordedOp[]>()
  for (const entry of history) {
    const list = byKey.get(entry.op.key)
    if (list === undefined) byKey.set(entry.op.key, [entry])
    else list.push(entry)
  }
  const docTokens = new Map<string, Set<string>>()
  const docDeleted = new Map<string, Set<string>>()
  let lwwStampTies = 0
  const causalityProblems: string[] = []
  for (const [key, ops] of byKey) {
    const type = ops[0]!.op.type
    if (ops.some((entry) => entry.op.type !== type)) {
      anomalies.push(`${key}: acknowledged operations of different types`)
      continue
    }
    switch (type) {
      case 'counter':
        values.set(
          key,
          ops.reduce((sum, entry) => sum + (entry.op.type === 'counter' ? entry.op.amount : 0), 0),
        )
        break
      case 'register': {
        const lww = lastWriter(key, ops, anomalies)
        lwwStampTies += lww.ties
        for (const entry of ops) {
          const seen = entry.observedWriter
          if (seen === undefined || entry.timestamp === undefined) continue
          const stamp = { timestamp: entry.timestamp, replica: entry.replica }
          if (compareStamped(stamp, seen) <= 0) {
            causalityProblems.push(`${key}: write ${entry.requestId} at ${entry.replica} (${stampName(stamp)}) was issued after ${stampName(seen)} had reached it, and does not order after it`)
          }
        }
        if (lww.winner !== undefined) values.set(key, lww.winner)
        break
      }
      case 'mvregister':
      case 'set':
      case 'map':
        values.set(key, causalValue(key, type, ops, anomalies))
        break
      case 'doc': {
        const inserted = new Set<string>()
        const deleted = new Set<string>()
        for (const { op, requestId, deletedTokens } of ops) {
          if (op.type === 'doc' && op.action === 'insert') inserted.add(op.text)
          else if (op.type === 'doc' && op.action === 'delete') for (const token of deletedTokens ?? []) deleted.add(token)
          else anomalies.push(`${key}: request ${requestId} is a document update the oracle cannot model`)
        }
        docTokens.set(key, new Set([...inserted].filter((token) => !deleted.has(token))))
        docDeleted.set(key, deleted)
        break
      }
    }
  }
  return { values, docTokens, docDeleted, anomalies, lwwStampTies, causalityProblems }
}

function stampName(write: StampedWrite): string {
  return `${write.timestamp.wallMs}.${write.timestamp.logical}@${write.replica}`
}

/** The LWW winner, compared field by field: wall ms, then logical counter, then replica id. */
function lastWriter(key: string, ops: readonly RecordedOp[], anomalies: string[]): { winner: string | undefined; ties: number } {
  let best: RecordedOp | undefined
  const stamps = new Map<string, Set<string>>()
  for (const entry of ops) {
    const stamp = entry.timestamp
    if (stamp === undefined || entry.op.type !== 'register') {
      anomalies.push(`${key}: register write ${entry.requestId} has no timestamp`)
      continue
    }
    const name = `${stamp.wallMs}.${stamp.logical}`
    const writers = stamps.get(name) ?? new Set<string>()
    if (writers.has(entry.replica)) anomalies.push(`${key}: ${entry.replica} stamped two writes ${name}`)
    writers.add(entry.replica)
    stamps.set(name, writers)
    if (best === undefined || wins(entry, best)) best = entry
  }
  let ties = 0
  for (const writers of stamps.values()) if (writers.size > 1) ties += writers.size - 1
  return { winner: best?.op.type === 'register' ? best.op.value : undefined, ties }
}

function wins(a: RecordedOp, b: RecordedOp): boolean {
  const x = a.timestamp!
  const y = b.timestamp!
  if (x.wallMs !== y.wallMs) return x.wallMs > y.wallMs
  if (x.logical !== y.logical) return x.logical > y.logical
  return a.replica > b.replica
}

/** Where an operation acts: the set element, the map path; one place for an MV register. */
function placeOf(op: CrdtOp): readonly string[] {
  if (op.type === 'set') return [op.element]
  if (op.type === 'map') return op.path
  return []
}

/** True when an operation at `outer` replaces what lies at `inner` (outer is inner or a prefix of it; sets: the same element). */
function covers(type: CrdtOp['type'], outer: readonly string[], inner: readonly string[]): boolean {
  if (type === 'set') return outer[0] === inner[0]
  return outer.length <= inner.length && outer.every((field, index) => inner[index] === field)
}

function causalValue(key: string, type: 'mvregister' | 'set' | 'map', ops: readonly RecordedOp[], anomalies: string[]): PlainValue {
  const writes = new Map<string, RecordedOp>()
  for (const entry of ops) {
    const isWrite = entry.op.type === 'mvregister' || (entry.op.type === 'set' && entry.op.action === 'add') || (entry.op.type === 'map' && entry.op.action === 'put')
    if (!isWrite) continue
    if (entry.dot === undefined) anomalies.push(`${key}: write ${entry.requestId} has no dot`)
    else if (writes.has(entry.dot)) anomalies.push(`${key}: dot ${entry.dot} named two writes (${writes.get(entry.dot)!.requestId} and ${entry.requestId})`)
    else writes.set(entry.dot, entry)
  }
  const covered = new Set<string>()
  for (const entry of ops) {
    const place = placeOf(entry.op)
    for (const dot of entry.observed ?? []) {
      const write = writes.get(dot)
      if (write !== undefined && write !== entry && covers(type, place, placeOf(write.op))) covered.add(dot)
    }
  }
  const survivors = [...writes.values()].filter((write) => !covered.has(write.dot!))
  if (type === 'mvregister') return survivors.map((write) => (write.op.type === 'mvregister' ? write.op.value : '')).sort()
  if (type === 'set') return [...new Set(survivors.map((write) => placeOf(write.op)[0]!))].sort()
  const root: { [field: string]: NestedValue } = {}
  for (const write of survivors) {
    if (write.op.type !== 'map' || write.op.action !== 'put') continue
    const fields = write.op.path
    let node = root
    for (const field of fields.slice(0, -1)) node = (node[field] ??= {}) as { [field: string]: NestedValue }
    const leaf = fields[fields.length - 1]!
    node[leaf] = [...((node[leaf] as string[] | undefined) ?? []), write.op.value].sort()
  }
  return sortObject(root)
}

function sortObject(value: NestedValue): NestedValue {
  if (Array.isArray(value)) return value
  const out: { [field: string]: NestedValue } = {}
  for (const key of Object.keys(value).sort()) out[key] = sortObject((value as { readonly [field: string]: NestedValue })[key]!)
  return out
}

/** What is wrong with a document's text against the acknowledged edits (empty: nothing). */
export function docProblems(text: string, tokens: ReadonlySet<string>, deleted: ReadonlySet<string>): string[] {
  const problems: string[] = []
  const found = text.match(docTokenPattern) ?? []
  const rest = text.replace(docTokenPattern, '')
  if (rest.length > 0) problems.push(`text outside any inserted token: ${JSON.stringify(rest.slice(0, 40))}`)
  const seen = new Set<string>()
  for (const token of found) {
    if (seen.has(token)) problems.push(`token ${token} appears twice`)
    seen.add(token)
    if (deleted.has(token)) problems.push(`token ${token} was deleted by an acknowledged delete`)
    else if (!tokens.has(token)) problems.push(`token ${token} comes from no acknowledged insert`)
  }
  for (const token of tokens) if (!seen.has(token)) problems.push(`acknowledged insert ${token} is missing`)
  return problems
}
