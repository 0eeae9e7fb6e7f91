/**
 * The State screen's data: every key any replica lists, with its digest on
 * each replica; a key diverges when the replicas that are up do not all hold
 * it with the same digest. Namespaces come with their policy.
 */
import type { Policy } from '../../../core/replica/policy.ts'
import { storeOf } from '../nodeSnapshot.ts'
import type { NodeEntry } from '../sourceState.ts'

export interface KeyRow {
  readonly key: string
  readonly namespace: string
  readonly type: string
  /** The digest on each replica of `KeyTable.nodes`, null where it is absent. */
  readonly digests: readonly (string | null)[]
  /** Replicas that hold the key. */
  readonly holders: number
  readonly divergent: boolean
}

export interface NamespaceRow {
  readonly namespace: string
  readonly policy: Policy | null
  readonly keys: number
  readonly divergentKeys: number
}

export interface KeyTable {
  /** The replicas, in the cluster's order, and which of them are up. */
  readonly nodes: readonly { readonly id: string; readonly up: boolean }[]
  readonly rows: readonly KeyRow[]
  readonly namespaces: readonly NamespaceRow[]
  readonly divergentKeys: number
  /** Some replica listed only the first keys of its store (snapshotLimits.keysListedMax). */
  readonly truncated: boolean
}

export function namespaceOfKey(key: string): string {
  const slash = key.indexOf('/')
  return slash === -1 ? key : key.slice(0, slash)
}

export function keyTable(entries: readonly NodeEntry[]): KeyTable {
  const replicas = entries.flatMap((entry) => {
    const replica = storeOf(entry.snapshot)
    return replica === null ? [] : [{ entry, replica }]
  })
  const byKey = new Map<string, { type: string; digests: (string | null)[] }>()
  replicas.forEach(({ replica }, index) => {
    for (const { key, type, digest } of replica.keys) {
      let row = byKey.get(key)
      if (row === undefined) byKey.set(key, (row = { type, digests: new Array(replicas.length).fill(null) }))
      row.digests[index] = digest
    }
  })
  const up = replicas.map(({ entry }) => entry.up)
  const rows: KeyRow[] = [...byKey]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, { type, digests }]) => {
      let first: string | null | undefined
      let divergent = false
      for (let index = 0; index < digests.length; index++) {
        if (!up[index]) continue
        if (first === undefined) first = digests[index]!
        else if (digests[index] !== first) divergent = true
      }
      return { key, namespace: namespaceOfKey(key), type, digests, holders: digests.filter((digest) => digest !== null).length, divergent }
    })
  const policies = new Map<string, Policy>()
  for (const { replica } of replicas) for (const { namespace, policy } of replica.policies) if (!policies.has(namespace)) policies.set(namespace, policy)
  const namespaceNames = new Set([...policies.keys(), ...rows.map((row) => row.namespace)])
  const namespaces = [...namespaceNames].sort().map((namespace) => {
    const inside = rows.filter((row) => row.namespace === namespace)
    return { namespace, policy: policies.get(namespace) ?? null, keys: inside.length, divergentKeys: inside.filter((row) => row.divergent).length }
  })
  return {
    nodes: replicas.map(({ entry }) => ({ id: entry.id, up: entry.up })),
    rows,
    namespaces,
    divergentKeys: rows.filter((row) => row.divergent).length,
    truncated: replicas.some(({ replica }) => replica.keysTruncated),
  }
}
