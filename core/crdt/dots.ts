/**
 * Dots and causal contexts, the bookkeeping of causal CRDTs (Almeida, Shoker
 * and Baquero, "Delta state replicated data types").
 *
 * A dot (replica, counter) names one event. A causal context is the set of
 * dots a replica has seen, kept compact: a version vector for the contiguous
 * prefix of each replica plus a small "cloud" of dots beyond it. Removals
 * only add dots to the context, and contiguous dots fold into the vector, so
 * removed elements leave no growing tombstones.
 */
import type * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import { fail } from '../codec/decodeError.ts'
import { readId, readUint, writeId, writeUint } from '../codec/fields.ts'
import { limits } from '../lib/limits.ts'

export interface Dot {
  readonly replica: string
  readonly counter: number
}

export const dotLimits = {
  /** Dots beyond the contiguous prefix held in one context; a decoder refuses more. */
  cloudDotsMax: 1_000_000,
} as const

/** A dot as one string key, for maps and sets. Node ids never contain ':'. */
export function dotKey(dot: Dot): string {
  return `${dot.replica}:${dot.counter}`
}

export function parseDotKey(key: string): Dot {
  const colon = key.lastIndexOf(':')
  return { replica: key.slice(0, colon), counter: Number(key.slice(colon + 1)) }
}

export function compareDotKeys(a: string, b: string): number {
  const dotA = parseDotKey(a)
  const dotB = parseDotKey(b)
  return dotA.replica < dotB.replica ? -1 : dotA.replica > dotB.replica ? 1 : dotA.counter - dotB.counter
}

export class CausalContext {
  /** Highest counter per replica such that every dot up to it has been seen. */
  readonly vector = new Map<string, number>()
  /** Seen dots that are not contiguous with the vector yet. */
  readonly cloud = new Set<string>()

  static of(dots: Iterable<Dot>): CausalContext {
    const context = new CausalContext()
    for (const dot of dots) context.add(dot)
    context.compact()
    return context
  }

  copy(): CausalContext {
    const copy = new CausalContext()
    for (const [replica, counter] of this.vector) copy.vector.set(replica, counter)
    for (const key of this.cloud) copy.cloud.add(key)
    return copy
  }

  has(dot: Dot): boolean {
    return dot.counter <= (this.vector.get(dot.replica) ?? 0) || this.cloud.has(dotKey(dot))
  }

  hasKey(key: string): boolean {
    return this.has(parseDotKey(key))
  }

  /** Adds a dot; call `compact` after a batch. */
  add(dot: Dot): void {
    if (dot.counter <= (this.vector.get(dot.replica) ?? 0)) return
    if (dot.counter === (this.vector.get(dot.replica) ?? 0) + 1) this.vector.set(dot.replica, dot.counter)
    else this.cloud.add(dotKey(dot))
  }

  /** The next dot of `replica`: one past the highest it has made, as far as this context knows. */
  nextDot(replica: string): Dot {
    let counter = this.vector.get(replica) ?? 0
    for (const key of this.cloud) {
      const dot = parseDotKey(key)
      if (dot.replica === replica && dot.counter > counter) counter = dot.counter
    }
    return { replica, counter: counter + 1 }
  }

  /** Folds cloud dots that became contiguous into the vector. */
  compact(): void {
    let changed = true
    while (changed && this.cloud.size > 0) {
      changed = false
      for (const key of this.cloud) {
        const dot = parseDotKey(key)
        const held = this.vector.get(dot.replica) ?? 0
        if (dot.counter <= held + 1) {
          this.cloud.delete(key)
          if (dot.counter === held + 1) this.vector.set(dot.replica, dot.counter)
          changed = true
        }
      }
    }
  }

  /** Joins `other` into this context. */
  join(other: CausalContext): void {
    for (const [replica, counter] of other.vector) {
      if (counter > (this.vector.get(replica) ?? 0)) this.vector.set(replica, counter)
    }
    for (const key of other.cloud) this.add(parseDotKey(key))
    // Cloud dots now under the vector are redundant.
    for (const key of this.cloud) {
      const dot = parseDotKey(key)
      if (dot.counter <= (this.vector.get(dot.replica) ?? 0)) this.cloud.delete(key)
    }
    this.compact()
  }

  isEmpty(): boolean {
    return this.vector.size === 0 && this.cloud.size === 0
  }
}

export function writeDot(encoder: encoding.Encoder, dot: Dot): void {
  writeId(encoder, dot.replica)
  writeUint(encoder, dot.counter)
}

export function readDot(decoder: decoding.Decoder): Dot {
  const replica = readId(decoder, 'dot replica')
  const counter = readUint(decoder, Number.MAX_SAFE_INTEGER, 'dot counter')
  if (counter === 0) fail('invalidField', 'dot counter 0 (dots count from 1)')
  return { replica, counter }
}

/** Canonical form: vector entries by replica, cloud dots sorted; equal contexts encode equally. */
export function writeCausalContext(encoder: encoding.Encoder, context: CausalContext): void {
  const replicas = [...context.vector.keys()].sort()
  writeUint(encoder, replicas.length)
  for (const replica of replicas) {
    writeId(encoder, replica)
    writeUint(encoder, context.vector.get(replica)!)
  }
  const cloud = [...context.cloud].sort(compareDotKeys)
  writeUint(encoder, cloud.length)
  for (const key of cloud) writeDot(encoder, parseDotKey(key))
}

export function readCausalContext(decoder: decoding.Decoder): CausalContext {
  const context = new CausalContext()
  const replicas = readUint(decoder, limits.membersMax, 'context replicas')
  for (let index = 0; index < replicas; index++) {
    const replica = readId(decoder, 'context replica')
    const counter = readUint(decoder, Number.MAX_SAFE_INTEGER, 'context counter')
    if (context.vector.has(replica)) fail('invalidField', `replica ${replica} twice in a context`)
    if (counter > 0) context.vector.set(replica, counter)
  }
  const cloud = readUint(decoder, dotLimits.cloudDotsMax, 'context cloud size')
  for (let index = 0; index < cloud; index++) context.add(readDot(decoder))
  context.compact()
  return context
}
