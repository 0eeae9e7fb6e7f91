/** The cluster's snapshot, re-rendering on each publication (useSyncExternalStore over the model). */
import { useSyncExternalStore } from 'react'
import type { ClusterSnapshot } from '../data/clusterModel.ts'
import type { Source } from '../data/source.ts'

export function useCluster(model: Source<ClusterSnapshot>): ClusterSnapshot {
  return useSyncExternalStore(model.subscribe, model.getSnapshot, model.getSnapshot)
}
