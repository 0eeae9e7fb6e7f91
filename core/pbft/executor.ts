/**
 * What a PBFT replica executes into: the injected state machine and the table
 * of each client's last executed request and its result. The table makes
 * execution at-most-once per client (a request at or below the client's last
 * timestamp is answered from the table, never applied again), and it is part
 * of the checkpointed state, so a replica that catches up by state transfer
 * keeps that promise too.
 *
 *   state := clientCount (client timestamp result)* machineSnapshot
 */
import * as decoding from 'lib0/decoding'
import { decodeWith, encodeWith } from '../codec/envelope.ts'
import { readBytes, readText, readUint, writeBytes, writeText, writeUint } from '../codec/fields.ts'
import type { StateMachine } from '../stateMachine.ts'
import { pbftLimits } from './config.ts'

interface ClientEntry {
  readonly timestamp: number
  readonly result: Uint8Array
}

/** What executing one request did: applied now, answered from the table (a retry), or skipped (older than the last executed). */
export type Execution = { readonly outcome: 'applied' | 'repeated'; readonly result: Uint8Array } | { readonly outcome: 'stale' }

/** A client's id everywhere: the gateway that signed its bundle, then its own id. */
export function clientKey(gateway: string, client: string): string {
  return `${gateway}/${client}`
}

export class Executor {
  private readonly machine: StateMachine
  /** By client key, least recently executed first (re-inserted on every execution), so eviction is deterministic. */
  private readonly clients = new Map<string, ClientEntry>()

  constructor(machine: StateMachine) {
    this.machine = machine
  }

  execute(key: string, timestamp: number, operation: Uint8Array): Execution {
    const last = this.clients.get(key)
    if (last !== undefined && timestamp <= last.timestamp) return timestamp === last.timestamp ? { outcome: 'repeated', result: last.result } : { outcome: 'stale' }
    const result = this.machine.apply(operation)
    if (last !== undefined) this.clients.delete(key)
    else if (this.clients.size >= pbftLimits.clientsMax) {
      // Every replica evicts the same client (the least recently executed), so replicas stay equal.
      this.clients.delete(this.clients.keys().next().value!)
    }
    this.clients.set(key, { timestamp, result })
    return { outcome: 'applied', result }
  }

  /** The last executed timestamp of a client, or -1. */
  lastTimestamp(key: string): number {
    return this.clients.get(key)?.timestamp ?? -1
  }

  /** The last result of a client at `timestamp`, if that is its last executed request. */
  resultAt(key: string, timestamp: number): Uint8Array | undefined {
    const last = this.clients.get(key)
    return last !== undefined && last.timestamp === timestamp ? last.result : undefined
  }

  query(query: Uint8Array): Uint8Array {
    return this.machine.query(query)
  }

  /** The whole executed state, as checkpoints digest it and state transfer carries it. */
  snapshot(): Uint8Array {
    return encodeWith(this, (encoder, executor) => {
      writeUint(encoder, executor.clients.size)
      for (const [key, entry] of executor.clients) {
        writeText(encoder, key)
        writeUint(encoder, entry.timestamp)
        writeBytes(encoder, entry.result)
      }
      writeBytes(encoder, executor.machine.snapshot())
    })
  }

  /** Replaces the state with a snapshot's; false (and nothing changed) when it does not decode. */
  restore(state: Uint8Array): boolean {
    const decoded = decodeWith(
      state,
      (decoder: decoding.Decoder) => {
        const count = readUint(decoder, pbftLimits.clientsMax, 'clients')
        const clients: [string, ClientEntry][] = []
        for (let index = 0; index < count; index++) {
          const key = readText(decoder, pbftLimits.clientIdBytesMax * 2 + 1, 'client')
          const timestamp = readUint(decoder, Number.MAX_SAFE_INTEGER, 'timestamp')
          clients.push([key, { timestamp, result: readBytes(decoder, pbftLimits.resultBytesMax, 'result') }])
        }
        return { clients, machine: readBytes(decoder, pbftLimits.stateBytesMax, 'machine state') }
      },
      'pbft state',
    )
    if (!decoded.ok) return false
    this.clients.clear()
    for (const [key, entry] of decoded.value.clients) this.clients.set(key, entry)
    this.machine.restore(decoded.value.machine)
    return true
  }
}
