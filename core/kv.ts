/**
 * A key-value store as a replicated state machine (Raft, PBFT): put(key, value) as commands,
 * get(key) as reads. Each put names the request that made it, so a proposer
 * can recognise its own command when it is applied.
 *
 *   command := requestId key value        reply: 1 (stored) or 0 + reason (refused: full)
 *   query   := key                        reply: 0 (absent) or 1 + value
 *   state   := count, (key value)*        keys in ascending order
 */
import * as decoding from 'lib0/decoding'
import { decodeWith, encodeWith } from './codec/envelope.ts'
import { readText, readUint, textBytes, writeText, writeUint } from './codec/fields.ts'
import { limits } from './lib/limits.ts'
import type { StateMachine } from './stateMachine.ts'

export const kvLimits = {
  /** Keys held; the state's bytes (stateBytesMax) are the tighter bound once values are large. */
  keysMax: 131_072,
  keyBytesMax: 64,
  valueBytesMax: limits.valueBytesMax,
  requestIdBytesMax: 64,
  /** Key and value bytes held, with a length prefix each: the snapshot is one message. */
  stateBytesMax: limits.stateBytesMax,
} as const

/** What one pair adds to the state: its key and value with their length prefixes. */
function pairBytes(key: string, value: string): number {
  return textBytes(key) + textBytes(value) + 8
}

export interface KvPut {
  readonly requestId: string
  readonly key: string
  readonly value: string
}

export function writeKvPut(put: KvPut): Uint8Array {
  return encodeWith(put, (encoder, { requestId, key, value }) => {
    writeText(encoder, requestId)
    writeText(encoder, key)
    writeText(encoder, value)
  })
}

export function readKvPut(bytes: Uint8Array): KvPut | undefined {
  const decoded = decodeWith(
    bytes,
    (decoder) => {
      const requestId = readText(decoder, kvLimits.requestIdBytesMax, 'request id')
      const key = readText(decoder, kvLimits.keyBytesMax, 'key')
      return { requestId, key, value: readText(decoder, kvLimits.valueBytesMax, 'value') }
    },
    'kv put',
  )
  return decoded.ok ? decoded.value : undefined
}

export function writeKvGet(key: string): Uint8Array {
  return encodeWith(key, writeText)
}

/** A get's reply: the value, or null when the key is absent. */
export function readKvValue(reply: Uint8Array): string | null {
  const decoded = decodeWith(reply, (decoder) => (readUint(decoder, 1, 'present flag') === 1 ? readText(decoder, kvLimits.valueBytesMax, 'value') : null), 'kv reply')
  return decoded.ok ? decoded.value : null
}

const stored = Uint8Array.of(1)
const refusedFull = refusal(`keysMax is ${kvLimits.keysMax}`)
const refusedMalformed = refusal('malformed put')

function refusal(reason: string): Uint8Array {
  return encodeWith(reason, (encoder, held) => {
    writeUint(encoder, 0)
    writeText(encoder, held)
  })
}

export class KvStateMachine implements StateMachine {
  private readonly values = new Map<string, string>()
  private stateBytes = 0

  get(key: string): string | undefined {
    return this.values.get(key)
  }

  apply(command: Uint8Array): Uint8Array {
    const put = readKvPut(command)
    if (put === undefined) return refusedMalformed
    const held = this.values.get(put.key)
    if (held === undefined && this.values.size >= kvLimits.keysMax) return refusedFull
    const stateBytes = this.stateBytes - (held === undefined ? 0 : pairBytes(put.key, held)) + pairBytes(put.key, put.value)
    if (stateBytes > kvLimits.stateBytesMax) return refusal(`state would be ${stateBytes} bytes; stateBytesMax is ${kvLimits.stateBytesMax}`)
    this.values.set(put.key, put.value)
    this.stateBytes = stateBytes
    return stored
  }

  query(query: Uint8Array): Uint8Array {
    const key = decodeWith(query, (decoder) => readText(decoder, kvLimits.keyBytesMax, 'key'), 'kv get')
    const value = key.ok ? this.values.get(key.value) : undefined
    return encodeWith(value, (encoder, held) => {
      writeUint(encoder, held === undefined ? 0 : 1)
      if (held !== undefined) writeText(encoder, held)
    })
  }

  snapshot(): Uint8Array {
    const keys = [...this.values.keys()].sort()
    return encodeWith(keys, (encoder, sorted) => {
      writeUint(encoder, sorted.length)
      for (const key of sorted) {
        writeText(encoder, key)
        writeText(encoder, this.values.get(key)!)
      }
    })
  }

  restore(data: Uint8Array): void {
    this.values.clear()
    this.stateBytes = 0
    if (data.length === 0) return
    const decoder = decoding.createDecoder(data)
    const count = readUint(decoder, kvLimits.keysMax, 'keys')
    for (let index = 0; index < count; index++) {
      const key = readText(decoder, kvLimits.keyBytesMax, 'key')
      const value = readText(decoder, kvLimits.valueBytesMax, 'value')
      this.values.set(key, value)
      this.stateBytes += pairBytes(key, value)
    }
  }
}
