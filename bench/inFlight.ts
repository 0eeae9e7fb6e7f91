/**
 * The in-process network of the engine benches: messages sent and not yet
 * delivered, oldest first, each with its sender. The engines' own message
 * objects are kept, never copied, so the figures are the engines' cost.
 */
import type { NodeId } from '../core/ports.ts'
import type { Outbound } from '../core/ready.ts'

/** Delivered messages are dropped from the front this often: the queue need not run empty between commands. */
const compactAfterMessages = 4096

export class InFlight<M> {
  /** `outbound[head..]` wait, each sent by `senders[i]`. */
  private outbound: Outbound<M>[] = []
  private senders: NodeId[] = []
  private head = 0

  /** Queues one message: the transport port of the kernel's driver loop. */
  send(from: NodeId, to: NodeId, message: M): void {
    this.outbound.push({ to, message })
    this.senders.push(from)
  }

  /** Hands the oldest message to `deliver`; false when none waits. */
  deliverOne(deliver: (from: NodeId, to: NodeId, message: M) => void): boolean {
    const head = this.head
    if (head === this.outbound.length) {
      if (head > 0) {
        this.outbound.length = 0
        this.senders.length = 0
        this.head = 0
      }
      return false
    }
    const { to, message } = this.outbound[head]!
    const from = this.senders[head]!
    this.head = head + 1
    if (this.head >= compactAfterMessages) {
      this.outbound = this.outbound.slice(this.head)
      this.senders = this.senders.slice(this.head)
      this.head = 0
    }
    deliver(from, to, message)
    return true
  }
}
