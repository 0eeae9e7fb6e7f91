/**
 * Causal CRDTs as dot stores sharing one causal context (Almeida et al.):
 *
 *   mv   DotFun   dot -> value          multi-value register
 *   set  DotMap   element -> DotSet     add-wins observed-remove set
 *   map  DotMap   field -> dot store    observed-remove map of nested values
 *
 * The causal join keeps what both sides have, plus what one side has that the
 * other has not seen (not in its context). A removal is a delta with an empty
 * store and the removed dots in its context: it leaves no tombstone, only
 * dots, which the context folds into its version vector.
 *
 * Join never mutates its inputs' stores; it builds the result.
 */
import type * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import { fail } from '../codec/decodeError.ts'
import { readText, readUint, writeText, writeUint } from '../codec/fields.ts'
import { CausalContext, compareDotKeys, dotKey, parseDotKey, readDot, writeDot, type Dot } from './dots.ts'

export type Nested =
  | { readonly kind: 'mv'; readonly dots: ReadonlyMap<string, string> }
  | { readonly kind: 'set'; readonly elements: ReadonlyMap<string, ReadonlySet<string>> }
  | { readonly kind: 'map'; readonly fields: ReadonlyMap<string, Nested> }

export const causalLimits = {
  /** One register value, set element or map field name. */
  textBytesMax: 64 * 1024,
  /** Entries in one dot store (dots of a register, elements of a set, fields of a map). */
  entriesMax: 100_000,
  /** Nesting of maps. */
  depthMax: 8,
} as const

/** When two replicas gave one field different kinds at once, the higher rank wins (a deterministic lattice). */
const kindRank = { mv: 0, set: 1, map: 2 } as const

export interface Causal {
  readonly root: Nested
  readonly context: CausalContext
}

export function emptyNested(kind: Nested['kind']): Nested {
  if (kind === 'mv') return { kind, dots: new Map() }
  if (kind === 'set') return { kind, elements: new Map() }
  return { kind, fields: new Map() }
}

export function isEmptyNested(store: Nested): boolean {
  if (store.kind === 'mv') return store.dots.size === 0
  if (store.kind === 'set') return store.elements.size === 0
  return store.fields.size === 0
}

/** Every dot in a store, for the context of a delta that overwrites or removes it. */
export function dotsOf(store: Nested | undefined, into: Dot[] = []): Dot[] {
  if (store === undefined) return into
  if (store.kind === 'mv') for (const key of store.dots.keys()) into.push(parseDotKey(key))
  else if (store.kind === 'set') for (const dots of store.elements.values()) for (const key of dots) into.push(parseDotKey(key))
  else for (const child of store.fields.values()) dotsOf(child, into)
  return into
}

function joinDotSets(a: ReadonlySet<string> | undefined, contextA: CausalContext, b: ReadonlySet<string> | undefined, contextB: CausalContext): Set<string> {
  const out = new Set<string>()
  if (a !== undefined) for (const key of a) if ((b !== undefined && b.has(key)) || !contextB.hasKey(key)) out.add(key)
  if (b !== undefined) for (const key of b) if ((a !== undefined && a.has(key)) || !contextA.hasKey(key)) out.add(key)
  return out
}

/** The causal join of two stores under their contexts; null when nothing survives. */
export function joinNested(a: Nested | undefined, contextA: CausalContext, b: Nested | undefined, contextB: CausalContext): Nested | null {
  if (a !== undefined && b !== undefined && a.kind !== b.kind) {
    const winner = kindRank[a.kind] > kindRank[b.kind] ? a : b
    return winner === a ? joinNested(a, contextA, undefined, contextB) : joinNested(undefined, contextA, b, contextB)
  }
  const kind = (a ?? b)!.kind
  if (kind === 'mv') {
    const dotsA = a?.kind === 'mv' ? a.dots : undefined
    const dotsB = b?.kind === 'mv' ? b.dots : undefined
    const out = new Map<string, string>()
    if (dotsA !== undefined) for (const [key, value] of dotsA) if ((dotsB !== undefined && dotsB.has(key)) || !contextB.hasKey(key)) out.set(key, value)
    if (dotsB !== undefined) for (const [key, value] of dotsB) if (!out.has(key) && ((dotsA !== undefined && dotsA.has(key)) || !contextA.hasKey(key))) out.set(key, value)
    return out.size === 0 ? null : { kind, dots: out }
  }
  if (kind === 'set') {
    const elementsA = a?.kind === 'set' ? a.elements : undefined
    const elementsB = b?.kind === 'set' ? b.elements : undefined
    const out = new Map<string, ReadonlySet<string>>()
    for (const element of unionKeys(elementsA, elementsB)) {
      const dots = joinDotSets(elementsA?.get(element), contextA, elementsB?.get(element), contextB)
      if (dots.size > 0) out.set(element, dots)
    }
    return out.size === 0 ? null : { kind, elements: out }
  }
  const fieldsA = a?.kind === 'map' ? a.fields : undefined
  const fieldsB = b?.kind === 'map' ? b.fields : undefined
  const out = new Map<string, Nested>()
  for (const field of unionKeys(fieldsA, fieldsB)) {
    const joined = joinNested(fieldsA?.get(field), contextA, fieldsB?.get(field), contextB)
    if (joined !== null) out.set(field, joined)
  }
  return out.size === 0 ? null : { kind, fields: out }
}

function unionKeys<K>(a: ReadonlyMap<K, unknown> | undefined, b: ReadonlyMap<K, unknown> | undefined): Set<K> {
  const keys = new Set<K>(a?.keys() ?? [])
  if (b !== undefined) for (const key of b.keys()) keys.add(key)
  return keys
}

/** The join of two causal CRDTs of one kind (the root kind of `a` is kept when both are empty). */
export function joinCausal(a: Causal, b: Causal): Causal {
  const root = joinNested(a.root, a.context, b.root, b.context) ?? emptyNested(a.root.kind)
  const context = a.context.copy()
  context.join(b.context)
  return { root, context }
}

/** Wraps `leaf` into maps along `path` (outermost first). */
export function nestAlong(path: readonly string[], leaf: Nested): Nested {
  let store = leaf
  for (let index = path.length - 1; index >= 0; index--) store = { kind: 'map', fields: new Map([[path[index]!, store]]) }
  return store
}

/** The store at `path` inside a map, or undefined. */
export function storeAt(root: Nested, path: readonly string[]): Nested | undefined {
  let store: Nested | undefined = root
  for (const field of path) {
    if (store === undefined || store.kind !== 'map') return undefined
    store = store.fields.get(field)
  }
  return store
}

export function writeNested(encoder: encoding.Encoder, store: Nested): void {
  writeUint(encoder, kindRank[store.kind])
  if (store.kind === 'mv') {
    const keys = [...store.dots.keys()].sort(compareDotKeys)
    writeUint(encoder, keys.length)
    for (const key of keys) {
      writeDot(encoder, parseDotKey(key))
      writeText(encoder, store.dots.get(key)!)
    }
  } else if (store.kind === 'set') {
    const elements = [...store.elements.keys()].sort()
    writeUint(encoder, elements.length)
    for (const element of elements) {
      writeText(encoder, element)
      const dots = [...store.elements.get(element)!].sort(compareDotKeys)
      writeUint(encoder, dots.length)
      for (const key of dots) writeDot(encoder, parseDotKey(key))
    }
  } else {
    const fields = [...store.fields.keys()].sort()
    writeUint(encoder, fields.length)
    for (const field of fields) {
      writeText(encoder, field)
      writeNested(encoder, store.fields.get(field)!)
    }
  }
}

export function readNested(decoder: decoding.Decoder, depth = 0): Nested {
  if (depth > causalLimits.depthMax) fail('invalidField', `maps nested deeper than depthMax=${causalLimits.depthMax}`)
  const rank = readUint(decoder, 2, 'dot store kind')
  const count = readUint(decoder, causalLimits.entriesMax, 'dot store entries')
  if (rank === kindRank.mv) {
    const dots = new Map<string, string>()
    for (let index = 0; index < count; index++) {
      const key = dotKey(readDot(decoder))
      dots.set(key, readText(decoder, causalLimits.textBytesMax, 'register value'))
    }
    if (dots.size !== count) fail('invalidField', 'a dot twice in a register')
    return { kind: 'mv', dots }
  }
  if (rank === kindRank.set) {
    const elements = new Map<string, ReadonlySet<string>>()
    for (let index = 0; index < count; index++) {
      const element = readText(decoder, causalLimits.textBytesMax, 'set element')
      const dotCount = readUint(decoder, causalLimits.entriesMax, 'element dots')
      if (dotCount === 0) fail('invalidField', 'a set element without dots')
      const dots = new Set<string>()
      for (let d = 0; d < dotCount; d++) dots.add(dotKey(readDot(decoder)))
      elements.set(element, dots)
    }
    if (elements.size !== count) fail('invalidField', 'an element twice in a set')
    return { kind: 'set', elements }
  }
  const fields = new Map<string, Nested>()
  for (let index = 0; index < count; index++) {
    const field = readText(decoder, causalLimits.textBytesMax, 'map field')
    const child = readNested(decoder, depth + 1)
    if (isEmptyNested(child)) fail('invalidField', `map field ${field} holds an empty store`)
    fields.set(field, child)
  }
  if (fields.size !== count) fail('invalidField', 'a field twice in a map')
  return { kind: 'map', fields }
}

/** A plain view for clients and checkers: register values sorted, set elements sorted, maps as objects. */
export type NestedValue = string[] | { readonly [field: string]: NestedValue }

export function nestedValue(store: Nested): NestedValue {
  if (store.kind === 'mv') return [...new Set(store.dots.values())].sort()
  if (store.kind === 'set') return [...store.elements.keys()].sort()
  const out: { [field: string]: NestedValue } = {}
  for (const field of [...store.fields.keys()].sort()) out[field] = nestedValue(store.fields.get(field)!)
  return out
}
