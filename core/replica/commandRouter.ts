/**
 * Client commands, routed by their namespace's policy (DESIGN §2) to the path
 * that serves them: strong (Raft), byzantine (PBFT), eventual (CRDT) or auto.
 * What a command can be refused for before any engine sees it is checked
 * here: its request id, its key, the policy's consistency and value type, and
 * the value's size. Follower reads of published state are answered here too.
 */
import { utf8Length } from '../codec/fields.ts'
import type { CrdtEngine } from '../crdt/engine.ts'
import type { GossipEngine } from '../gossip/engine.ts'
import { isValidId, limits } from '../lib/limits.ts'
import type { Refusal } from '../ready.ts'
import type { AutoPath } from './autoPath.ts'
import type { ByzantinePath } from './byzantinePath.ts'
import type { ReplicaCommand } from './commands.ts'
import type { ReplicaContext } from './context.ts'
import type { EventualPath } from './eventualPath.ts'
import type { Membership } from './membership.ts'
import { keyProblem, namespaceOf, policyProblem, type Consistency, type Policy } from './policy.ts'
import { publishedKey, readPublished } from './published.ts'
import { registerDeleted, registerValue } from './registerValue.ts'
import type { StrongPath } from './strongPath.ts'

export interface CommandRouterOptions {
  readonly context: ReplicaContext
  /** Stamps every write with its hybrid clock when it arrives. */
  readonly crdt: CrdtEngine
  /** Holds the published state follower reads are served from. */
  readonly gossip: GossipEngine
  readonly policyOf: (namespace: string) => Policy
  readonly strong: StrongPath
  readonly byzantine: ByzantinePath
  readonly eventual: EventualPath
  readonly auto: AutoPath
  readonly membership: Membership
}

export class CommandRouter {
  private readonly context: ReplicaContext
  private readonly crdt: CrdtEngine
  private readonly gossip: GossipEngine
  private readonly policyOf: (namespace: string) => Policy
  private readonly strong: StrongPath
  private readonly byzantine: ByzantinePath
  private readonly eventual: EventualPath
  private readonly auto: AutoPath
  private readonly membership: Membership

  constructor(options: CommandRouterOptions) {
    this.context = options.context
    this.crdt = options.crdt
    this.gossip = options.gossip
    this.policyOf = options.policyOf
    this.strong = options.strong
    this.byzantine = options.byzantine
    this.eventual = options.eventual
    this.auto = options.auto
    this.membership = options.membership
  }

  /** A refusal, or null: the request is answered exactly once, in a later Ready. */
  propose(command: ReplicaCommand): Refusal | null {
    const { requestId } = command
    if (!Number.isSafeInteger(requestId) || requestId < 0) return { code: 'invalidRequest', message: 'requestId must be a non-negative integer' }
    const admission = this.context.requests.admissionRefusal(requestId)
    if (admission !== null) return admission
    this.context.metrics.requests++
    if (command.type === 'setPolicy') return this.setPolicy(requestId, command.namespace, command.policy)
    if (command.type === 'memberJoin') return this.membership.join(requestId, command.member)
    if (command.type === 'memberRemove') return this.membership.remove(requestId, command.id)
    if (command.type === 'pbftGroupSet') return this.membership.setPbftGroup(requestId, command.replicas)
    const key = command.type === 'crdt' ? command.op.key : command.key
    const problem = keyProblem(key)
    if (problem !== null) return problem
    const policy = this.policyOf(namespaceOf(key))
    switch (command.type) {
      case 'put':
      case 'delete': {
        if (command.consistency !== undefined && command.consistency !== policy.consistency) return mismatch(key, command.consistency, policy.consistency)
        if (policy.valueType !== 'register') return { code: 'typeMismatch', message: `namespace ${namespaceOf(key)} holds ${policy.valueType} values: use crdt operations` }
        if (command.type === 'put') {
          const valueBytes = utf8Length(command.value)
          if (valueBytes > limits.valueBytesMax) return { code: 'tooLarge', message: `value is ${valueBytes} bytes; valueBytesMax is ${limits.valueBytesMax}` }
        }
        return this.write(requestId, key, command.type === 'put' ? command.value : null, policy.consistency)
      }
      case 'get':
        return this.read(requestId, key, policy.consistency, command.consistency ?? policy.consistency)
      case 'crdt':
        return this.eventual.operation(requestId, command.op, policy)
      case 'awareness':
        return this.eventual.awareness(requestId, key, command.update, policy)
    }
  }

  /** A put (value) or delete (null), stamped once here whatever path it takes. */
  private write(requestId: number, key: string, value: string | null, consistency: Consistency): Refusal | null {
    const stamp = this.crdt.hlc.now()
    switch (consistency) {
      case 'strong':
        return this.strong.write(requestId, key, value, stamp)
      case 'byzantine':
        return this.byzantine.write(requestId, key, value, stamp)
      case 'eventual':
        return this.eventual.write(requestId, key, value)
      case 'auto':
        return this.auto.write(requestId, key, value === null ? registerDeleted : registerValue(value), stamp)
    }
  }

  /** `asked` may be the namespace's consistency, or eventual: a follower read of what was published. */
  private read(requestId: number, key: string, consistency: Consistency, asked: Consistency): Refusal | null {
    if (asked !== consistency && asked !== 'eventual') return mismatch(key, asked, consistency)
    if (consistency === 'eventual' || consistency === 'auto') return this.eventual.read(requestId, key)
    if (asked === 'eventual') {
      const published = readPublished(this.gossip.update(publishedKey(consistency, key)))
      this.context.answers.reply({ type: 'reply', requestId, ok: true, path: 'published', position: { kind: 'published', version: published.version }, value: published.value })
      return null
    }
    if (consistency === 'byzantine') return this.byzantine.read(requestId, key)
    return this.strong.read(requestId, key)
  }

  private setPolicy(requestId: number, namespace: string, policy: Policy): Refusal | null {
    if (!isValidId(namespace)) return { code: 'invalidNamespace', message: `namespace ${JSON.stringify(namespace)} must be 1 to 64 characters of [A-Za-z0-9._-]` }
    const problem = policyProblem(policy)
    if (problem !== null) return problem
    return this.strong.setPolicy(requestId, namespace, policy)
  }
}

function mismatch(key: string, asked: Consistency, has: Consistency): Refusal {
  return { code: 'consistencyMismatch', message: `namespace ${namespaceOf(key)} is ${has}; ${asked} was asked (reads may ask for eventual)` }
}
