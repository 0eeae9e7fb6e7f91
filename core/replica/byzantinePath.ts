/**
 * The byzantine path (DESIGN §2): writes and reads of byzantine namespaces
 * enter PBFT at a replica of the BFT group, which is one PBFT client. A write
 * is answered when f+1 replicas agree on its result, and its value is then
 * published for follower reads everywhere.
 */
import type { NodeId } from '../ports.ts'
import type { PbftApplied, PbftEngine } from '../pbft/engine.ts'
import type { Hlc } from '../crdt/hlc.ts'
import type { Refusal } from '../ready.ts'
import { requestDeadlineMs, type ReplicaContext } from './context.ts'
import { decodeLogReply, encodeLogCommand, type LogCommand } from './logCommand.ts'
import { publishedKey } from './published.ts'
import { readRegisterValue, registerDeleted, registerValue } from './registerValue.ts'
import { decodeKeyValue, encodeKeyQuery } from './strongState.ts'

/** The PBFT client id this replica's byzantine requests carry at its own gateway. */
const pbftClient = 'replica'

export class ByzantinePath {
  private readonly context: ReplicaContext
  private readonly pbft: PbftEngine | null
  /** The running group's members (they change with its reconfigurations). */
  private readonly pbftMembers: () => readonly NodeId[]
  /** The timestamp of this replica's last request as a PBFT client: each next one is higher. */
  private lastPbftTimestamp = 0

  constructor(context: ReplicaContext, pbft: PbftEngine | null, pbftMembers: () => readonly NodeId[]) {
    this.context = context
    this.pbft = pbft
    this.pbftMembers = pbftMembers
    // Its byzantine requests go on above what the recovered group executed, whatever the wall clock says now.
    if (pbft !== null) this.lastPbftTimestamp = Math.max(0, pbft.lastExecutedTimestamp(pbftClient))
  }

  /** The engine while this replica is one of the running group, else null (an engine outside the group only follows it). */
  private get member(): PbftEngine | null {
    return this.pbft !== null && this.pbftMembers().includes(this.context.id) ? this.pbft : null
  }

  /** A put (value) or delete (null) of a byzantine namespace. */
  write(requestId: number, key: string, value: string | null, stamp: Hlc): Refusal | null {
    const pbft = this.member
    if (pbft === null) return { code: 'notInGroup', message: `byzantine writes enter at a PBFT replica (${this.pbftMembers().join(', ') || 'none configured'})` }
    const command: LogCommand = value === null ? { kind: 'delete', origin: this.context.id, stamp, key } : { kind: 'put', origin: this.context.id, stamp, key, value }
    // PBFT's client table wants increasing timestamps per client: this replica is one client.
    const timestamp = Math.max(this.lastPbftTimestamp + 1, this.context.clock.nowMs() * 1000)
    const refusal = pbft.propose({ type: 'request', client: pbftClient, timestamp, operation: encodeLogCommand(command) })
    if (refusal !== null) return refusal
    this.lastPbftTimestamp = timestamp
    const registerHeld = value === null ? registerDeleted : registerValue(value)
    this.context.requests.open({ kind: 'byzantineWrite', requestId, deadlineMs: requestDeadlineMs(this.context), key, registerValue: registerHeld, pbftTimestamp: timestamp })
    return null
  }

  /** A read of a byzantine namespace, answered by the BFT group. */
  read(requestId: number, key: string): Refusal | null {
    const pbft = this.member
    if (pbft === null) return { code: 'notInGroup', message: `byzantine reads are served by PBFT replicas (${this.pbftMembers().join(', ')}); ask with consistency=eventual for the published value` }
    const readId = this.context.nextReadId()
    const refusal = pbft.propose({ type: 'query', readId, query: encodeKeyQuery(key) })
    if (refusal !== null) return refusal
    this.context.requests.open({ kind: 'byzantineRead', requestId, deadlineMs: requestDeadlineMs(this.context), readId })
    return null
  }

  /** What PBFT answered, once the host persisted its Ready. */
  handleApplied(applied: PbftApplied): void {
    const { requests, answers } = this.context
    if (applied.type === 'query') {
      const request = requests.find({ at: 'pbftQuery', readId: applied.readId })
      if (request === undefined) return
      const held = decodeKeyValue(applied.reply)
      return answers.succeed(request, 'pbft', { kind: 'pbft', version: held?.version ?? 0 }, held?.value ?? null)
    }
    if (applied.type !== 'reply' && applied.type !== 'refused') return
    const request = requests.find({ at: 'pbftReply', timestamp: applied.timestamp })
    if (request === undefined || request.kind !== 'byzantineWrite') return
    if (applied.type === 'refused') return answers.fail(request, applied.code, 'PBFT executed a later request of this replica first; retry')
    const reply = decodeLogReply(applied.result)
    if (!reply.ok) return answers.fail(request, 'malformedReply', reply.error.message)
    if (reply.value.outcome === 'refused') return answers.fail(request, reply.value.code, reply.value.message)
    const version = reply.value.outcome === 'applied' ? reply.value.version : 0
    // f+1 replicas agree on this result: publish it for follower reads everywhere.
    if (version > 0) this.context.publish(publishedKey('byzantine', request.key), version, request.registerValue === registerDeleted ? null : readRegisterValue(request.registerValue))
    answers.succeed(request, 'pbft', { kind: 'pbft', version })
  }
}
