/**
 * The driver loop of core/ready.ts, written once for every host: take each
 * Ready, persist (and sync when it must), send, hand the results on, advance;
 * again until the engine has nothing more (`hasReady()` false).
 */
import { assertFailed, type Engine, type Ready } from '../core/index.ts'
import type { StorageWriter, Transport } from './ports.ts'

export interface DriverPorts<M, A, E> {
  readonly storage: StorageWriter
  readonly transport: Transport<M>
  /** Step 3 (apply) and the events: called after persist and send, before advance. */
  handled(ready: Ready<M, A, E>): void
}

export const driverLimits = {
  /**
   * Readies one drive may take. An engine answers one input with a few
   * Readies (its answers come in the one after advance); thousands mean it
   * never goes idle, a bug that would otherwise hang the host.
   */
  readiesPerDriveMax: 10_000,
} as const

/** Drives `engine` until idle; returns how many Readies it handled. */
export function driveUntilIdle<C, M, A, E>(engine: Engine<C, M, A, E>, ports: DriverPorts<M, A, E>): number {
  let readies = 0
  while (engine.hasReady()) {
    if (++readies > driverLimits.readiesPerDriveMax) assertFailed(`engine ${engine.id} still has a Ready after ${driverLimits.readiesPerDriveMax}: it never goes idle`)
    const ready = engine.ready()
    const { writes, messages } = ready
    // 1. persist, and sync before anything that may promise durability leaves.
    for (let index = 0; index < writes.length; index++) ports.storage.write(writes[index]!)
    if (ready.mustSync) ports.storage.sync()
    // 2. send.
    for (let index = 0; index < messages.length; index++) ports.transport.send(messages[index]!.to, messages[index]!.message)
    // 3. apply (and observe).
    ports.handled(ready)
    // 4. advance.
    engine.advance(ready)
  }
  return readies
}
