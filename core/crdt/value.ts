/**
 * Typed values of the replicated store and their deltas: one tag byte, then
 * the type's own encoding. Every type's delta is a state of that type (joined
 * into the value), except documents, whose delta is a Yjs update.
 */
import type * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import { encodeWith } from '../codec/envelope.ts'
import type * as Y from 'yjs'
import { fail } from '../codec/decodeError.ts'
import { readBytes, readUint, writeBytes, writeUint } from '../codec/fields.ts'
import { fnv1a32Bytes, fnv1a32String, hex32 } from '../lib/hash.ts'
import { dotsOf, joinCausal, nestedValue, readNested, writeNested, type Causal, type NestedValue } from './causal.ts'
import { emptyPnCounter, joinPnCounters, pnCounterValue, readPnCounter, writePnCounter, type PnCounter } from './counter.ts'
import { applyDocUpdate, docCanonicalState, loadDoc, docLimits, docText, encodeDocState, mergeDocUpdates } from './doc.ts'
import { dotKey, readCausalContext, writeCausalContext } from './dots.ts'
import { compareLww, emptyLwwRegister, joinLww, readLwwRegister, writeLwwRegister, type LwwRegister } from './lwwRegister.ts'

export const crdtTypes = ['counter', 'register', 'mvregister', 'set', 'map', 'doc'] as const
export type CrdtType = (typeof crdtTypes)[number]

export type Value =
  | { readonly type: 'counter'; readonly state: PnCounter }
  | { readonly type: 'register'; readonly state: LwwRegister }
  | { readonly type: 'mvregister' | 'set' | 'map'; readonly state: Causal }
  | { readonly type: 'doc'; readonly state: Y.Doc }

export type Delta = Exclude<Value, { type: 'doc' }> | { readonly type: 'doc'; readonly update: Uint8Array }

/** When two replicas created one key with different types at once, the higher rank wins (a deterministic lattice). */
const typeRank: Record<CrdtType, number> = { counter: 0, register: 1, mvregister: 2, set: 3, map: 4, doc: 5 }

/**
 * Joins `delta` into `value` (undefined: the key is new here). Non-document
 * values are immutable, so the result is a new value; a document is changed
 * in place. `replica` names the local replica (document client ids).
 */
export function joinValue(key: string, replica: string, value: Value | undefined, delta: Delta): Value {
  if (value !== undefined && value.type !== delta.type) {
    if (typeRank[value.type] > typeRank[delta.type]) return value
    value = undefined
  }
  switch (delta.type) {
    case 'counter':
      return { type: 'counter', state: joinPnCounters(value?.type === 'counter' ? value.state : emptyPnCounter, delta.state) }
    case 'register':
      return { type: 'register', state: joinLww(value?.type === 'register' ? value.state : emptyLwwRegister, delta.state) }
    case 'mvregister':
    case 'set':
    case 'map':
      // Contexts are mutable: a new value takes a copy, never the delta's own.
      return value?.type === delta.type ? { type: delta.type, state: joinCausal(value.state, delta.state) } : { type: delta.type, state: { root: delta.state.root, context: delta.state.context.copy() } }
    case 'doc': {
      if (value?.type !== 'doc') {
        const loaded = loadDoc(key, replica, delta.update)
        return loaded.ok ? { type: 'doc', state: loaded.value } : fail('invalidField', loaded.error.message)
      }
      const applied = applyDocUpdate(value.state, delta.update)
      if (!applied.ok) fail('invalidField', applied.error.message)
      return value
    }
  }
}

/**
 * Whether joining `delta` would change `value`, decided without encoding
 * either (the engine asks this for every received delta). Documents are not
 * covered: their join reports changes through Yjs's update event.
 */
export function deltaChanges(value: Value | undefined, delta: Exclude<Delta, { type: 'doc' }>): boolean {
  if (value === undefined || value.type !== delta.type) return value === undefined || typeRank[delta.type] > typeRank[value.type]
  switch (delta.type) {
    case 'counter': {
      const held = (value as Extract<Value, { type: 'counter' }>).state
      for (const [replica, count] of delta.state.increments) if (count > (held.increments.get(replica) ?? 0)) return true
      for (const [replica, count] of delta.state.decrements) if (count > (held.decrements.get(replica) ?? 0)) return true
      return false
    }
    case 'register':
      return compareLww(delta.state, (value as Extract<Value, { type: 'register' }>).state) > 0
    case 'mvregister':
    case 'set':
    case 'map': {
      const held = (value as Extract<Value, { type: 'mvregister' | 'set' | 'map' }>).state
      // New dots in the delta's context change the state; otherwise only removals can.
      for (const [replica, counter] of delta.state.context.vector)
        if (counter > (held.context.vector.get(replica) ?? 0)) {
          for (let c = (held.context.vector.get(replica) ?? 0) + 1; c <= counter; c++) if (!held.context.cloud.has(`${replica}:${c}`)) return true
        }
      for (const key of delta.state.context.cloud) if (!held.context.hasKey(key)) return true
      const deltaDots = new Set(dotsOf(delta.state.root).map(dotKey))
      for (const dot of dotsOf(held.root)) if (delta.state.context.has(dot) && !deltaDots.has(dotKey(dot))) return true
      return false
    }
  }
}

/** Joins `delta` into `value` and tells whether anything changed. */
export function joinValueChanged(key: string, replica: string, value: Value | undefined, delta: Delta): { readonly value: Value; readonly changed: boolean } {
  if (delta.type !== 'doc' || value?.type !== 'doc') {
    const changed = delta.type === 'doc' ? true : deltaChanges(value, delta)
    return { value: changed ? joinValue(key, replica, value, delta) : value!, changed }
  }
  let changed = false
  const onUpdate = () => {
    changed = true
  }
  value.state.on('update', onUpdate)
  try {
    joinValue(key, replica, value, delta)
  } finally {
    value.state.off('update', onUpdate)
  }
  return { value, changed }
}

/** The delta that carries a whole value (full-state sync). */
export function valueAsDelta(value: Value): Delta {
  return value.type === 'doc' ? { type: 'doc', update: encodeDocState(value.state) } : value
}

/** Joins deltas of one key, oldest first, into one delta group (document updates merge in one pass). */
export function joinDeltas(key: string, replica: string, deltas: readonly Delta[]): Delta {
  const docs = deltas.filter((delta): delta is Extract<Delta, { type: 'doc' }> => delta.type === 'doc')
  const others = deltas.filter((delta): delta is Exclude<Delta, { type: 'doc' }> => delta.type !== 'doc')
  if (docs.length > 0 && (others.length === 0 || typeRank.doc > Math.max(...others.map((delta) => typeRank[delta.type])))) {
    return { type: 'doc', update: mergeDocUpdates(docs.map((delta) => delta.update)) }
  }
  let joined: Exclude<Delta, { type: 'doc' }> = others[0]!
  for (let index = 1; index < others.length; index++) joined = joinValue(key, replica, joined, others[index]!) as Exclude<Delta, { type: 'doc' }>
  return joined
}

export function writeDelta(encoder: encoding.Encoder, delta: Delta): void {
  writeUint(encoder, typeRank[delta.type])
  switch (delta.type) {
    case 'counter':
      return writePnCounter(encoder, delta.state)
    case 'register':
      return writeLwwRegister(encoder, delta.state)
    case 'mvregister':
    case 'set':
    case 'map':
      writeNested(encoder, delta.state.root)
      return writeCausalContext(encoder, delta.state.context)
    case 'doc':
      return writeBytes(encoder, delta.update)
  }
}

export function readDelta(decoder: decoding.Decoder): Delta {
  const rank = readUint(decoder, crdtTypes.length - 1, 'value type')
  const type = crdtTypes.find((name) => typeRank[name] === rank)!
  switch (type) {
    case 'counter':
      return { type, state: readPnCounter(decoder) }
    case 'register':
      return { type, state: readLwwRegister(decoder) }
    case 'mvregister':
    case 'set':
    case 'map': {
      const root = readNested(decoder)
      const expectedKind = type === 'mvregister' ? 'mv' : type
      if (root.kind !== expectedKind) fail('invalidField', `a ${type} value with a ${root.kind} root`)
      return { type, state: { root, context: readCausalContext(decoder) } }
    }
    case 'doc':
      return { type, update: readBytes(decoder, docLimits.updateBytesMax, 'document update') }
  }
}

/** The canonical encoding of a value (documents: their full state as one update). */
export function writeValue(encoder: encoding.Encoder, value: Value): void {
  writeDelta(encoder, valueAsDelta(value))
}

/** A 64-bit digest (16 hex digits) of a value's causal state; equal states give equal digests. */
export function digestValue(value: Value): string {
  // A document's digest is of its canonical state, not its encoding: none is made.
  return digestOfEncoded(value, value.type === 'doc' ? new Uint8Array(0) : encodeWith(value, writeValue))
}

/** The digest when the caller has the value's encoding at hand already. */
export function digestOfEncoded(value: Value, encoded: Uint8Array): string {
  if (value.type === 'doc') {
    // Yjs encodings of one state can differ by the order updates came in; the canonical state cannot.
    const canonical = `doc ${docCanonicalState(value.state)}`
    return hex32(fnv1a32String(canonical)) + hex32(fnv1a32String(canonical, 0x01000193))
  }
  return hex32(fnv1a32Bytes(encoded)) + hex32(fnv1a32Bytes(encoded, 0x01000193))
}

export type PlainValue = number | string | null | NestedValue

/** What a client or checker sees: a number, a string (or null), sorted lists, objects, or a document's text. */
export function plainValue(value: Value): PlainValue {
  switch (value.type) {
    case 'counter':
      return pnCounterValue(value.state)
    case 'register':
      return value.state.written ? value.state.value : null
    case 'mvregister':
    case 'set':
    case 'map':
      return nestedValue(value.state.root)
    case 'doc':
      return docText(value.state)
  }
}

/** Decodes a whole value (for storage records): documents come back as a fresh Y.Doc. */
export function readValue(decoder: decoding.Decoder, key: string, replica: string): Value {
  return joinValue(key, replica, undefined, readDelta(decoder))
}
