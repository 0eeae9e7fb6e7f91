/**
 * The dev fault switch as the API sees it (POST /v1/admin/faults with --dev):
 * a host that can inject faults into its own peer links implements it (the
 * Node host's is node/peer/faultSwitch.ts). Runtime-neutral: types only.
 */
import type { NodeId } from '../core/index.ts'

/** The faults in force at one node; null or false: that fault is off. */
export interface FaultState {
  /** Peers this node is cut from: frames to and from them are dropped here. */
  readonly partition: readonly NodeId[] | null
  /** Extra one-way delay of every frame this node sends. */
  readonly latencyMs: number | null
  /** Probability that a frame this node sends or receives is dropped. */
  readonly loss: number | null
  /** The node stops handling frames and ticks until resumed. */
  readonly pause: boolean
}

/** A change: fields left out stay as they are; null (or pause false) turns a fault off. */
export type FaultChange = { readonly [K in keyof FaultState]?: FaultState[K] }

export interface FaultControl {
  state(): FaultState
  /** Applies `change` (a RangeError names a bad field, and nothing changes); returns the faults now in force. */
  set(change: FaultChange): FaultState
}

export const faultLimits = {
  /** Added latency: enough to look like the far side of the planet, bounded so queued frames do not expire waiting. */
  latencyMsMax: 5_000,
  /** Peers named in one partition. */
  partitionPeersMax: 1_024,
} as const

export const noFaults: FaultState = Object.freeze({ partition: null, latencyMs: null, loss: null, pause: false })
