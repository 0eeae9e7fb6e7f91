/**
 * The Convergence screen's data: how far each replica's store is from the
 * freshest one (the store digest most replicas share; on a tie, the one with
 * the most keys), counted in keys that differ, with each replica's
 * anti-entropy traffic (CRDT deltas, digests and whole states sent).
 */
import { storeOf } from '../nodeSnapshot.ts'
import type { NodeEntry } from '../sourceState.ts'

export interface ConvergenceRow {
  readonly id: string
  readonly up: boolean
  readonly keys: number
  readonly storeDigest: string
  /** Keys whose digest differs from the freshest store's (absent on either side included). */
  readonly divergentKeys: number
  readonly freshest: boolean
  readonly deltaBytes: number
  readonly digestBytes: number
  readonly stateBytes: number
  readonly entriesJoined: number
}

/** Anti-entropy bytes a replica sent: deltas, digests and whole states. */
export function antiEntropyBytes(metrics: Readonly<Record<string, number>>): number {
  return (metrics['deltaBytes'] ?? 0) + (metrics['digestBytes'] ?? 0) + (metrics['stateBytes'] ?? 0)
}

export function convergenceRows(entries: readonly NodeEntry[]): ConvergenceRow[] {
  const replicas = entries.flatMap((entry) => {
    const replica = storeOf(entry.snapshot)
    return replica === null ? [] : [{ entry, replica }]
  })
  const shared = new Map<string, number>()
  for (const { entry, replica } of replicas) if (entry.up) shared.set(replica.storeDigest, (shared.get(replica.storeDigest) ?? 0) + 1)
  let freshest: (typeof replicas)[number] | null = null
  for (const candidate of replicas) {
    if (!candidate.entry.up) continue
    if (freshest === null) {
      freshest = candidate
      continue
    }
    const [a, b] = [shared.get(candidate.replica.storeDigest)!, shared.get(freshest.replica.storeDigest)!]
    if (a > b || (a === b && candidate.replica.keys.length > freshest.replica.keys.length)) freshest = candidate
  }
  const reference = new Map((freshest?.replica.keys ?? []).map(({ key, digest }) => [key, digest]))
  return replicas.map(({ entry, replica }) => {
    let divergentKeys = 0
    const own = new Map(replica.keys.map(({ key, digest }) => [key, digest]))
    for (const [key, digest] of own) if (reference.get(key) !== digest) divergentKeys++
    for (const key of reference.keys()) if (!own.has(key)) divergentKeys++
    const crdt = replica.crdtMetrics
    return {
      id: entry.id,
      up: entry.up,
      keys: replica.keys.length,
      storeDigest: replica.storeDigest,
      divergentKeys,
      freshest: freshest !== null && freshest.entry === entry,
      deltaBytes: crdt['deltaBytes'] ?? 0,
      digestBytes: crdt['digestBytes'] ?? 0,
      stateBytes: crdt['stateBytes'] ?? 0,
      entriesJoined: crdt['entriesJoined'] ?? 0,
    }
  })
}
