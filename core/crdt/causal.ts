/**
 * Causal CRDTs as dot stores sharing one causal context (Almeida et al.):
 *
 *   mv   DotFun   dot -> value          multi-value register
 *   set  DotMap   element -> DotSet     add-wins observed-remove set
 *   map  DotMap   field -> MapField     observed-remove map; a field holds a
 *                                       register part and a nested-map part
 *
 * The causal join keeps what both sides have, plus what one side has that the
 * other has not seen (not in its context). A removal is a delta with an empty
 * store and the removed dots in its context: it leaves no tombstone, only
 * dots, which the context folds into its version vector.
 *
 * A map field joins its two parts independently (a product of lattices), so a
 * register written at `f` concurrently with a map written under `f.g` both
 * survive; a reader sees the map part when it is not empty, else the register.
 * A put at a path replaces both parts there; a remove clears both.
 *
 * Join never mutates its inputs' stores; it builds the result.
 */
import type * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import { fail } from '../codec/decodeError.ts'
import { assert } from '../lib/assert.ts'
import { readText, readUint, writeText, writeUint } from '../codec/fields.ts'
import { CausalContext, compareDotKeys, dotKey, parseDotKey, readDot, writeDot, type Dot } from './dots.ts'

/** Dot -> register value. */
export type DotFun = ReadonlyMap<string, string>

export interface MapField {
  readonly register: DotFun
  readonly fields: ReadonlyMap<string, MapField>
}

export type Nested = { readonly kind: 'mv'; readonly dots: DotFun } | { readonly kind: 'set'; readonly elements: ReadonlyMap<string, ReadonlySet<string>> } | { readonly kind: 'map'; readonly fields: ReadonlyMap<string, MapField> }

export const causalLimits = {
  /** One register value, set element or map field name. */
  textBytesMax: 64 * 1024,
  /** Entries in one dot store (dots of a register, elements of a set, fields of a map). */
  entriesMax: 100_000,
  /** Nesting of maps. */
  depthMax: 8,
} as const

const kindNumbers = { mv: 0, set: 1, map: 2 } as const

export interface Causal {
  readonly root: Nested
  readonly context: CausalContext
}

const noFields: ReadonlyMap<string, MapField> = new Map()
const noDots: DotFun = new Map()

export function emptyNested(kind: Nested['kind']): Nested {
  if (kind === 'mv') return { kind, dots: noDots }
  if (kind === 'set') return { kind, elements: new Map() }
  return { kind, fields: noFields }
}

function isEmptyField(field: MapField): boolean {
  return field.register.size === 0 && field.fields.size === 0
}

/** Every dot in a store or field, for the context of a delta that overwrites or removes it. */
export function dotsOf(store: Nested | MapField | undefined, into: Dot[] = []): Dot[] {
  if (store === undefined) return into
  if (!('kind' in store)) {
    for (const key of store.register.keys()) into.push(parseDotKey(key))
    for (const child of store.fields.values()) dotsOf(child, into)
  } else if (store.kind === 'mv') for (const key of store.dots.keys()) into.push(parseDotKey(key))
  else if (store.kind === 'set') for (const dots of store.elements.values()) for (const key of dots) into.push(parseDotKey(key))
  else for (const child of store.fields.values()) dotsOf(child, into)
  return into
}

function joinDotFuns(a: DotFun | undefined, contextA: CausalContext, b: DotFun | undefined, contextB: CausalContext): DotFun {
  const out = new Map<string, string>()
  if (a !== undefined) for (const [key, value] of a) if ((b !== undefined && b.has(key)) || !contextB.hasKey(key)) out.set(key, value)
  if (b !== undefined) for (const [key, value] of b) if (!out.has(key) && ((a !== undefined && a.has(key)) || !contextA.hasKey(key))) out.set(key, value)
  return out.size === 0 ? noDots : out
}

function joinDotSets(a: ReadonlySet<string> | undefined, contextA: CausalContext, b: ReadonlySet<string> | undefined, contextB: CausalContext): Set<string> {
  const out = new Set<string>()
  if (a !== undefined) for (const key of a) if ((b !== undefined && b.has(key)) || !contextB.hasKey(key)) out.add(key)
  if (b !== undefined) for (const key of b) if ((a !== undefined && a.has(key)) || !contextA.hasKey(key)) out.add(key)
  return out
}

function joinFields(a: ReadonlyMap<string, MapField> | undefined, contextA: CausalContext, b: ReadonlyMap<string, MapField> | undefined, contextB: CausalContext): ReadonlyMap<string, MapField> {
  const out = new Map<string, MapField>()
  for (const name of unionKeys(a, b)) {
    const fieldA = a?.get(name)
    const fieldB = b?.get(name)
    const joined: MapField = {
      register: joinDotFuns(fieldA?.register, contextA, fieldB?.register, contextB),
      fields: joinFields(fieldA?.fields, contextA, fieldB?.fields, contextB),
    }
    if (!isEmptyField(joined)) out.set(name, joined)
  }
  return out.size === 0 ? noFields : out
}

/** The causal join of two stores of one kind under their contexts. */
export function joinNested(a: Nested, contextA: CausalContext, b: Nested, contextB: CausalContext): Nested {
  assert(a.kind === b.kind, 'causal join of stores of different kinds')
  if (a.kind === 'mv' && b.kind === 'mv') return { kind: 'mv', dots: joinDotFuns(a.dots, contextA, b.dots, contextB) }
  if (a.kind === 'set' && b.kind === 'set') {
    const out = new Map<string, ReadonlySet<string>>()
    for (const element of unionKeys(a.elements, b.elements)) {
      const dots = joinDotSets(a.elements.get(element), contextA, b.elements.get(element), contextB)
      if (dots.size > 0) out.set(element, dots)
    }
    return { kind: 'set', elements: out }
  }
  return { kind: 'map', fields: joinFields((a as Extract<Nested, { kind: 'map' }>).fields, contextA, (b as Extract<Nested, { kind: 'map' }>).fields, contextB) }
}

function unionKeys<K>(a: ReadonlyMap<K, unknown> | undefined, b: ReadonlyMap<K, unknown> | undefined): Set<K> {
  const keys = new Set<K>(a?.keys() ?? [])
  if (b !== undefined) for (const key of b.keys()) keys.add(key)
  return keys
}

/** The join of two causal CRDTs of one kind. */
export function joinCausal(a: Causal, b: Causal): Causal {
  const root = joinNested(a.root, a.context, b.root, b.context)
  const context = a.context.copy()
  context.join(b.context)
  return { root, context }
}

/** A map root holding `leaf` at `path` (outermost first) and nothing else. */
export function nestAlong(path: readonly string[], leaf: MapField): Nested {
  let field = leaf
  for (let index = path.length - 1; index > 0; index--) field = { register: noDots, fields: new Map([[path[index]!, field]]) }
  return { kind: 'map', fields: new Map([[path[0]!, field]]) }
}

/** A field holding only a register part. */
export function registerField(dots: DotFun): MapField {
  return { register: dots, fields: noFields }
}

/** The field at `path` inside a map root, or undefined. */
export function fieldAt(root: Nested, path: readonly string[]): MapField | undefined {
  if (root.kind !== 'map' || path.length === 0) return undefined
  let field = root.fields.get(path[0]!)
  for (let index = 1; index < path.length && field !== undefined; index++) field = field.fields.get(path[index]!)
  return field
}

function writeDotFun(encoder: encoding.Encoder, dots: DotFun): void {
  const keys = [...dots.keys()].sort(compareDotKeys)
  writeUint(encoder, keys.length)
  for (const key of keys) {
    writeDot(encoder, parseDotKey(key))
    writeText(encoder, dots.get(key)!)
  }
}

function readDotFun(decoder: decoding.Decoder): DotFun {
  const count = readUint(decoder, causalLimits.entriesMax, 'register dots')
  const dots = new Map<string, string>()
  for (let index = 0; index < count; index++) {
    const key = dotKey(readDot(decoder))
    dots.set(key, readText(decoder, causalLimits.textBytesMax, 'register value'))
  }
  if (dots.size !== count) fail('invalidField', 'a dot twice in a register')
  return dots
}

function writeFields(encoder: encoding.Encoder, fields: ReadonlyMap<string, MapField>): void {
  const names = [...fields.keys()].sort()
  writeUint(encoder, names.length)
  for (const name of names) {
    const field = fields.get(name)!
    writeText(encoder, name)
    writeDotFun(encoder, field.register)
    writeFields(encoder, field.fields)
  }
}

function readFields(decoder: decoding.Decoder, depth: number): ReadonlyMap<string, MapField> {
  if (depth > causalLimits.depthMax) fail('invalidField', `maps nested deeper than depthMax=${causalLimits.depthMax}`)
  const count = readUint(decoder, causalLimits.entriesMax, 'map fields')
  const fields = new Map<string, MapField>()
  for (let index = 0; index < count; index++) {
    const name = readText(decoder, causalLimits.textBytesMax, 'map field')
    const field: MapField = { register: readDotFun(decoder), fields: readFields(decoder, depth + 1) }
    if (isEmptyField(field)) fail('invalidField', `map field ${name} is empty`)
    fields.set(name, field)
  }
  if (fields.size !== count) fail('invalidField', 'a field twice in a map')
  return fields
}

export function writeNested(encoder: encoding.Encoder, store: Nested): void {
  writeUint(encoder, kindNumbers[store.kind])
  if (store.kind === 'mv') writeDotFun(encoder, store.dots)
  else if (store.kind === 'set') {
    const elements = [...store.elements.keys()].sort()
    writeUint(encoder, elements.length)
    for (const element of elements) {
      writeText(encoder, element)
      const dots = [...store.elements.get(element)!].sort(compareDotKeys)
      writeUint(encoder, dots.length)
      for (const key of dots) writeDot(encoder, parseDotKey(key))
    }
  } else writeFields(encoder, store.fields)
}

export function readNested(decoder: decoding.Decoder): Nested {
  const kind = readUint(decoder, 2, 'dot store kind')
  if (kind === kindNumbers.mv) return { kind: 'mv', dots: readDotFun(decoder) }
  if (kind === kindNumbers.map) return { kind: 'map', fields: readFields(decoder, 1) }
  const count = readUint(decoder, causalLimits.entriesMax, 'set elements')
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

/** A plain view for clients and checkers: register values sorted, set elements sorted, maps as objects. */
export type NestedValue = string[] | { readonly [field: string]: NestedValue }

function registerValue(dots: DotFun): string[] {
  return [...new Set(dots.values())].sort()
}

function fieldsValue(fields: ReadonlyMap<string, MapField>): { [field: string]: NestedValue } {
  const out: { [field: string]: NestedValue } = {}
  for (const name of [...fields.keys()].sort()) {
    const field = fields.get(name)!
    out[name] = field.fields.size > 0 ? fieldsValue(field.fields) : registerValue(field.register)
  }
  return out
}

export function nestedValue(store: Nested): NestedValue {
  if (store.kind === 'mv') return registerValue(store.dots)
  if (store.kind === 'set') return [...store.elements.keys()].sort()
  return fieldsValue(store.fields)
}
