/**
 * The eventual path (DESIGN §2): writes and typed operations of eventual
 * namespaces go into the CRDT engine and are answered once durable; reads
 * are answered at once from what this replica holds; awareness updates are
 * relayed, never stored. Auto writes take their CRDT path through `propose`.
 */
import type { CrdtAck, CrdtEngine } from '../crdt/engine.ts'
import type { CrdtOp } from '../crdt/ops.ts'
import { err, ok, type Result } from '../lib/result.ts'
import type { Refusal } from '../ready.ts'
import type { Position } from './commands.ts'
import { requestDeadlineMs, type ReplicaContext } from './context.ts'
import { namespaceOf, type Policy } from './policy.ts'
import { readRegisterValue, registerDeleted, registerValue } from './registerValue.ts'

export class EventualPath {
  private readonly context: ReplicaContext
  private readonly crdt: CrdtEngine
  /** Ids of this replica's requests in the CRDT engine's request space (0 is left to writes nobody waits for). */
  private nextCrdtId = 1

  constructor(context: ReplicaContext, crdt: CrdtEngine) {
    this.context = context
    this.crdt = crdt
  }

  /** Proposes an operation to the CRDT engine: the id its ack will carry, or the engine's refusal. */
  propose(op: CrdtOp): Result<number, Refusal> {
    const crdtId = this.nextCrdtId++
    const refusal = this.crdt.propose({ requestId: crdtId, op })
    return refusal === null ? ok(crdtId) : err(refusal)
  }

  /** A put (value) or delete (null) of a register in an eventual namespace. */
  write(requestId: number, key: string, value: string | null): Refusal | null {
    return this.proposeWaiting(requestId, { type: 'register', key, value: value === null ? registerDeleted : registerValue(value) })
  }

  /** A typed operation, checked against the namespace's policy. */
  operation(requestId: number, op: CrdtOp, policy: Policy): Refusal | null {
    if (policy.consistency !== 'eventual') return { code: 'consistencyMismatch', message: `crdt operations need an eventual namespace; ${namespaceOf(op.key)} is ${policy.consistency}` }
    const matches = op.type === policy.valueType || (policy.valueType === 'register' && op.type === 'mvregister')
    if (!matches || (op.type === 'register' && op.at !== undefined)) return { code: 'typeMismatch', message: `namespace ${namespaceOf(op.key)} holds ${policy.valueType} values, not ${op.type}` }
    if (op.type === 'register') return { code: 'typeMismatch', message: 'register values are written with put and delete' }
    return this.proposeWaiting(requestId, op)
  }

  /** A y-protocols awareness update of a document: relayed to every peer and answered at once (it is not durable). */
  awareness(requestId: number, key: string, update: Uint8Array, policy: Policy): Refusal | null {
    if (policy.consistency !== 'eventual' || policy.valueType !== 'doc') return { code: 'typeMismatch', message: `awareness is for documents; namespace ${namespaceOf(key)} holds ${policy.consistency} ${policy.valueType} values` }
    const refusal = this.crdt.publishAwareness(key, update)
    if (refusal !== null) return refusal
    this.context.answers.reply({ type: 'reply', requestId, ok: true, path: 'crdt', position: { kind: 'crdt', timestamp: null, replica: null } })
    return null
  }

  /** A read of an eventual or auto namespace: what this replica holds now, as `crdt.read` gives it (a document's text, a counter's number...). */
  read(requestId: number, key: string): null {
    // Only LWW registers hold tagged values (registerValue.ts), whatever the value's JS type: a document's text is a string too.
    const register = this.crdt.register(key)
    const value = register !== undefined ? (register.written ? readRegisterValue(register.value) : null) : (this.crdt.read(key) ?? null)
    this.context.answers.reply({ type: 'reply', requestId, ok: true, path: 'local', position: { kind: 'crdt', timestamp: null, replica: null }, value })
    return null
  }

  /** The CRDT engine made an operation durable: its request, if one waits, is answered. */
  handleApplied(ack: CrdtAck): void {
    const request = this.context.requests.find({ at: 'crdtAck', crdtId: ack.requestId })
    if (request === undefined) return
    const position: Position = { kind: 'crdt', timestamp: ack.effect.timestamp ?? null, replica: ack.effect.timestamp === undefined ? null : this.context.id }
    if (request.kind === 'autoWrite' || ack.type === 'register') return this.context.answers.succeed(request, 'crdt', position)
    this.context.answers.succeed(request, 'crdt', position, ack.value)
  }

  private proposeWaiting(requestId: number, op: CrdtOp): Refusal | null {
    const deadlineMs = requestDeadlineMs(this.context)
    const crdtId = this.propose(op)
    if (!crdtId.ok) return crdtId.error
    this.context.requests.open({ kind: 'crdtWrite', requestId, deadlineMs, crdtId: crdtId.value })
    return null
  }
}
