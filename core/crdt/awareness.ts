/**
 * Awareness of Yjs documents (presence, cursors) between nodes: the
 * y-protocols awareness update, relayed to every peer and never stored.
 *
 *   update := varuint count, (varuint clientID, varuint clock, varstring stateJson)*
 *
 * This is y-protocols' own encoding (`encodeAwarenessUpdate`), read here with
 * lib0, so a server forwards the bytes to stock clients as they are. A state
 * of `null` removes the client. An entry is taken when its clock is newer than
 * the one held, or equal with a null state for a client still present (the
 * rule of y-protocols' `applyAwarenessUpdate`). A state not renewed within
 * `awarenessTimeoutMs` (y-protocols' `outdatedTimeout`; clients renew every
 * 15 s) expires, with the time read from the injected clock, never a timer.
 */
import * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import { fail } from '../codec/decodeError.ts'
import { decodeWith, encodeWith } from '../codec/envelope.ts'
import { readText, readUint, writeText, writeUint } from '../codec/fields.ts'
import { err, type Result } from '../lib/result.ts'
import type { Refusal } from '../ready.ts'

/** y-protocols' outdatedTimeout: a state not renewed for this long is removed. */
export const awarenessTimeoutMs = 30_000

export const awarenessLimits = {
  /** Client states a node holds over all documents (removed ones count until they expire); a new client beyond it is refused. */
  awarenessStatesMax: 4096,
  /** One awareness update, from a local client or a peer (a cursor and a user name take well under 1 KiB). */
  awarenessBytesMax: 64 * 1024,
} as const

/** One client's entry of an awareness update; `stateJson` is 'null' when the client left. */
export interface AwarenessEntry {
  readonly clientId: number
  readonly clock: number
  readonly stateJson: string
}

/** What one update or one expiry changed in a document's awareness: the entries taken, re-encoded, and the client ids by what happened. */
export interface AwarenessChange {
  readonly update: Uint8Array
  readonly added: readonly number[]
  readonly updated: readonly number[]
  readonly removed: readonly number[]
}

/** Yjs client ids are unsigned 32-bit numbers. */
const clientIdMax = 0xffff_ffff
const removedState = 'null'

export function writeAwarenessUpdate(encoder: encoding.Encoder, entries: readonly AwarenessEntry[]): void {
  writeUint(encoder, entries.length)
  for (const entry of entries) {
    writeUint(encoder, entry.clientId)
    writeUint(encoder, entry.clock)
    writeText(encoder, entry.stateJson)
  }
}

/** Reads an update of at most `bytesMax` bytes; every state must be JSON (clients parse it). */
export function readAwarenessUpdate(update: Uint8Array, bytesMax: number = awarenessLimits.awarenessBytesMax): Result<AwarenessEntry[], Refusal> {
  if (update.length > bytesMax) return err({ code: 'oversized', message: `awareness update of ${update.length} bytes, limit awarenessBytesMax=${bytesMax}` })
  const decoded = decodeWith(
    update,
    (decoder: decoding.Decoder) => {
      const count = readUint(decoder, update.length, 'awareness entries')
      const entries: AwarenessEntry[] = []
      for (let index = 0; index < count; index++) {
        const clientId = readUint(decoder, clientIdMax, 'awareness client id')
        const clock = readUint(decoder, Number.MAX_SAFE_INTEGER, 'awareness clock')
        const stateJson = readText(decoder, bytesMax, 'awareness state')
        try {
          JSON.parse(stateJson)
        } catch {
          fail('invalidField', `awareness state of client ${clientId} is not JSON`)
        }
        entries.push({ clientId, clock, stateJson })
      }
      return entries
    },
    'awareness update',
  )
  return decoded.ok ? decoded : err({ code: 'invalidAwareness', message: decoded.error.message })
}

interface HeldState {
  clock: number
  /** 'null': removed, kept until it expires so that an older update cannot bring the client back. */
  stateJson: string
  updatedMs: number
}

/**
 * The awareness states of every document this node relays: its own clients'
 * and its peers'. Bounded by `statesMax` over all documents (removed clients
 * count until they expire); a new client beyond it is refused.
 */
export class AwarenessTable {
  private readonly docs = new Map<string, Map<number, HeldState>>()
  private statesHeld = 0
  private readonly statesMax: number

  constructor(statesMax: number = awarenessLimits.awarenessStatesMax) {
    this.statesMax = statesMax
  }

  /** States held over all documents, removed ones included. */
  get size(): number {
    return this.statesHeld
  }

  /** Takes the entries that are news; returns what changed (null: nothing) and how many entries were refused for room. */
  apply(key: string, entries: readonly AwarenessEntry[], nowMs: number): { readonly change: AwarenessChange | null; readonly refused: number } {
    let states = this.docs.get(key)
    const taken: AwarenessEntry[] = []
    const added: number[] = []
    const updated: number[] = []
    const removed: number[] = []
    let refused = 0
    for (const entry of entries) {
      const held = states?.get(entry.clientId)
      const present = held !== undefined && held.stateJson !== removedState
      const isNews = held === undefined || held.clock < entry.clock || (held.clock === entry.clock && entry.stateJson === removedState && present)
      if (!isNews) continue
      if (held === undefined) {
        if (this.statesHeld >= this.statesMax) {
          refused++
          continue
        }
        if (states === undefined) {
          states = new Map()
          this.docs.set(key, states)
        }
        states.set(entry.clientId, { clock: entry.clock, stateJson: entry.stateJson, updatedMs: nowMs })
        this.statesHeld++
      } else {
        held.clock = entry.clock
        held.stateJson = entry.stateJson
        held.updatedMs = nowMs
      }
      taken.push(entry)
      if (entry.stateJson === removedState) {
        if (present) removed.push(entry.clientId)
      } else if (present) updated.push(entry.clientId)
      else added.push(entry.clientId)
    }
    return { change: taken.length === 0 ? null : { update: encodeWith(taken, writeAwarenessUpdate), added, updated, removed }, refused }
  }

  /**
   * Removes states not renewed within `awarenessTimeoutMs` as y-protocols
   * does (state null, clock + 1), and forgets removed clients as old. Returns
   * each document's change, for the clients that still show those states.
   */
  expire(nowMs: number): Map<string, AwarenessChange> {
    const changes = new Map<string, AwarenessChange>()
    for (const [key, states] of this.docs) {
      const taken: AwarenessEntry[] = []
      for (const [clientId, held] of states) {
        if (nowMs - held.updatedMs < awarenessTimeoutMs) continue
        if (held.stateJson === removedState) {
          states.delete(clientId)
          this.statesHeld--
          continue
        }
        held.clock++
        held.stateJson = removedState
        held.updatedMs = nowMs
        taken.push({ clientId, clock: held.clock, stateJson: removedState })
      }
      if (states.size === 0) this.docs.delete(key)
      if (taken.length > 0) changes.set(key, { update: encodeWith(taken, writeAwarenessUpdate), added: [], updated: [], removed: taken.map((entry) => entry.clientId) })
    }
    return changes
  }

  /** The time `expire` next has something to do (Infinity: no state held); read-only. */
  nextExpiryMs(): number {
    let earliest = Number.POSITIVE_INFINITY
    for (const states of this.docs.values()) for (const held of states.values()) earliest = Math.min(earliest, held.updatedMs + awarenessTimeoutMs)
    return earliest
  }

  /** The present states of a document as one update (what a server sends a client that connects), or null when there are none. */
  states(key: string): Uint8Array | null {
    const states = this.docs.get(key)
    if (states === undefined) return null
    const present: AwarenessEntry[] = []
    for (const [clientId, held] of states) if (held.stateJson !== removedState) present.push({ clientId, clock: held.clock, stateJson: held.stateJson })
    return present.length === 0 ? null : encodeWith(present, writeAwarenessUpdate)
  }
}
