/**
 * G-Counter and PN-Counter, delta-state: a replica only ever raises its own
 * entry, so an increment's delta is that one entry and join is a pointwise max.
 */
import type * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import { fail } from '../codec/decodeError.ts'
import { readId, readUint, writeId, writeUint } from '../codec/fields.ts'
import { limits } from '../lib/limits.ts'

/** Replica id -> that replica's total. */
export type GCounter = ReadonlyMap<string, number>

export const emptyGCounter: GCounter = new Map()

export function gCounterValue(counter: GCounter): number {
  let sum = 0
  for (const count of counter.values()) sum += count
  return sum
}

/** The delta of adding `amount` (> 0) at `replica`. */
export function gCounterIncrement(counter: GCounter, replica: string, amount: number): GCounter {
  return new Map([[replica, (counter.get(replica) ?? 0) + amount]])
}

export function joinGCounters(a: GCounter, b: GCounter): GCounter {
  const out = new Map(a)
  for (const [replica, count] of b) if (count > (out.get(replica) ?? 0)) out.set(replica, count)
  return out
}

export function writeGCounter(encoder: encoding.Encoder, counter: GCounter): void {
  const replicas = [...counter.keys()].sort()
  writeUint(encoder, replicas.length)
  for (const replica of replicas) {
    writeId(encoder, replica)
    writeUint(encoder, counter.get(replica)!)
  }
}

export function readGCounter(decoder: decoding.Decoder): GCounter {
  const size = readUint(decoder, limits.membersMax, 'counter replicas')
  const counter = new Map<string, number>()
  for (let index = 0; index < size; index++) {
    const replica = readId(decoder, 'counter replica')
    if (counter.has(replica)) fail('invalidField', `replica ${replica} twice in a counter`)
    counter.set(replica, readUint(decoder, Number.MAX_SAFE_INTEGER, 'counter entry'))
  }
  return counter
}

export interface PnCounter {
  readonly increments: GCounter
  readonly decrements: GCounter
}

export const emptyPnCounter: PnCounter = { increments: emptyGCounter, decrements: emptyGCounter }

export function pnCounterValue(counter: PnCounter): number {
  return gCounterValue(counter.increments) - gCounterValue(counter.decrements)
}

/** The delta of adding `amount` (negative to decrement; never 0) at `replica`. */
export function pnCounterAdd(counter: PnCounter, replica: string, amount: number): PnCounter {
  return amount > 0 ? { increments: gCounterIncrement(counter.increments, replica, amount), decrements: emptyGCounter } : { increments: emptyGCounter, decrements: gCounterIncrement(counter.decrements, replica, -amount) }
}

export function joinPnCounters(a: PnCounter, b: PnCounter): PnCounter {
  return { increments: joinGCounters(a.increments, b.increments), decrements: joinGCounters(a.decrements, b.decrements) }
}

export function writePnCounter(encoder: encoding.Encoder, counter: PnCounter): void {
  writeGCounter(encoder, counter.increments)
  writeGCounter(encoder, counter.decrements)
}

export function readPnCounter(decoder: decoding.Decoder): PnCounter {
  const increments = readGCounter(decoder)
  return { increments, decrements: readGCounter(decoder) }
}
