/**
 * One line of the Events screen: an engine event of some node (numbered by
 * that node's event log), or a note of the TUI itself (a connection lost, a
 * gap in the numbering, a fault injected, a checker's violation). Events are
 * summarized once, when they arrive, and keep their raw form for the detail.
 */
import type { ReplicaEvent } from '../../core/replica/events.ts'

export type NoteSource = 'tui' | 'sim' | 'violation'

export interface ClusterEvent {
  readonly node: string
  /** The node's number for the event; null for notes. */
  readonly seq: number | null
  /** When it was seen: wall clock ms for live nodes, virtual ms in a simulation. */
  readonly atMs: number
  /** The engine (crdt, gossip, raft, pbft, adaptive, placement, replica) or the kind of note. */
  readonly source: string
  readonly kind: string
  readonly text: string
  /** The event as received (a ReplicaEvent, or its JSON form from a live node). */
  readonly raw: unknown
}

/** A note of the TUI's own. */
export function noteEvent(node: string, atMs: number, source: NoteSource, kind: string, text: string): ClusterEvent {
  return { node, seq: null, atMs, source, kind, text, raw: null }
}

/** Summarizes a replica event (or its JSON form, where byte arrays are base64 strings). */
export function clusterEvent(node: string, seq: number | null, atMs: number, event: ReplicaEvent): ClusterEvent {
  const { kind, text } = describeReplicaEvent(event)
  return { node, seq, atMs, source: event.source, kind, text, raw: event }
}

function describeReplicaEvent(event: ReplicaEvent): { kind: string; text: string } {
  switch (event.source) {
    case 'crdt': {
      const inner = event.event
      switch (inner.kind) {
        case 'keyChanged':
          return { kind: inner.kind, text: `${inner.key} (${inner.valueType}) by ${inner.origin}` }
        case 'docChanged':
          return { kind: inner.kind, text: `${inner.key} by ${inner.origin}` }
        case 'keysChanged':
          return { kind: inner.kind, text: `${inner.count} keys` }
        case 'recovered':
          return { kind: inner.kind, text: `${inner.keys} keys, ${inner.recordsDropped} records dropped` }
        default:
          return { kind: (inner as { kind: string }).kind, text: fieldsText(inner) }
      }
    }
    case 'gossip': {
      const inner = event.event
      switch (inner.kind) {
        case 'member':
          return { kind: inner.kind, text: `${inner.member} ${inner.state} inc ${inner.incarnation} (${inner.reason} by ${inner.by})` }
        case 'refuted':
          return { kind: inner.kind, text: `suspicion by ${inner.suspectedBy} refuted, inc ${inner.incarnation}` }
        case 'update':
          return { kind: inner.kind, text: `${inner.key} v${inner.version} from ${inner.from}` }
      }
      break
    }
    case 'raft': {
      const inner = event.event
      switch (inner.kind) {
        case 'role':
          return { kind: inner.kind, text: `${inner.role} term ${inner.term} leader ${inner.leader ?? '-'}` }
        case 'commit':
          return { kind: inner.kind, text: `commit ${inner.index} applied ${inner.applied} term ${inner.term}` }
        case 'membership':
          return { kind: inner.kind, text: `voters ${inner.voters.join(',')} learners ${inner.learners.join(',') || '-'} at ${inner.index}` }
        case 'snapshot':
          return { kind: inner.kind, text: `${inner.how} at ${inner.index}` }
      }
      break
    }
    case 'pbft': {
      const inner = event.event
      switch (inner.kind) {
        case 'view':
          return { kind: inner.kind, text: `view ${inner.view} primary ${inner.primary} ${inner.phase} (${inner.reason})` }
        case 'checkpoint':
          return { kind: inner.kind, text: `checkpoint at ${inner.seq}` }
        case 'stateTransfer':
          return { kind: inner.kind, text: `state transfer to ${inner.seq} from ${inner.from}` }
        case 'evidence':
          return { kind: inner.kind, text: `${fieldsText(inner.evidence)} reputation ${inner.reputation}` }
      }
      break
    }
    case 'adaptive': {
      const inner = event.event
      return { kind: `${inner.scope}Mode`, text: `${inner.id} ${inner.from} → ${inner.to} (${inner.reason})` }
    }
    case 'placement': {
      const inner = event.event
      if (inner.kind === 'homeProposed') return { kind: inner.kind, text: `${inner.namespace} home ${inner.from ?? '-'} → ${inner.to}` }
      return { kind: inner.kind, text: `leader ${inner.from} → ${inner.to} (${inner.toRegion})` }
    }
    case 'replica': {
      const inner = event.event
      if (inner.kind === 'configurationChanged') return { kind: inner.kind, text: `configuration ${inner.version}: voters ${inner.configuration.raftVoters.join(',')}, learners ${inner.configuration.raftLearners.join(',') || '-'}` }
      if (inner.kind === 'autopilot') return { kind: inner.kind, text: `${inner.action} ${inner.member}: ${inner.reason}` }
      return { kind: inner.kind, text: `${inner.engine} message from ${inner.from}: ${inner.code} ${inner.message}` }
    }
  }
  return { kind: 'unknown', text: fieldsText(event) }
}

/** A short `name=value` rendering of an object's scalar fields, for events the TUI has no words for. */
function fieldsText(value: unknown): string {
  if (typeof value !== 'object' || value === null) return String(value)
  return Object.entries(value)
    .filter(([, field]) => field === null || typeof field !== 'object')
    .map(([name, field]) => `${name}=${String(field)}`)
    .join(' ')
}
