/** The Events screen's data: the merged log, filtered by text (node, engine, kind or summary). */
import type { ClusterEvent } from '../clusterEvent.ts'

export function filterEvents(events: readonly ClusterEvent[], filter: string): readonly ClusterEvent[] {
  const needle = filter.toLowerCase()
  if (needle === '') return events
  return events.filter((event) => event.node.toLowerCase().includes(needle) || event.source.includes(needle) || event.kind.toLowerCase().includes(needle) || event.text.toLowerCase().includes(needle))
}

/** Merges per-source logs (each oldest first) by time, keeping each source's order among equal times. */
export function mergeEvents(logs: readonly (readonly ClusterEvent[])[], max: number): ClusterEvent[] {
  const merged = logs.flat()
  merged.sort((a, b) => a.atMs - b.atMs)
  return merged.length > max ? merged.slice(merged.length - max) : merged
}
