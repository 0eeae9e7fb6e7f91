/**
 * The messages of `/v1/events` (NODE_CONTRACT.md): a snapshot first, then the
 * node's feed items (host/eventLog.ts FeedItem) as JSON, or one error. Checked
 * here on what the TUI relies on; anything else is reported, not trusted.
 */
import type { ReplicaEvent } from '../../../core/replica/events.ts'
import type { ReplicaView } from '../nodeSnapshot.ts'

export type FeedMessage =
  | { readonly kind: 'snapshot'; readonly snapshot: ReplicaView & { readonly events: { readonly epoch: string; readonly lastSeq: number } } }
  | { readonly kind: 'event'; readonly seq: number; readonly event: ReplicaEvent }
  | { readonly kind: 'gap'; readonly reason: 'dropped' | 'epoch'; readonly fromSeq: number; readonly toSeq: number }
  | { readonly kind: 'cutOff'; readonly reason: string; readonly message: string }
  | { readonly kind: 'error'; readonly error: { readonly code: string; readonly message: string } }

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A snapshot the screens can read: node identity, members, links, keys and the event position. */
export function isReplicaSnapshot(value: unknown): value is ReplicaView & { readonly events: { readonly epoch: string; readonly lastSeq: number } } {
  if (!isObject(value) || !isObject(value['node']) || !isObject(value['events']) || !isObject(value['links'])) return false
  const { node, events } = value as { node: Record<string, unknown>; events: Record<string, unknown> }
  return (
    typeof node['id'] === 'string' &&
    typeof node['region'] === 'string' &&
    typeof events['epoch'] === 'string' &&
    Number.isSafeInteger(events['lastSeq']) &&
    Array.isArray(value['members']) &&
    Array.isArray(value['keys']) &&
    Array.isArray(value['policies']) &&
    typeof value['storeDigest'] === 'string' &&
    isObject(value['metrics'])
  )
}

/** The message, or why it is not one. */
export function parseFeedMessage(text: string): FeedMessage | { readonly kind: 'malformed'; readonly why: string } {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { kind: 'malformed', why: 'not JSON' }
  }
  if (!isObject(value)) return { kind: 'malformed', why: 'not an object' }
  switch (value['kind']) {
    case 'snapshot':
      return isReplicaSnapshot(value['snapshot']) ? (value as FeedMessage) : { kind: 'malformed', why: 'snapshot without node, members, links, keys or events' }
    case 'event': {
      const event = value['event']
      return Number.isSafeInteger(value['seq']) && isObject(event) && typeof event['source'] === 'string' && isObject(event['event']) ? (value as FeedMessage) : { kind: 'malformed', why: 'event without seq, source or body' }
    }
    case 'gap':
      return Number.isSafeInteger(value['fromSeq']) && Number.isSafeInteger(value['toSeq']) ? (value as FeedMessage) : { kind: 'malformed', why: 'gap without its range' }
    case 'cutOff':
      return { kind: 'cutOff', reason: String(value['reason']), message: String(value['message']) }
    case 'error': {
      const error = isObject(value['error']) ? value['error'] : {}
      return { kind: 'error', error: { code: String(error['code'] ?? 'unknown'), message: String(error['message'] ?? '') } }
    }
    default:
      return { kind: 'malformed', why: `unknown kind ${JSON.stringify(value['kind'])}` }
  }
}
