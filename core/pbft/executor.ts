/**
 * What a PBFT replica executes into: the injected state machine and the table
 * of each client's last executed request and its result. The table makes
 * execution at-most-once per client (a request at or below the client's last
 * timestamp is answered from the table, never applied again), and it is part
 * of the checkpointed state, so a replica that catches up by state transfer
 * keeps that promise too. The table is bounded in clients and bytes; beyond
 * either, the least recently executed client is forgotten (a retry of its last
 * request would then execute again), the same one on every replica.
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

/** Bytes one client's entry takes in the state, at most (key, timestamp and result with their length prefixes). */
function entryBytes(key: string, result: Uint8Array): number {
  return key.length * 3 + result.length + 24
}

export class Executor {
  private readonly machine: StateMachine
  /** By client key, least recently executed first (re-inserted on every execution), so eviction is deterministic. */
  private readonly clients = new Map<string, ClientEntry>()
  /** An upper bound of the client table's bytes in the state, kept under `pbftLimits.clientTableBytesMax`. */
  private tableBytes = 0

  constructor(machine: StateMachine) {
    this.machine = machine
  }

  /** Executes a request at most once; `apply` runs it (the state machine's apply unless the engine runs it itself, as a reconfiguration). */
  execute(key: string, timestamp: number, operation: Uint8Array, apply?: (operation: Uint8Array) => Uint8Array): Execution {
    const last = this.clients.get(key)
    if (last !== undefined && timestamp <= last.timestamp) return timestamp === last.timestamp ? { outcome: 'repeated', result: last.result } : { outcome: 'stale' }
    const result = apply === undefined ? this.machine.apply(operation) : apply(operation)
    if (last !== undefined) this.forget(key, last)
    this.clients.set(key, { timestamp, result })
    this.tableBytes += entryBytes(key, result)
    // Every replica evicts the same clients (the least recently executed), so replicas stay equal and the
    // state stays within what one state-transfer message carries.
    while (this.clients.size > pbftLimits.clientsMax || this.tableBytes > pbftLimits.clientTableBytesMax) {
      const [oldest, entry] = this.clients.entries().next().value!
      this.forget(oldest, entry)
    }
    return { outcome: 'applied', result }
  }

  private forget(key: string, entry: ClientEntry): void {
    this.clients.delete(key)
    this.tableBytes -= entryBytes(key, entry.result)
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
    this.tableBytes = 0
    for (const [key, entry] of decoded.value.clients) {
      this.clients.set(key, entry)
      this.tableBytes += entryBytes(key, entry.result)
    }
    this.machine.restore(decoded.value.machine)
    return true
  }
}
