/**
 * A key's value on each node, read again as the cluster changes (at most every
 * readIntervalMs): a live node answers over HTTP, a simulated one at once.
 */
import { useEffect, useState } from 'react'
import type { KeyReading } from '../data/clusterSource.ts'

export const keyReadingLimits = {
  readIntervalMs: 500,
} as const

export interface KeyReader {
  readKey(nodeId: string, key: string): Promise<KeyReading>
}

export function useKeyReadings(reader: KeyReader, key: string | null, nodeIds: readonly string[], version: number): ReadonlyMap<string, KeyReading | 'reading'> {
  const [readings, setReadings] = useState<ReadonlyMap<string, KeyReading | 'reading'>>(new Map())
  const [readAt, setReadAt] = useState<{ key: string | null; version: number; atMs: number }>({ key: null, version: -1, atMs: 0 })
  const ids = nodeIds.join(',')
  useEffect(() => {
    if (key === null) return
    const nowMs = performance.now()
    if (readAt.key === key && (readAt.version === version || nowMs - readAt.atMs < keyReadingLimits.readIntervalMs)) return
    setReadAt({ key, version, atMs: nowMs })
    let current = true
    if (readAt.key !== key) setReadings(new Map(nodeIds.map((id) => [id, 'reading' as const])))
    void Promise.all(nodeIds.map(async (id) => [id, await reader.readKey(id, key)] as const)).then((entries) => {
      if (current) setReadings(new Map(entries))
    })
    return () => {
      current = false
    }
    // nodeIds is keyed by its joined ids.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [reader, key, ids, version])
  return readings
}
