/**
 * The y-protocols messages of a y-websocket connection (DESIGN §9), read and
 * written with lib0 as y-protocols does, without a Y.Doc: the replica holds
 * the document and answers with state vectors and diffs.
 *
 *   message   := varuint type, body
 *   sync (0)  := varuint step, varUint8Array payload   step 0: state vector; 1: diff; 2: update
 *   awareness (1)       := varUint8Array update (y-protocols awareness encoding)
 *   auth (2)            := varuint 0 (permission denied), varString reason
 *   queryAwareness (3)  := (empty)
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'

export const yMessageTypes = { sync: 0, awareness: 1, auth: 2, queryAwareness: 3 } as const
export const ySyncSteps = { step1: 0, step2: 1, update: 2 } as const
const permissionDenied = 0

export type YMessage =
  /** The sender's state vector: answer with what it lacks (a step2). */
  | { readonly kind: 'syncStep1'; readonly stateVector: Uint8Array }
  /** What the receiver lacked, as a Yjs update. */
  | { readonly kind: 'syncStep2'; readonly update: Uint8Array }
  | { readonly kind: 'update'; readonly update: Uint8Array }
  | { readonly kind: 'awareness'; readonly update: Uint8Array }
  | { readonly kind: 'queryAwareness' }
  | { readonly kind: 'permissionDenied'; readonly reason: string }

export function writeYMessage(message: YMessage): Uint8Array<ArrayBuffer> {
  const encoder = encoding.createEncoder()
  switch (message.kind) {
    case 'syncStep1':
      encoding.writeVarUint(encoder, yMessageTypes.sync)
      encoding.writeVarUint(encoder, ySyncSteps.step1)
      encoding.writeVarUint8Array(encoder, message.stateVector)
      break
    case 'syncStep2':
    case 'update':
      encoding.writeVarUint(encoder, yMessageTypes.sync)
      encoding.writeVarUint(encoder, message.kind === 'syncStep2' ? ySyncSteps.step2 : ySyncSteps.update)
      encoding.writeVarUint8Array(encoder, message.update)
      break
    case 'awareness':
      encoding.writeVarUint(encoder, yMessageTypes.awareness)
      encoding.writeVarUint8Array(encoder, message.update)
      break
    case 'queryAwareness':
      encoding.writeVarUint(encoder, yMessageTypes.queryAwareness)
      break
    case 'permissionDenied':
      encoding.writeVarUint(encoder, yMessageTypes.auth)
      encoding.writeVarUint(encoder, permissionDenied)
      encoding.writeVarString(encoder, message.reason)
      break
  }
  return encoding.toUint8Array(encoder) as Uint8Array<ArrayBuffer>
}

/** A message from a client; an Error names what is wrong with one that is not. */
export function readYMessage(bytes: Uint8Array): YMessage | Error {
  try {
    const decoder = decoding.createDecoder(bytes)
    const type = decoding.readVarUint(decoder)
    switch (type) {
      case yMessageTypes.sync: {
        const step = decoding.readVarUint(decoder)
        const payload = decoding.readVarUint8Array(decoder)
        if (step === ySyncSteps.step1) return { kind: 'syncStep1', stateVector: payload }
        if (step === ySyncSteps.step2) return { kind: 'syncStep2', update: payload }
        if (step === ySyncSteps.update) return { kind: 'update', update: payload }
        return new Error(`unknown sync step ${step}`)
      }
      case yMessageTypes.awareness:
        return { kind: 'awareness', update: decoding.readVarUint8Array(decoder) }
      case yMessageTypes.queryAwareness:
        return { kind: 'queryAwareness' }
      case yMessageTypes.auth: {
        const auth = decoding.readVarUint(decoder)
        if (auth !== permissionDenied) return new Error(`unknown auth message ${auth}`)
        return { kind: 'permissionDenied', reason: decoding.readVarString(decoder) }
      }
      default:
        return new Error(`unknown message type ${type}`)
    }
  } catch (thrown) {
    return new Error(`truncated message: ${(thrown as Error).message}`)
  }
}

/** Yjs's encoding of an update that changes nothing (no structs, no deletions): what a client in sync sends as its step2. */
export function isEmptyUpdate(update: Uint8Array): boolean {
  return update.length === 2 && update[0] === 0 && update[1] === 0
}
