/**
 * What one source (a live node, or a whole simulation) tells the cluster
 * model: its nodes, its newest events and how its connection stands.
 */
import type { Violation } from '../../sim/violation.ts'
import type { ClusterEvent } from './clusterEvent.ts'
import type { NodeSnapshot } from './nodeSnapshot.ts'

/** A live source's link to its node: shown in the status bar, so a lost node is never mistaken for a quiet one. */
export type ConnectionState =
  | { readonly kind: 'connecting'; readonly attempt: number }
  | { readonly kind: 'live'; readonly sinceMs: number }
  /** Lost or refused; the next attempt is at `retryAtMs` (wall clock). */
  | { readonly kind: 'disconnected'; readonly attempt: number; readonly retryAtMs: number; readonly reason: string }
  | { readonly kind: 'closed' }

export interface NodeEntry {
  /** The node's id once known (a live node before its first snapshot: its address). */
  readonly id: string
  readonly region: string | null
  /** Running (simulation) or reachable (live); its snapshot is then current, else the last one seen. */
  readonly up: boolean
  readonly snapshot: NodeSnapshot | null
  /** When the snapshot was taken: wall clock ms for live nodes, virtual ms in a simulation. */
  readonly snapshotAtMs: number | null
  /** The address a live node was reached at; null in a simulation. */
  readonly url: string | null
}

/** Where a simulation stands (the status bar and its replay controls). */
export interface SimStatus {
  readonly scenario: string
  readonly seed: number
  readonly nodes: number
  readonly nowUs: number
  /** The scenario's end, where its checkers judge the run; null: it runs until stopped. */
  readonly endUs: number | null
  readonly playing: boolean
  /** Virtual time per wall time asked for. */
  readonly speed: number
  /** Virtual time per wall time achieved over the last frames: below `speed` when the simulator cannot keep up. */
  readonly achievedSpeed: number
  /** The checkers' verdict once known ('ok' or the worst kind of violation); null before the end. */
  readonly verdict: string | null
  /** The run's fingerprint once its end was reached (`dwcp sim --json` prints the same for the same seed and options). */
  readonly fingerprint: string | null
  /** Violations known for this run (with their virtual time): from reaching the end, or from an engine that threw. */
  readonly violations: readonly Violation[]
  /** Faults injected by hand, at their virtual times: replayed when the TUI jumps back. */
  readonly faults: readonly { readonly atUs: number; readonly text: string }[]
  /** Where a jump is going, while it runs there. */
  readonly seekingToUs: number | null
  /** Set when an engine or the simulator threw: the run cannot go on. */
  readonly stopped: string | null
}

export interface SourceState {
  /** What the source is, for the status bar: a URL, or the simulation's scenario and seed. */
  readonly label: string
  readonly connection: ConnectionState
  readonly nodes: readonly NodeEntry[]
  /** The newest events, oldest first. */
  readonly events: readonly ClusterEvent[]
  /** Events seen so far, kept or not: changes whenever `events` does. */
  readonly eventsTotal: number
  readonly eventsDropped: number
  readonly sim: SimStatus | null
}
