/**
 * The policies a node cluster starts with (the cluster file's default):
 * one namespace per consistency level and value type, so `dwcp kv` and
 * `dwcp crdt` work out of the box. Every other namespace is an auto register
 * (core `defaultPolicy`). Runtime changes go through `setPolicy`.
 */
import type { Policy } from '../core/index.ts'

const register = (consistency: Policy['consistency']): Policy => ({ consistency, valueType: 'register', home: null })
const eventual = (valueType: Policy['valueType']): Policy => ({ consistency: 'eventual', valueType, home: null })

/** `bft` (byzantine) only when the cluster has a PBFT group: without one, byzantine writes have nowhere to go. */
export function defaultNodePolicies(hasPbftGroup: boolean): Record<string, Policy> {
  return {
    cfg: register('strong'),
    cnt: eventual('counter'),
    set: eventual('set'),
    map: eventual('map'),
    doc: eventual('doc'),
    ...(hasPbftGroup ? { bft: register('byzantine') } : {}),
    edge: register('auto'),
  }
}
