/**
 * The transmit-limited queue of news (memberlist's TransmitLimitedQueue):
 * each item is piggybacked on outgoing messages, least-sent first, until it
 * has gone out `limit` times; newer news about the same member replaces the
 * older at once, so stale news never competes for space.
 */
import { newsName, type News } from './messages.ts'

interface Item {
  news: News
  transmits: number
  /** Insertion order, to prefer fresher news among equally-sent items. */
  order: number
}

export class BroadcastQueue {
  private readonly items = new Map<string, Item>()
  private nextOrder = 0
  readonly itemsMax: number

  constructor(itemsMax: number) {
    this.itemsMax = itemsMax
  }

  get length(): number {
    return this.items.size
  }

  /** Queues news, replacing any older news about the same member or key. */
  add(news: News): void {
    const name = newsName(news)
    this.items.delete(name)
    if (this.items.size >= this.itemsMax) this.dropMostSent()
    this.items.set(name, { news, transmits: 0, order: this.nextOrder++ })
  }

  /** Up to `count` items for one message, least-sent (then newest) first; each counts as one transmit. */
  take(count: number, limit: number): News[] {
    if (this.items.size === 0 || count === 0) return []
    const chosen = [...this.items.values()].sort((a, b) => a.transmits - b.transmits || b.order - a.order).slice(0, count)
    for (const item of chosen) {
      item.transmits++
      if (item.transmits >= limit) this.items.delete(newsName(item.news))
    }
    return chosen.map((item) => item.news)
  }

  private dropMostSent(): void {
    let worst: Item | undefined
    for (const item of this.items.values()) if (worst === undefined || item.transmits > worst.transmits) worst = item
    if (worst !== undefined) this.items.delete(newsName(worst.news))
  }
}

/** memberlist's retransmit limit: retransmitMult · ceil(log10(N + 1)). */
export function retransmitLimit(retransmitMult: number, members: number): number {
  return retransmitMult * Math.ceil(Math.log10(members + 1))
}
