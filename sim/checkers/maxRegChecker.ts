/**
 * Invariants of the replicated max-register, checked while the run goes on
 * (safety) and at its end (liveness):
 *
 * - validity: a node's value is 0 or a value some client proposed;
 * - monotonic: within one incarnation a node's value never decreases;
 * - durability: after a restart a node's value is at least every value it
 *   acknowledged before the crash (acknowledged means synced);
 * - acknowledgement: an ack for a write of x reports a value >= x;
 * - convergence (liveness): after faults heal and the cluster settles, every
 *   node holds the same value, and it is at least every acknowledged value.
 */
import type { MaxRegAck, MaxRegEngine, MaxRegEvent, MaxRegWrite } from '../../core/maxreg/engine.ts'
import type { MaxRegMessage } from '../../core/maxreg/messages.ts'
import type { Ready } from '../../core/ready.ts'
import type { SimNode, SimObserver, Simulator } from '../simulator.ts'
import type { ViolationLog } from '../violation.ts'

type MaxRegNode = SimNode<MaxRegWrite, MaxRegMessage, MaxRegAck, MaxRegEvent>

export class MaxRegChecker implements SimObserver<MaxRegWrite, MaxRegMessage, MaxRegAck, MaxRegEvent> {
  private readonly proposed = new Set<number>([0])
  private readonly requested = new Map<number, number>()
  private readonly lastValue: number[]
  private readonly maxAckedByNode: number[]
  maxAcked = 0
  acks = 0

  private readonly sim: Simulator<MaxRegWrite, MaxRegMessage, MaxRegAck, MaxRegEvent>
  private readonly violations: ViolationLog

  constructor(sim: Simulator<MaxRegWrite, MaxRegMessage, MaxRegAck, MaxRegEvent>, violations: ViolationLog) {
    this.sim = sim
    this.violations = violations
    this.lastValue = sim.nodes.map(() => 0)
    this.maxAckedByNode = sim.nodes.map(() => 0)
  }

  /** The scenario's client tells the checker what it asks for, before asking. */
  noteProposal(write: MaxRegWrite): void {
    this.proposed.add(write.value)
    this.requested.set(write.requestId, write.value)
  }

  private valueOf(node: MaxRegNode): number {
    return (node.engine as MaxRegEngine).status().value
  }

  onStart(node: MaxRegNode, restarted: boolean): void {
    const value = this.valueOf(node)
    if (restarted && value < this.maxAckedByNode[node.index]!) {
      this.fail('durability', 'safety', node, `recovered ${value} after acknowledging ${this.maxAckedByNode[node.index]}`)
    }
    this.lastValue[node.index] = value
  }

  onReady(node: MaxRegNode, ready: Ready<MaxRegMessage, MaxRegAck, MaxRegEvent>): void {
    const value = this.valueOf(node)
    if (!this.proposed.has(value)) this.fail('validity', 'safety', node, `value ${value} was never proposed`)
    if (value < this.lastValue[node.index]!) this.fail('monotonic', 'safety', node, `value went from ${this.lastValue[node.index]} to ${value}`)
    this.lastValue[node.index] = value
    for (const ack of ready.applied) {
      this.acks++
      const requestedValue = this.requested.get(ack.requestId)
      this.requested.delete(ack.requestId)
      if (requestedValue === undefined) {
        this.fail('acknowledgement', 'safety', node, `ack for unknown request ${ack.requestId}`)
        continue
      }
      if (ack.value < requestedValue) this.fail('acknowledgement', 'safety', node, `ack of ${ack.value} for a write of ${requestedValue}`)
      this.maxAckedByNode[node.index] = Math.max(this.maxAckedByNode[node.index]!, requestedValue)
      this.maxAcked = Math.max(this.maxAcked, requestedValue)
    }
  }

  /** True when every node is up and holds the same value, at least the highest acknowledged one. */
  converged(): boolean {
    const first = this.sim.nodes[0]!
    if (first.engine === null) return false
    const value = this.valueOf(first)
    if (value < this.maxAcked) return false
    return this.sim.nodes.every((node) => node.engine !== null && this.valueOf(node) === value)
  }

  /** The liveness verdict at the end of the run. */
  checkConverged(): void {
    if (this.converged()) return
    const values = this.sim.nodes.map((node) => `${node.id}=${node.engine === null ? 'down' : this.valueOf(node)}`).join(' ')
    this.fail('convergence', 'liveness', null, `not converged to >= ${this.maxAcked}: ${values}`)
  }

  private fail(invariant: string, kind: 'safety' | 'liveness', node: MaxRegNode | null, message: string): void {
    this.violations.add({
      seed: this.sim.seed,
      invariant,
      kind,
      atMs: Math.floor(this.sim.nowUs / 1000),
      ...(node === null ? {} : { node: node.id }),
      message,
    })
  }
}
