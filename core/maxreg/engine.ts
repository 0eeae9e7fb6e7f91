/**
 * A replicated max-register: the smallest engine that exercises the whole
 * engine contract (persist, send, apply, advance), so the simulator and its
 * checkers can be proven end to end before the real engines exist.
 *
 * Every node holds one number. A client write of x makes the node's value
 * max(value, x); it is acknowledged only once synced to storage. Nodes gossip
 * their value to `fanout` random peers every `gossipTicks` ticks (push); a peer
 * with a higher value answers (pull), so any two nodes that can talk converge.
 *
 * Storage: acknowledged values go to two alternating slots, synced; values
 * learned from peers go to a third key unsynced, because peers can repair them.
 */
import { assert } from '../lib/assert.ts'
import { PeerList } from '../lib/peers.ts'
import type { Rng } from '../lib/prng.ts'
import type { NodeId, StorageReader, StorageWrite } from '../ports.ts'
import { emptyReady, ReadyBuffer, type Engine, type Ready, type Refusal } from '../ready.ts'
import { defaultMaxRegConfig, maxRegValueMax, type MaxRegConfig } from './config.ts'
import type { MaxRegMessage } from './messages.ts'
import { readMaxRegRecord, writeMaxRegRecord } from './record.ts'

export interface MaxRegWrite {
  readonly requestId: number
  readonly value: number
}

/** An acknowledgement: the node's value is now durably at least `value`. */
export interface MaxRegAck {
  readonly requestId: number
  readonly value: number
}

export type MaxRegEvent = { readonly kind: 'recovered'; readonly value: number; readonly recordsDropped: number } | { readonly kind: 'adopted'; readonly value: number; readonly from: NodeId }

/** What a max-register node shows of itself (plain data, a copy). */
export interface MaxRegStatus {
  readonly id: NodeId
  /** The node's value: the highest it wrote or learned. */
  readonly value: number
  /** The highest value it acknowledged (synced): never goes back, even across restarts. */
  readonly acked: number
  /** How many acknowledged values it stored (the slot sequence of maxRegKeys.ackedSlots). */
  readonly ackedSequence: number
}

export const maxRegKeys = {
  ackedSlots: ['maxreg/acked/0', 'maxreg/acked/1'],
  learned: 'maxreg/learned',
} as const

export interface MaxRegOptions {
  readonly id: NodeId
  readonly peers: readonly NodeId[]
  readonly storage: StorageReader
  readonly rng: Rng
  readonly config?: MaxRegConfig
}

export class MaxRegEngine implements Engine<MaxRegWrite, MaxRegMessage, MaxRegAck, MaxRegEvent> {
  readonly id: NodeId
  private readonly peers: PeerList
  private readonly rng: Rng
  private readonly config: MaxRegConfig
  private current = 0
  /** Highest value acknowledged (synced) by this node: never goes back, even across restarts. */
  private acked = 0
  private ackedSequence = 0
  private ticksSinceGossip = 0
  /** What the next Ready will hold; handed out by `ready()`, valid until `advance()` (as in etcd). */
  private readonly out = new ReadyBuffer<MaxRegMessage, MaxRegAck, MaxRegEvent>()
  private writes: StorageWrite[] = []
  private mustSync = false

  constructor(options: MaxRegOptions) {
    this.id = options.id
    this.peers = new PeerList(options.peers, options.id)
    this.rng = options.rng
    this.config = options.config ?? defaultMaxRegConfig
    assert(this.config.fanout >= 1 && this.config.gossipTicks >= 1, 'maxreg config needs fanout >= 1 and gossipTicks >= 1')
    this.recover(options.storage)
  }

  status(): MaxRegStatus {
    return { id: this.id, value: this.current, acked: this.acked, ackedSequence: this.ackedSequence }
  }

  private recover(storage: StorageReader): void {
    let recordsDropped = 0
    for (const key of [...maxRegKeys.ackedSlots, maxRegKeys.learned]) {
      const bytes = storage.get(key)
      if (bytes === undefined) continue
      const record = readMaxRegRecord(bytes)
      if (!record.ok) {
        recordsDropped++
        continue
      }
      if (key !== maxRegKeys.learned && record.value.sequence >= this.ackedSequence) {
        this.ackedSequence = record.value.sequence
        this.acked = Math.max(this.acked, record.value.value)
      }
      this.current = Math.max(this.current, record.value.value)
    }
    this.out.events.push({ kind: 'recovered', value: this.current, recordsDropped })
  }

  step(from: NodeId, message: MaxRegMessage): Refusal | null {
    this.out.assertIdle('step')
    if (!Number.isSafeInteger(message.value) || message.value < 0) {
      return { code: 'invalidValue', message: `value ${message.value} is not a non-negative safe integer` }
    }
    if (message.value > this.current) {
      this.current = message.value
      this.writes.push({ key: maxRegKeys.learned, value: writeMaxRegRecord({ sequence: 0, value: message.value }) })
      this.out.events.push({ kind: 'adopted', value: message.value, from })
    } else if (message.type === 'push' && message.value < this.current) {
      this.send(from, { type: 'reply', value: this.current })
    }
    return null
  }

  tick(): void {
    this.out.assertIdle('tick')
    this.ticksSinceGossip++
    const others = this.peers.othersCount
    if (this.ticksSinceGossip < this.config.gossipTicks || others === 0) return
    this.ticksSinceGossip = 0
    const count = Math.min(this.config.fanout, others)
    for (let i = 0; i < count; i++) this.send(this.peers.randomOther(this.rng), { type: 'push', value: this.current })
  }

  propose(command: MaxRegWrite): Refusal | null {
    this.out.assertIdle('propose')
    if (!Number.isSafeInteger(command.value) || command.value < 0 || command.value > maxRegValueMax) {
      return { code: 'invalidValue', message: `value ${command.value} is not a non-negative safe integer` }
    }
    if (this.out.applied.length >= this.config.pendingAcksMax) {
      return { code: 'overloaded', message: `pendingAcksMax=${this.config.pendingAcksMax} acknowledgements wait for the host` }
    }
    if (command.value > this.acked) {
      this.current = Math.max(this.current, command.value)
      this.acked = command.value
      this.ackedSequence++
      const slot = maxRegKeys.ackedSlots[this.ackedSequence % 2]!
      this.writes.push({ key: slot, value: writeMaxRegRecord({ sequence: this.ackedSequence, value: this.acked }) })
      this.mustSync = true
    }
    this.out.applied.push({ requestId: command.requestId, value: this.current })
    return null
  }

  private send(to: NodeId, message: MaxRegMessage): void {
    this.out.send(to, message, this.config.outboxMessagesMax)
  }

  hasReady(): boolean {
    return !this.out.isHandedOut && (this.writes.length > 0 || this.out.hasPending)
  }

  ready(): Ready<MaxRegMessage, MaxRegAck, MaxRegEvent> {
    if (!this.out.isHandedOut && !this.hasReady()) return emptyReady
    const writes = this.writes
    // Fresh arrays only where something was handed out (cheaper in V8 than truncating).
    if (writes.length > 0) this.writes = []
    const mustSync = this.mustSync
    this.mustSync = false
    return this.out.handOut(writes, mustSync)
  }

  advance(ready: Ready<MaxRegMessage, MaxRegAck, MaxRegEvent>): void {
    this.out.advance(ready)
  }
}
