/**
 * The transmit-limited queue of news (memberlist's TransmitLimitedQueue):
 * each item is piggybacked on outgoing messages, least-sent first and, among
 * equally-sent items, newest first, until it has gone out `limit` times.
 * Newer news under the same name (member or update key) replaces the older
 * at once, so stale news never competes for space.
 *
 * Items sit in one linked list per transmit count, so adding, replacing and
 * taking cost O(1) per item whatever the queue's length.
 */
import type { News } from './messages.ts'

interface Item {
  /** The member the news is about, or the update's key (one namespace each, see `names`). */
  readonly name: string
  news: News
  transmits: number
  newer: Item | null
  older: Item | null
}

/** Items sent `transmits` times, newest at the head. */
interface Bucket {
  newest: Item | null
  oldest: Item | null
}

export class BroadcastQueue {
  private readonly buckets: Bucket[] = []
  /** Items by member and by update key: the raw strings, whose hashes the runtime keeps, instead of a built name per call. */
  private readonly byMember = new Map<string, Item>()
  private readonly byKey = new Map<string, Item>()
  private readonly scratch: Item[] = []
  readonly itemsMax: number

  constructor(itemsMax: number) {
    this.itemsMax = itemsMax
  }

  get length(): number {
    return this.byMember.size + this.byKey.size
  }

  /** Queues news, replacing any older news about the same member or key. */
  add(news: News): void {
    const names = this.names(news)
    const name = news.kind === 'update' ? news.key : news.member
    let item = names.get(name)
    if (item !== undefined) {
      this.detach(item)
      item.news = news
      item.transmits = 0
    } else {
      if (this.length >= this.itemsMax) this.dropMostSent()
      item = { name, news, transmits: 0, newer: null, older: null }
      names.set(name, item)
    }
    this.pushNewest(item)
  }

  /** Up to `count` items for one message, least-sent and then newest first; each counts as one transmit. */
  take(count: number, limit: number): News[] {
    // Collected first and moved after: a moved item lands in the next bucket, which the walk has yet to visit.
    const taken = this.scratch
    taken.length = 0
    for (let transmits = 0; transmits < this.buckets.length && taken.length < count; transmits++) {
      for (let item = this.buckets[transmits]!.newest; item !== null && taken.length < count; item = item.older) taken.push(item)
    }
    const news: News[] = new Array(taken.length)
    for (let index = 0; index < taken.length; index++) {
      const item = taken[index]!
      news[index] = item.news
      this.detach(item)
      item.transmits++
      if (item.transmits < limit) this.pushNewest(item)
      else this.names(item.news).delete(item.name)
    }
    taken.length = 0
    return news
  }

  private names(news: News): Map<string, Item> {
    return news.kind === 'update' ? this.byKey : this.byMember
  }

  private bucket(transmits: number): Bucket {
    while (this.buckets.length <= transmits) this.buckets.push({ newest: null, oldest: null })
    return this.buckets[transmits]!
  }

  private pushNewest(item: Item): void {
    const bucket = this.bucket(item.transmits)
    item.older = bucket.newest
    item.newer = null
    if (bucket.newest !== null) bucket.newest.newer = item
    bucket.newest = item
    if (bucket.oldest === null) bucket.oldest = item
  }

  /** Takes an item out of its bucket (its name stays mapped: the caller re-links or forgets it). */
  private detach(item: Item): void {
    const bucket = this.buckets[item.transmits]!
    if (item.newer !== null) item.newer.older = item.older
    else bucket.newest = item.older
    if (item.older !== null) item.older.newer = item.newer
    else bucket.oldest = item.newer
    item.newer = null
    item.older = null
  }

  private dropMostSent(): void {
    for (let transmits = this.buckets.length - 1; transmits >= 0; transmits--) {
      const oldest = this.buckets[transmits]!.oldest
      if (oldest === null) continue
      this.detach(oldest)
      this.names(oldest.news).delete(oldest.name)
      return
    }
  }
}

/** memberlist's retransmit limit: retransmitMult · ceil(log10(N + 1)). */
export function retransmitLimit(retransmitMult: number, members: number): number {
  return retransmitMult * Math.ceil(Math.log10(members + 1))
}
