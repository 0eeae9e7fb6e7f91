/**
 * Namespaces and their policies (DESIGN §2): a key's namespace is its prefix
 * up to the first `/`; each namespace has a consistency level, a home region
 * and a value type. Policies change at runtime through a strong write of the
 * policy itself, so every replica applies the same change at the same log
 * position and all agree on which path a key takes.
 *
 *   policy := uint8 consistency, uint8 valueType, uint8 hasHome, [text home]
 */
import type * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import { fail } from '../codec/decodeError.ts'
import { readId, readUint, writeId, writeUint } from '../codec/fields.ts'
import { isValidId } from '../lib/limits.ts'
import type { Refusal } from '../ready.ts'

export type Consistency = 'eventual' | 'strong' | 'byzantine' | 'auto'
export const consistencies: readonly Consistency[] = ['eventual', 'strong', 'byzantine', 'auto']

export type ValueType = 'register' | 'counter' | 'set' | 'map' | 'doc'
export const valueTypes: readonly ValueType[] = ['register', 'counter', 'set', 'map', 'doc']

export interface Policy {
  readonly consistency: Consistency
  readonly valueType: ValueType
  /** The region whose Raft leader should serve this namespace (placement); null: wherever the leader is. */
  readonly home: string | null
}

/** DESIGN §2: `auto` is the default consistency. */
export const defaultPolicy: Policy = Object.freeze({ consistency: 'auto', valueType: 'register', home: null })

export const policyLimits = {
  /** Namespaces with a policy of their own: every replica holds them all, and a snapshot carries them. */
  namespacesMax: 1024,
  /** A namespace name, like a node id: a short ASCII token. */
  namespaceBytesMax: 64,
  /** A key, namespace and separator included. */
  keyBytesMax: 128,
} as const

/** The namespace of `key`: its prefix up to the first `/` (the whole key when it has none). */
export function namespaceOf(key: string): string {
  const slash = key.indexOf('/')
  return slash < 0 ? key : key.slice(0, slash)
}

/** Why `key` cannot be used, or null. Keys are 1..keyBytesMax printable ASCII characters with a valid namespace. */
export function keyProblem(key: string): Refusal | null {
  if (key.length === 0 || key.length > policyLimits.keyBytesMax) return { code: 'invalidKey', message: `a key has 1 to ${policyLimits.keyBytesMax} characters, got ${key.length}` }
  for (let index = 0; index < key.length; index++) {
    const code = key.charCodeAt(index)
    if (code < 0x21 || code > 0x7e) return { code: 'invalidKey', message: `key ${JSON.stringify(key)} has a character outside printable ASCII at ${index}` }
  }
  const namespace = namespaceOf(key)
  if (!isValidId(namespace)) return { code: 'invalidKey', message: `namespace ${JSON.stringify(namespace)} must be 1 to 64 characters of [A-Za-z0-9._-]` }
  return null
}

export function policyProblem(policy: Policy): Refusal | null {
  if (!consistencies.includes(policy.consistency)) return { code: 'invalidPolicy', message: `consistency must be one of ${consistencies.join(', ')}, got ${String(policy.consistency)}` }
  if (!valueTypes.includes(policy.valueType)) return { code: 'invalidPolicy', message: `valueType must be one of ${valueTypes.join(', ')}, got ${String(policy.valueType)}` }
  if (policy.home !== null && !isValidId(policy.home)) return { code: 'invalidPolicy', message: `home must be a region id, got ${JSON.stringify(policy.home)}` }
  // Strong, byzantine and auto namespaces replicate whole values through a log: only registers travel that way.
  if (policy.consistency !== 'eventual' && policy.valueType !== 'register') {
    return { code: 'invalidPolicy', message: `a ${policy.consistency} namespace holds registers; ${policy.valueType} values need consistency eventual` }
  }
  return null
}

export function writePolicy(encoder: encoding.Encoder, policy: Policy): void {
  writeUint(encoder, consistencies.indexOf(policy.consistency))
  writeUint(encoder, valueTypes.indexOf(policy.valueType))
  writeUint(encoder, policy.home === null ? 0 : 1)
  if (policy.home !== null) writeId(encoder, policy.home)
}

export function readPolicy(decoder: decoding.Decoder): Policy {
  const consistency = consistencies[readUint(decoder, consistencies.length - 1, 'consistency')]!
  const valueType = valueTypes[readUint(decoder, valueTypes.length - 1, 'value type')]!
  const home = readUint(decoder, 1, 'home flag') === 1 ? readId(decoder, 'home') : null
  const policy = { consistency, valueType, home }
  const problem = policyProblem(policy)
  if (problem !== null) fail('invalidField', problem.message)
  return policy
}

/**
 * The policy table: the configured base policies, overridden by those set at
 * runtime through the log (`set`, called in log order on every replica).
 */
export class PolicyTable {
  private readonly base: ReadonlyMap<string, Policy>
  private readonly changed = new Map<string, Policy>()

  constructor(base: Readonly<Record<string, Policy>> = {}) {
    const entries = Object.entries(base)
    if (entries.length > policyLimits.namespacesMax) throw new RangeError(`policies for ${entries.length} namespaces, namespacesMax=${policyLimits.namespacesMax}`)
    for (const [namespace, policy] of entries) {
      if (!isValidId(namespace)) throw new RangeError(`policy namespace ${JSON.stringify(namespace)} is not a valid id`)
      const problem = policyProblem(policy)
      if (problem !== null) throw new RangeError(`policy of ${namespace}: ${problem.message}`)
    }
    this.base = new Map(entries)
  }

  of(namespace: string): Policy {
    return this.changed.get(namespace) ?? this.base.get(namespace) ?? defaultPolicy
  }

  /** Applies a committed policy change; refused (and not applied on any replica) beyond namespacesMax. */
  set(namespace: string, policy: Policy): Refusal | null {
    if (!this.changed.has(namespace) && this.changed.size >= policyLimits.namespacesMax) return { code: 'tooManyNamespaces', message: `namespacesMax=${policyLimits.namespacesMax}` }
    this.changed.set(namespace, policy)
    return null
  }

  /** Policies set at runtime, by namespace in ascending order (what a snapshot carries). */
  changes(): [string, Policy][] {
    return [...this.changed].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  }

  replaceChanges(changes: readonly (readonly [string, Policy])[]): void {
    this.changed.clear()
    for (const [namespace, policy] of changes) this.changed.set(namespace, policy)
  }

  /** Every namespace with a policy, base or changed, in ascending order. */
  namespaces(): string[] {
    return [...new Set([...this.base.keys(), ...this.changed.keys()])].sort()
  }
}
