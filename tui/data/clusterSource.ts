/**
 * What the cluster model asks of each source beyond its state: which nodes
 * are on screen, a key's value on one node, and to stop. Faults go through
 * a FaultTarget: a simulation's own controls, or a --dev cluster's fault
 * switch (which spans every node of the cluster, not one source).
 */
import type { PlainValue } from '../../core/crdt/value.ts'
import type { Source } from './source.ts'
import type { SourceState } from './sourceState.ts'

export type KeyReading = { readonly ok: true; readonly value: PlainValue | undefined } | { readonly ok: false; readonly error: string }

export interface ClusterSource extends Source<SourceState> {
  /** Nodes whose detail (their whole membership view) is on screen; a source that cannot afford it for every node computes it for these. */
  focus(nodeIds: readonly string[]): void
  /** Whether `nodeId` is one of this source's nodes. */
  hasNode(nodeId: string): boolean
  /** `key` as `nodeId` holds it (its CRDT store: the value that node serves locally). */
  readKey(nodeId: string, key: string): Promise<KeyReading>
  close(): void
}

/** The fault hotkeys: partition a node from the rest, heal everything, slow a node's links, kill and restart it; `Node` names the node (an id, or a simulation's index). */
export type FaultOf<Node> =
  | { readonly kind: 'partition'; readonly node: Node }
  | { readonly kind: 'heal' }
  | { readonly kind: 'latency'; readonly node: Node; readonly rttMs: number }
  | { readonly kind: 'kill'; readonly node: Node }
  | { readonly kind: 'restart'; readonly node: Node }

/** A fault hotkey on a node by id. */
export type FaultRequest = FaultOf<string>

export interface FaultTarget {
  /** Applies the fault; resolves with what was done, in words, or rejects with why not. */
  inject(fault: FaultRequest): Promise<string>
}
