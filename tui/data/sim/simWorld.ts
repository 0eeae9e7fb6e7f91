/**
 * A simulated cluster the TUI drives itself, in virtual time: a replica
 * scenario stepped frame by frame, or a large membership. Built from a seed,
 * so the same seed (and the same faults injected at the same virtual times)
 * replays the same run: that is how the TUI jumps back in time.
 */
import type { PlainValue } from '../../../core/crdt/value.ts'
import type { ReplicaEvent } from '../../../core/replica/events.ts'
import type { RunResult } from '../../../sim/scenario.ts'
import type { FaultOf } from '../clusterSource.ts'
import type { NodeSnapshot, SnapshotDetail } from '../nodeSnapshot.ts'

/** A fault injected by hand (the fault hotkeys), on a node by index. */
export type SimFault = FaultOf<number>

export interface SimNodeInfo {
  readonly id: string
  readonly region: string
  readonly up: boolean
}

/** What happened in the world, in order: engine events and the simulator's own (starts, crashes; a note of no node: the run's). */
export type WorldEvent = { readonly kind: 'engine'; readonly node: number; readonly event: ReplicaEvent } | { readonly kind: 'note'; readonly node: number | null; readonly text: string }

export interface SimWorld {
  readonly scenario: string
  readonly seed: number
  readonly nodeCount: number
  /** Where the scenario ends and its checkers judge the run; null: it runs until stopped. */
  readonly endUs: number | null
  readonly nowUs: number
  /** Runs to `untilUs`; reaching `endUs` on the way runs the checkers. Throws what an engine or checker threw. */
  runUntil(untilUs: number): void
  node(index: number): SimNodeInfo
  /** The node's snapshot, null while it is down; `detail` says how much to read (a replica always gives all: its clusters are small). */
  snapshot(index: number, detail: SnapshotDetail): NodeSnapshot | null
  /** A key's value on the node (undefined: absent), or null when the node is down or holds no keys. */
  readKey(index: number, key: string): PlainValue | undefined | null
  /** Applies a fault now; returns what it did, in words. */
  apply(fault: SimFault): string
  /** Receives the world's events as they happen. */
  onEvent: ((event: WorldEvent) => void) | null
  /** The checkers' verdict, once the run reached `endUs`. */
  readonly result: RunResult | null
}

/** How a world is built: everything else comes from the seed. */
export interface SimWorldOptions {
  readonly seed: number
  /** Nodes in the cluster (undefined: the scenario's default). */
  readonly nodes?: number
}

export interface SimWorldKind {
  readonly name: string
  readonly summary: string
  readonly defaultNodes: number
  readonly nodesMin: number
  readonly nodesMax: number
  create(options: SimWorldOptions): SimWorld
}
