/**
 * Yjs documents as a CRDT type, with yjs itself: the state is a Y.Doc
 * (garbage collection on), a delta is a Yjs update, join applies an update,
 * and sync uses state vectors and diff updates as y-protocols does, so
 * existing Yjs clients can take part.
 *
 * Determinism: a Y.Doc draws a random client id when created; it is replaced
 * at once by one derived from the replica and the key, so every edit a
 * replica makes carries the same client id in every run. Edits leave a node
 * only after they are durable (the engine persists before it sends), so a
 * restarted replica never reuses a clock value another replica has seen.
 */
import * as Y from 'yjs'
import { fnv1a32String } from '../lib/hash.ts'
import { limits } from '../lib/limits.ts'
import { err, ok, type Result } from '../lib/result.ts'

export const docLimits = {
  /**
   * One Yjs update accepted from a client or a peer, and so a document's whole
   * state (limits.docBytesMax); above a frame it travels chunked (core/codec/chunks.ts).
   */
  updateBytesMax: limits.docBytesMax,
  /** The text type every DWCP document exposes for plain edits. */
  textName: 'text',
} as const

export interface DocRefusal {
  readonly code: 'invalidUpdate' | 'tooLarge' | 'outOfRange'
  readonly message: string
}

export function createDoc(key: string, replica: string): Y.Doc {
  const doc = new Y.Doc({ gc: true, guid: key })
  doc.clientID = clientIdOf(key, replica)
  return doc
}

/** Yjs needs a nonzero 32-bit id; distinct replicas get distinct ids with overwhelming likelihood. */
function clientIdOf(key: string, replica: string): number {
  return (fnv1a32String(`${replica}/${key}`) >>> 1) + 1
}

/**
 * A document loaded from a full state (recovery, or a key first seen from a
 * peer). The state may hold this replica's own earlier edits; Yjs would take a
 * remote update that advances its own client id as a clash and pick a random
 * new id, so the state is loaded under another id and ours is set after.
 */
export function loadDoc(key: string, replica: string, state: Uint8Array): Result<Y.Doc, DocRefusal> {
  const loaded = loadDocUpdates(key, replica, [state])
  return loaded.doc === null ? err(loaded.refusals[0]!) : ok(loaded.doc)
}

/**
 * A document loaded from stored records (a base and the updates after it),
 * all under the other id as `loadDoc` does. A malformed update is skipped
 * (counted in `refusals`) and the rest applied; null when none applied.
 */
export function loadDocUpdates(key: string, replica: string, updates: readonly Uint8Array[]): { readonly doc: Y.Doc | null; readonly refusals: readonly DocRefusal[] } {
  const own = clientIdOf(key, replica)
  const doc = new Y.Doc({ gc: true, guid: key })
  doc.clientID = own === 1 ? 2 : own - 1
  const refusals: DocRefusal[] = []
  for (const update of updates) {
    const applied = applyDocUpdate(doc, update)
    if (!applied.ok) refusals.push(applied.error)
  }
  doc.clientID = own
  return { doc: refusals.length === updates.length ? null : doc, refusals }
}

/** Applies a remote or client update; a malformed update is refused and changes nothing. */
export function applyDocUpdate(doc: Y.Doc, update: Uint8Array): Result<void, DocRefusal> {
  const checked = checkDocUpdate(update)
  if (!checked.ok) return checked
  Y.applyUpdate(doc, update)
  return ok(undefined)
}

/** Parses an update without applying it: Yjs could apply part of a broken update before it throws. */
export function checkDocUpdate(update: Uint8Array): Result<void, DocRefusal> {
  if (update.length > docLimits.updateBytesMax) return err({ code: 'tooLarge', message: `update is ${update.length} bytes; docBytesMax is ${docLimits.updateBytesMax}` })
  try {
    Y.decodeUpdate(update)
    return ok(undefined)
  } catch (error) {
    return err({ code: 'invalidUpdate', message: `not a Yjs update: ${(error as Error).message}` })
  }
}

/** Runs an edit and returns its delta: the update from the state before to the state after. */
export function editDoc(doc: Y.Doc, edit: (text: Y.Text) => void): Uint8Array {
  const before = Y.encodeStateVector(doc)
  doc.transact(() => edit(doc.getText(docLimits.textName)))
  return Y.encodeStateAsUpdate(doc, before)
}

export function insertText(doc: Y.Doc, index: number, text: string): Result<Uint8Array, DocRefusal> {
  const length = doc.getText(docLimits.textName).length
  if (!Number.isInteger(index) || index < 0 || index > length) return err({ code: 'outOfRange', message: `insert at ${index} in text of length ${length}` })
  return ok(editDoc(doc, (shared) => shared.insert(index, text)))
}

export function deleteText(doc: Y.Doc, index: number, count: number): Result<Uint8Array, DocRefusal> {
  const length = doc.getText(docLimits.textName).length
  if (!Number.isInteger(index) || !Number.isInteger(count) || index < 0 || count < 1 || index + count > length) {
    return err({ code: 'outOfRange', message: `delete ${count} at ${index} in text of length ${length}` })
  }
  return ok(editDoc(doc, (shared) => shared.delete(index, count)))
}

export function docText(doc: Y.Doc): string {
  return doc.getText(docLimits.textName).toString()
}

export function encodeDocState(doc: Y.Doc): Uint8Array {
  return Y.encodeStateAsUpdate(doc)
}

/** What `remoteStateVector` lacks: the diff update of the Yjs sync protocol. */
export function docDiff(doc: Y.Doc, remoteStateVector: Uint8Array): Uint8Array {
  return Y.encodeStateAsUpdate(doc, remoteStateVector)
}

export function docStateVector(doc: Y.Doc): Uint8Array {
  return Y.encodeStateVector(doc)
}

/** The state vector of an empty document (no clients), without creating one (a Y.Doc draws a random id). */
export function emptyDocStateVector(): Uint8Array {
  return Uint8Array.of(0)
}

/** An update that holds nothing (no structs, no deletions): what an empty document sends anyone. */
export function emptyDocUpdate(): Uint8Array {
  return Uint8Array.of(0, 0)
}

/** Joins several updates into one (a delta group). */
export function mergeDocUpdates(updates: readonly Uint8Array[]): Uint8Array {
  return updates.length === 1 ? updates[0]! : Y.mergeUpdates([...updates])
}

/**
 * A canonical text of the document's causal state: state vector and delete
 * set, both sorted and with adjacent deleted ranges merged. Equal for equal
 * states whatever order the updates came in (Yjs's own encodings may differ).
 */
export function docCanonicalState(doc: Y.Doc): string {
  const snapshot = Y.snapshot(doc)
  const clocks = [...snapshot.sv.entries()].sort((a, b) => a[0] - b[0]).map(([client, clock]) => `${client}:${clock}`)
  const deleted: string[] = []
  for (const client of [...snapshot.ds.clients.keys()].sort((a, b) => a - b)) {
    const ranges = [...snapshot.ds.clients.get(client)!].sort((a, b) => a.clock - b.clock)
    let start = -1
    let end = -1
    for (const range of ranges) {
      if (range.clock <= end) end = Math.max(end, range.clock + range.len)
      else {
        if (start >= 0) deleted.push(`${client}:${start}-${end}`)
        start = range.clock
        end = range.clock + range.len
      }
    }
    if (start >= 0) deleted.push(`${client}:${start}-${end}`)
  }
  return `sv ${clocks.join(',')} ds ${deleted.join(',')}`
}
