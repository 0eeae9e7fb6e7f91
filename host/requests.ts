/**
 * Request correlation: a client call gets a refusal or exactly one reply.
 * The kernel opens an entry per accepted call, keyed by a request id it hands
 * the engine; the engine's reply settles it once. A reply whose id is not open
 * (settled already, or from an earlier incarnation) is counted, never
 * delivered twice.
 */
import { assertIntInRange } from '../core/index.ts'

export const requestLimits = {
  /** Client calls waiting for a reply at once on one node; beyond it calls are refused (overloaded). */
  inFlightMax: 65_536,
} as const

export class RequestTable<R> {
  private readonly waiting = new Map<number, (reply: R) => void>()
  private readonly inFlightMax: number
  private nextId = 1
  private unmatched = 0

  constructor(inFlightMax: number = requestLimits.inFlightMax) {
    this.inFlightMax = assertIntInRange(inFlightMax, 1, requestLimits.inFlightMax, 'inFlightMax')
  }

  get inFlight(): number {
    return this.waiting.size
  }

  /** Replies that matched no open request. */
  get repliesUnmatched(): number {
    return this.unmatched
  }

  /** Opens a request; its id, or null when `inFlightMax` are waiting already. */
  open(onReply: (reply: R) => void): number | null {
    if (this.waiting.size >= this.inFlightMax) return null
    const id = this.nextId++
    this.waiting.set(id, onReply)
    return id
  }

  /** Drops every open request unanswered (the process is gone); returns how many there were. */
  dropAll(): number {
    const dropped = this.waiting.size
    this.waiting.clear()
    return dropped
  }

  /** Takes the callback of request `id` out of the table (exactly once); null when it is not open. */
  settle(id: number): ((reply: R) => void) | null {
    const onReply = this.waiting.get(id)
    if (onReply === undefined) {
      this.unmatched++
      return null
    }
    this.waiting.delete(id)
    return onReply
  }
}
