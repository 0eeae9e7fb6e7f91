/**
 * The messages of `/v1/events` (api/contract.ts FeedMessage): a snapshot
 * first, then the node's feed items, or one error. Checked with the
 * contract's schema, and the snapshot further on what the TUI reads of it
 * (links, keys, metrics): anything else is reported, not trusted.
 */
import { feedMessageSchema, type FeedMessage } from '../../../api/contract.ts'
import type { ReplicaView } from '../nodeSnapshot.ts'

export type { FeedMessage }

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A snapshot the screens can read: node identity, members, links, keys, metrics and the event position. */
export function isReplicaSnapshot(value: unknown): value is ReplicaView & { readonly events: { readonly epoch: string; readonly lastSeq: number } } {
  if (!isObject(value) || !isObject(value['node']) || !isObject(value['events']) || !isObject(value['links']) || !isObject(value['metrics'])) return false
  const { node, events, links } = value as { node: Record<string, unknown>; events: Record<string, unknown>; links: Record<string, unknown> }
  return (
    typeof node['id'] === 'string' &&
    typeof node['region'] === 'string' &&
    typeof events['epoch'] === 'string' &&
    Number.isSafeInteger(events['lastSeq']) &&
    Array.isArray(links['links']) &&
    Array.isArray(value['members']) &&
    Array.isArray(value['keys']) &&
    Array.isArray(value['policies']) &&
    typeof value['storeDigest'] === 'string'
  )
}

export type Malformed = { readonly kind: 'malformed'; readonly why: string }

/** The message, or why it is not one. */
export function parseFeedMessage(text: string): FeedMessage | Malformed {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { kind: 'malformed', why: 'not JSON' }
  }
  const parsed = feedMessageSchema.safeParse(value)
  if (!parsed.success) return { kind: 'malformed', why: parsed.error.issues.map((issue) => `${issue.path.join('.') || 'message'}: ${issue.message}`).join('; ') }
  const message = value as FeedMessage
  if (message.kind === 'snapshot' && !isReplicaSnapshot(message.snapshot)) return { kind: 'malformed', why: 'snapshot without links, keys, metrics or store digest' }
  return message
}
