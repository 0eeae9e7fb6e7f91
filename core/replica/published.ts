/**
 * Committed strong and byzantine writes published into the gossiped state
 * (DESIGN §2), so that every member can serve a follower read: the update's
 * key names the path and the key, its version is the state machine's write
 * counter (higher wins, so a late, older publication never replaces a newer).
 */
import { decodeWith, encodeWith } from '../codec/envelope.ts'
import type { GossipEngine } from '../gossip/engine.ts'
import type { Update } from '../gossip/messages.ts'
import { readKeyValue, writeKeyValue, type KeyValue } from './logCommand.ts'

export function publishedKey(consistency: 'strong' | 'byzantine', key: string): string {
  return `${consistency === 'strong' ? 's' : 'b'}:${key}`
}

/** Publishes a committed value into the gossiped state; false when gossip refused it. */
export function publish(gossip: GossipEngine, key: string, version: number, value: string | null): boolean {
  const bytes = encodeWith<KeyValue>({ value, version }, writeKeyValue)
  return gossip.propose({ type: 'publish', key, version, value: bytes }) === null
}

/** The published value of an update (absent: never published, version 0). */
export function readPublished(update: Update | undefined): KeyValue {
  if (update === undefined) return { value: null, version: 0 }
  const decoded = decodeWith(update.value, readKeyValue, 'published value')
  return decoded.ok ? decoded.value : { value: null, version: 0 }
}
