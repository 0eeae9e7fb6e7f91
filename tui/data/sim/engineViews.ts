/**
 * How the TUI reads a single-engine simulation's nodes (`--sim raft`, pbft,
 * crdt, gossip, swim): each engine's own status (core/ENGINE/status.ts) as a
 * NodeSnapshot, the key a bare CRDT engine holds, and which source its
 * events carry. Read-only: nothing here steps or changes an engine.
 */
import type { CrdtEngine } from '../../../core/crdt/engine.ts'
import type { PlainValue } from '../../../core/crdt/value.ts'
import type { GossipEngine } from '../../../core/gossip/engine.ts'
import { PbftEngine } from '../../../core/pbft/engine.ts'
import type { RaftEngine } from '../../../core/raft/engine.ts'
import type { ReplicaEvent } from '../../../core/replica/events.ts'
import { snapshotLimits } from '../../../core/replica/snapshot.ts'
import { ByzantineEngine } from '../../../sim/byzantine.ts'
import { WitnessedEngine } from '../../../sim/checkers/pbftWitness.ts'
import type { NodeSnapshot, SnapshotDetail } from '../nodeSnapshot.ts'
import { gossipSnapshot } from './gossipSnapshot.ts'

export interface EngineView {
  /** The source its events are tagged with (the Events view, the event's text). */
  readonly source: 'raft' | 'pbft' | 'crdt' | 'gossip'
  snapshot(engine: unknown, node: { readonly id: string; readonly region: string }, detail: SnapshotDetail, regionOf: ReadonlyMap<string, string>): NodeSnapshot
  /** A key's value on the node; null: this engine holds no keys the TUI can read. */
  readKey(engine: unknown, key: string): PlainValue | undefined | null
}

const noKeys = (): null => null

export const raftView: EngineView = {
  source: 'raft',
  snapshot: (engine) => ({ kind: 'raft', raft: (engine as RaftEngine).status() }),
  readKey: noKeys,
}

/** The PBFT engine inside the simulator's wrappers (the witness of a correct replica, the adversary of a Byzantine one). */
function innerPbft(engine: unknown): { engine: PbftEngine; byzantine: string | null } {
  let byzantine: string | null = null
  let current = engine
  for (let depth = 0; depth < 4; depth++) {
    if (current instanceof PbftEngine) return { engine: current, byzantine }
    if (current instanceof WitnessedEngine) current = current.engine
    else if (current instanceof ByzantineEngine) {
      byzantine = current.mode
      current = current.inner
    } else break
  }
  throw new TypeError('not a PBFT engine')
}

export const pbftView: EngineView = {
  source: 'pbft',
  snapshot: (engine) => {
    const inner = innerPbft(engine)
    return { kind: 'pbft', pbft: inner.engine.status(), byzantine: inner.byzantine }
  },
  readKey: noKeys,
}

export const crdtView: EngineView = {
  source: 'crdt',
  snapshot: (engine) => {
    const crdt = engine as CrdtEngine
    const keys = crdt.keyDigests()
    return { kind: 'crdt', crdt: { status: crdt.status(), keys: keys.length > snapshotLimits.keysListedMax ? keys.slice(0, snapshotLimits.keysListedMax) : keys, keysTruncated: keys.length > snapshotLimits.keysListedMax } }
  },
  readKey: (engine, key) => (engine as CrdtEngine).read(key),
}

export const gossipView: EngineView = {
  source: 'gossip',
  snapshot: (engine, node, detail, regionOf) => gossipSnapshot(engine as GossipEngine, node, detail, regionOf),
  readKey: noKeys,
}

/** An engine's Ready event as the cluster events show it. */
export function taggedEvent(view: EngineView, event: unknown): ReplicaEvent {
  return { source: view.source, event } as ReplicaEvent
}
