/**
 * The state machine behind Raft (strong namespaces, the policy table, the auto
 * path's log) and PBFT (byzantine namespaces): keys with versions, policies
 * set at runtime, and the stamps applied per origin (at-most-once): the last
 * `stampsPerOriginMax` exactly, older ones as a floor below which nothing is
 * applied any more. Proposals of one origin may arrive out of order (two
 * clients, a reordered forward), so a single "last stamp" would refuse one
 * that was never applied.
 *
 * Auto writes change nothing here: their value lives in the CRDT register the
 * replica joins them into, under the same timestamp on every path. They still
 * get a version, so the reply says where in the log they landed.
 *
 * The Raft state machine also holds the cluster configuration (configuration
 * commands replace it whole, one version at a time), so a snapshot carries it
 * and every replica has the same one at the same log position.
 *
 *   state := varuint writes, count (key value version)*, count (namespace policy)*, count (origin stamp)*,
 *            [varuint 1, configuration]   (absent: none held, as in PBFT's state)
 */
import * as decoding from 'lib0/decoding'
import { decodeWith, encodeWith } from '../codec/envelope.ts'
import { readId, readText, readUint, remaining, textBytes, utf8Length, writeId, writeText, writeUint } from '../codec/fields.ts'
import { compareHlc, readHlc, writeHlc, type Hlc } from '../crdt/hlc.ts'
import { limits } from '../lib/limits.ts'
import type { StateMachine } from '../stateMachine.ts'
import { decodeLogCommand, encodeLogReply, logCommandLimits, readKeyValue, writeKeyValue, type KeyValue, type LogCommand, type LogReply } from './logCommand.ts'
import { configurationProblem, normalizeConfiguration, readConfiguration, writeConfiguration, type ClusterConfiguration } from './clusterConfiguration.ts'
import { PolicyTable, policyLimits, readPolicy, writePolicy, type Policy } from './policy.ts'

export const strongStateLimits = {
  /** Keys held: at least 100,000; with large values, stateBytesMax is the bound met first. */
  keysMax: 131_072,
  /**
   * Bytes of keys and values held (with a length prefix and a version each,
   * see pairBytes): the whole state is one Raft snapshot and one PBFT
   * checkpoint state, built and sent in memory (limits.stateBytesMax).
   */
  stateBytesMax: limits.stateBytesMax,
  /** Origins remembered for at-most-once: the replicas that propose to one group. */
  originsMax: 64,
  /** Stamps remembered exactly per origin: more proposals than this in flight from one origin at once are refused as expired. */
  stampsPerOriginMax: 64,
} as const

/** What one origin had applied: the recent stamps (ascending) and the floor at or below which no stamp is applied. */
interface OriginStamps {
  floor: Hlc | null
  readonly recent: Hlc[]
}

interface Held {
  readonly value: string
  readonly version: number
}

/** What one key adds to the state (and its snapshot): key and value with their length prefixes, and a version. */
function pairBytes(key: string, value: string): number {
  return textBytes(key) + textBytes(value) + 16
}

export class StrongState implements StateMachine {
  readonly policies: PolicyTable
  /** The configuration before any entry (a new cluster's, or a joiner's from its join answer); null: this state holds none. */
  private readonly initialConfiguration: ClusterConfiguration | null
  private heldConfiguration: ClusterConfiguration | null
  private readonly values = new Map<string, Held>()
  private readonly stamps = new Map<string, OriginStamps>()
  private writes = 0
  /** Sum of pairBytes over the keys held, kept under stateBytesMax. */
  private stateBytes = 0

  constructor(basePolicies: Readonly<Record<string, Policy>> = {}, configuration: ClusterConfiguration | null = null) {
    this.policies = new PolicyTable(basePolicies)
    this.initialConfiguration = configuration
    this.heldConfiguration = configuration
  }

  /** The cluster configuration as of the last applied entry (null: this state holds none). */
  get configuration(): ClusterConfiguration | null {
    return this.heldConfiguration
  }

  get(key: string): KeyValue {
    const held = this.values.get(key)
    return held === undefined ? { value: null, version: 0 } : held
  }

  get size(): number {
    return this.values.size
  }

  /** Bytes of the keys and values held, as stateBytesMax counts them. */
  get heldBytes(): number {
    return this.stateBytes
  }

  apply(bytes: Uint8Array): Uint8Array {
    const decoded = decodeLogCommand(bytes)
    const reply: LogReply = decoded.ok ? this.applyCommand(decoded.value) : { outcome: 'refused', code: 'malformed', message: decoded.error.message.slice(0, logCommandLimits.messageBytesMax) }
    return encodeLogReply(reply)
  }

  applyCommand(command: LogCommand): LogReply {
    if (command.kind !== 'auto') {
      const seen = this.admit(command.origin, command.stamp)
      if (seen !== null) return seen
    }
    switch (command.kind) {
      case 'put': {
        const valueBytes = utf8Length(command.value)
        if (valueBytes > limits.valueBytesMax) return { outcome: 'refused', code: 'tooLarge', message: `value is ${valueBytes} bytes; valueBytesMax is ${limits.valueBytesMax}` }
        const held = this.values.get(command.key)
        if (held === undefined && this.values.size >= strongStateLimits.keysMax) return { outcome: 'refused', code: 'tooManyKeys', message: `keysMax is ${strongStateLimits.keysMax}` }
        const stateBytes = this.stateBytes - (held === undefined ? 0 : pairBytes(command.key, held.value)) + pairBytes(command.key, command.value)
        if (stateBytes > strongStateLimits.stateBytesMax) return { outcome: 'refused', code: 'tooLarge', message: `state would be ${stateBytes} bytes; stateBytesMax is ${strongStateLimits.stateBytesMax}` }
        this.values.set(command.key, { value: command.value, version: ++this.writes })
        this.stateBytes = stateBytes
        return { outcome: 'applied', version: this.writes }
      }
      case 'delete': {
        const held = this.values.get(command.key)
        if (held !== undefined) {
          this.values.delete(command.key)
          this.stateBytes -= pairBytes(command.key, held.value)
        }
        return { outcome: 'applied', version: ++this.writes }
      }
      case 'policy': {
        const refusal = this.policies.set(command.namespace, command.policy)
        if (refusal !== null) return { outcome: 'refused', code: refusal.code, message: refusal.message }
        return { outcome: 'applied', version: ++this.writes }
      }
      case 'auto':
        return { outcome: 'applied', version: ++this.writes }
      case 'configuration':
        return this.applyConfiguration(command.configuration)
    }
  }

  /** A configuration applies only onto the version just below it; the reply's version is the configuration's. */
  private applyConfiguration(next: ClusterConfiguration): LogReply {
    // Counted as a write whether it applies or not: a joiner refuses the versions it started from, which
    // applied elsewhere, and every replica must still number the writes after it alike.
    this.writes++
    const held = this.heldConfiguration
    if (held === null) return { outcome: 'refused', code: 'noConfiguration', message: 'this state machine holds no cluster configuration' }
    if (next.version !== held.version + 1) return { outcome: 'refused', code: 'staleConfiguration', message: `configuration ${next.version} does not follow ${held.version}` }
    const problem = configurationProblem(next)
    if (problem !== null) return { outcome: 'refused', code: 'invalidConfiguration', message: problem.slice(0, logCommandLimits.messageBytesMax) }
    this.heldConfiguration = normalizeConfiguration(next)
    return { outcome: 'applied', version: next.version }
  }

  /** Records a proposal's stamp; returns why it must not be applied, or null. */
  private admit(origin: string, stamp: Hlc): LogReply | null {
    let stamps = this.stamps.get(origin)
    if (stamps === undefined) {
      if (this.stamps.size >= strongStateLimits.originsMax) return { outcome: 'refused', code: 'tooManyOrigins', message: `originsMax=${strongStateLimits.originsMax}` }
      stamps = { floor: null, recent: [] }
      this.stamps.set(origin, stamps)
    }
    if (stamps.floor !== null && compareHlc(stamp, stamps.floor) <= 0) return { outcome: 'refused', code: 'expired', message: `a proposal older than the ${strongStateLimits.stampsPerOriginMax} last of ${origin}` }
    let at = stamps.recent.length
    while (at > 0 && compareHlc(stamps.recent[at - 1]!, stamp) > 0) at--
    if (at > 0 && compareHlc(stamps.recent[at - 1]!, stamp) === 0) return { outcome: 'duplicate' }
    stamps.recent.splice(at, 0, stamp)
    if (stamps.recent.length > strongStateLimits.stampsPerOriginMax) stamps.floor = stamps.recent.shift()!
    return null
  }

  query(query: Uint8Array): Uint8Array {
    const key = decodeWith(query, (decoder) => readText(decoder, policyLimits.keyBytesMax, 'key'), 'key query')
    return encodeWith(key.ok ? this.get(key.value) : { value: null, version: 0 }, writeKeyValue)
  }

  snapshot(): Uint8Array {
    return encodeWith(this, (encoder, state) => {
      writeUint(encoder, state.writes)
      const keys = [...state.values.keys()].sort()
      writeUint(encoder, keys.length)
      for (const key of keys) {
        const held = state.values.get(key)!
        writeText(encoder, key)
        writeText(encoder, held.value)
        writeUint(encoder, held.version)
      }
      const policies = state.policies.changes()
      writeUint(encoder, policies.length)
      for (const [namespace, policy] of policies) {
        writeId(encoder, namespace)
        writePolicy(encoder, policy)
      }
      const origins = [...state.stamps.keys()].sort()
      writeUint(encoder, origins.length)
      for (const origin of origins) {
        const { floor, recent } = state.stamps.get(origin)!
        writeId(encoder, origin)
        writeUint(encoder, floor === null ? 0 : 1)
        if (floor !== null) writeHlc(encoder, floor)
        writeUint(encoder, recent.length)
        for (const stamp of recent) writeHlc(encoder, stamp)
      }
      if (state.heldConfiguration !== null) {
        writeUint(encoder, 1)
        writeConfiguration(encoder, state.heldConfiguration)
      }
    })
  }

  restore(data: Uint8Array): void {
    this.values.clear()
    this.stamps.clear()
    this.policies.replaceChanges([])
    this.writes = 0
    this.stateBytes = 0
    this.heldConfiguration = this.initialConfiguration
    if (data.length === 0) return
    const decoder = decoding.createDecoder(data)
    this.writes = readUint(decoder, Number.MAX_SAFE_INTEGER, 'writes')
    const keyCount = readUint(decoder, strongStateLimits.keysMax, 'keys')
    for (let index = 0; index < keyCount; index++) {
      const key = readText(decoder, policyLimits.keyBytesMax, 'key')
      const value = readText(decoder, limits.valueBytesMax, 'value')
      this.values.set(key, { value, version: readUint(decoder, Number.MAX_SAFE_INTEGER, 'version') })
      this.stateBytes += pairBytes(key, value)
    }
    const policyCount = readUint(decoder, policyLimits.namespacesMax, 'policies')
    const policies: [string, Policy][] = []
    for (let index = 0; index < policyCount; index++) policies.push([readId(decoder, 'namespace'), readPolicy(decoder)])
    this.policies.replaceChanges(policies)
    const originCount = readUint(decoder, strongStateLimits.originsMax, 'origins')
    for (let index = 0; index < originCount; index++) {
      const origin = readId(decoder, 'origin')
      const floor = readUint(decoder, 1, 'floor flag') === 1 ? readHlc(decoder) : null
      const recentCount = readUint(decoder, strongStateLimits.stampsPerOriginMax, 'stamps')
      const recent: Hlc[] = []
      for (let stamp = 0; stamp < recentCount; stamp++) recent.push(readHlc(decoder))
      this.stamps.set(origin, { floor, recent })
    }
    if (remaining(decoder) > 0 && readUint(decoder, 1, 'configuration flag') === 1) {
      const configuration = readConfiguration(decoder)
      // A joiner's initial configuration may be newer than a leader's snapshot: the later one stands.
      if (this.heldConfiguration === null || configuration.version >= this.heldConfiguration.version) this.heldConfiguration = configuration
    }
  }
}

/** Decodes a `query` answer. */
export function decodeKeyValue(reply: Uint8Array): KeyValue | null {
  const decoded = decodeWith(reply, readKeyValue, 'key value')
  return decoded.ok ? decoded.value : null
}

export function encodeKeyQuery(key: string): Uint8Array {
  return encodeWith(key, writeText)
}
