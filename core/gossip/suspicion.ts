/**
 * Suspicions in progress, after memberlist's suspicion.go but driven by ticks
 * instead of a timer: a suspect is declared dead once its suspicion's deadline
 * passes without a refutation.
 *
 * Lifeguard starts the deadline long (maxTicks) and shrinks it towards
 * minTicks as independent members confirm the suspicion, on a log scale:
 *
 *   timeout = max - (max - min) · log(confirmations + 1) / log(expected + 1),   at least min
 *
 * Only the first `expected` confirmations count (more would not shorten it
 * further, and passing them on would only flood the cluster with news).
 */
import type { NodeId } from '../ports.ts'

/** How long a suspicion lasts, from the cluster as it is now (the owner recomputes it as members come and go). */
export interface SuspicionTimeout {
  /** The shortest a suspicion lasts: time for the suspect to hear of it and refute. */
  readonly minTicks: number
  /** The longest, with no confirmation (minTicks when Lifeguard is off). */
  readonly maxTicks: number
  /** Independent confirmations that bring it down to minTicks; below 1, it lasts minTicks. */
  readonly confirmationsExpected: number
}

/** A suspicion as status() shows it. */
export interface SuspicionStatus {
  readonly member: NodeId
  /** Who raised it, then who confirmed it, in that order. */
  readonly accusers: readonly NodeId[]
  readonly startTick: number
  /** When the suspect is declared dead unless it refutes. */
  readonly deadlineTick: number
}

/** memberlist's remainingSuspicionTime, as a whole duration in ticks. */
export function suspicionTimeoutTicks(confirmations: number, timeout: SuspicionTimeout): number {
  const { minTicks, maxTicks, confirmationsExpected } = timeout
  if (confirmationsExpected < 1) return minTicks
  const shrunk = maxTicks - ((maxTicks - minTicks) * Math.log(confirmations + 1)) / Math.log(confirmationsExpected + 1)
  return Math.max(minTicks, Math.floor(shrunk))
}

interface Suspicion {
  readonly startTick: number
  /** The accuser first, then each independent confirmer. */
  readonly accusers: Set<NodeId>
  deadlineTick: number
}

const noneExpired: readonly NodeId[] = []

export class Suspicions {
  private readonly byMember = new Map<NodeId, Suspicion>()
  /** No suspicion is due before this tick (may be early, never late): most ticks skip the walk. */
  private earliestDeadlineTick = Number.POSITIVE_INFINITY

  get size(): number {
    return this.byMember.size
  }

  /** `accuser` suspects `member` from `nowTick` on (replacing any suspicion held of it). */
  start(member: NodeId, accuser: NodeId, nowTick: number, timeout: SuspicionTimeout): void {
    const suspicion: Suspicion = { startTick: nowTick, accusers: new Set([accuser]), deadlineTick: 0 }
    this.setDeadline(suspicion, timeout)
    this.byMember.set(member, suspicion)
  }

  /**
   * Another member suspects `member` too. True when it counts (a suspicion is
   * held, the confirmer is new, and fewer than `confirmationsExpected` came
   * before): the deadline moves earlier, and the owner passes the news on.
   */
  confirm(member: NodeId, confirmer: NodeId, timeout: SuspicionTimeout): boolean {
    const suspicion = this.byMember.get(member)
    if (suspicion === undefined || suspicion.accusers.size - 1 >= timeout.confirmationsExpected || suspicion.accusers.has(confirmer)) return false
    suspicion.accusers.add(confirmer)
    this.setDeadline(suspicion, timeout)
    return true
  }

  /** Drops the suspicion of `member` (it refuted, or is known dead or gone). */
  delete(member: NodeId): void {
    this.byMember.delete(member)
  }

  /** Removes and returns the members whose suspicion is due at `nowTick`, oldest suspicion first. */
  expire(nowTick: number): readonly NodeId[] {
    if (nowTick < this.earliestDeadlineTick) return noneExpired
    const expired: NodeId[] = []
    let earliest = Number.POSITIVE_INFINITY
    for (const [member, suspicion] of this.byMember) {
      if (nowTick < suspicion.deadlineTick) {
        earliest = Math.min(earliest, suspicion.deadlineTick)
        continue
      }
      this.byMember.delete(member)
      expired.push(member)
    }
    this.earliestDeadlineTick = earliest
    return expired
  }

  /** The tick of the earliest deadline held (Infinity: none); read-only. */
  nextDeadlineTick(): number {
    let earliest = Number.POSITIVE_INFINITY
    for (const suspicion of this.byMember.values()) earliest = Math.min(earliest, suspicion.deadlineTick)
    return earliest
  }

  status(): SuspicionStatus[] {
    return [...this.byMember].map(([member, suspicion]) => ({ member, accusers: [...suspicion.accusers], startTick: suspicion.startTick, deadlineTick: suspicion.deadlineTick }))
  }

  private setDeadline(suspicion: Suspicion, timeout: SuspicionTimeout): void {
    suspicion.deadlineTick = suspicion.startTick + suspicionTimeoutTicks(suspicion.accusers.size - 1, timeout)
    this.earliestDeadlineTick = Math.min(this.earliestDeadlineTick, suspicion.deadlineTick)
  }
}
