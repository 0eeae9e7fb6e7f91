/**
 * Invariants of the CRDT engine, checked at the end of a run against an
 * oracle built only from acknowledged operations (not from the engine's join):
 *
 * - convergence (liveness): after faults heal, every replica holds the same
 *   store digest;
 * - semantics (safety): every replica's values equal the types' sequential
 *   semantics over the acknowledged operations — counter = increments minus
 *   decrements; LWW register = the write with the greatest timestamp; MV
 *   register, OR-set and OR-map = the writes and adds whose dot no
 *   acknowledged operation overwrote or removed (add-wins);
 * - documents: every replica has the same text.
 */
import { compareHlc, type Hlc } from '../../core/crdt/hlc.ts'
import type { CrdtAck, CrdtCommand, CrdtEngine, CrdtEvent } from '../../core/crdt/engine.ts'
import type { CrdtMessage } from '../../core/crdt/messages.ts'
import type { CrdtOp } from '../../core/crdt/ops.ts'
import type { NestedValue } from '../../core/crdt/causal.ts'
import type { PlainValue } from '../../core/crdt/value.ts'
import type { Ready } from '../../core/ready.ts'
import type { SimNode, SimObserver, Simulator } from '../simulator.ts'
import type { ViolationLog } from '../violation.ts'

type CrdtSim = Simulator<CrdtCommand, CrdtMessage, CrdtAck, CrdtEvent>
type CrdtNode = SimNode<CrdtCommand, CrdtMessage, CrdtAck, CrdtEvent>

interface AckedOp {
  readonly op: CrdtOp
  readonly ack: CrdtAck
  readonly replica: string
}

export class CrdtChecker implements SimObserver<CrdtCommand, CrdtMessage, CrdtAck, CrdtEvent> {
  private readonly sim: CrdtSim
  private readonly violations: ViolationLog
  private readonly requests = new Map<number, CrdtOp>()
  readonly acked: AckedOp[] = []

  constructor(sim: CrdtSim, violations: ViolationLog) {
    this.sim = sim
    this.violations = violations
  }

  noteRequest(command: CrdtCommand): void {
    this.requests.set(command.requestId, command.op)
  }

  onReady(node: CrdtNode, ready: Ready<CrdtMessage, CrdtAck, CrdtEvent>): void {
    for (const ack of ready.applied) {
      const op = this.requests.get(ack.requestId)
      this.requests.delete(ack.requestId)
      if (op === undefined) this.fail('acknowledgement', 'safety', node.id, `ack for unknown request ${ack.requestId}`)
      else this.acked.push({ op, ack, replica: node.id })
    }
  }

  private engines(): CrdtEngine[] | null {
    const engines = this.sim.nodes.map((node) => node.engine as CrdtEngine | null)
    return engines.every((engine) => engine !== null) ? (engines as CrdtEngine[]) : null
  }

  /** True when every replica is up and all store digests are equal. */
  converged(): boolean {
    const engines = this.engines()
    if (engines === null) return false
    const digest = engines[0]!.storeDigest()
    return engines.every((engine) => engine.storeDigest() === digest)
  }

  /** The end-of-run verdict: convergence, then every key against the oracle. */
  checkFinal(): void {
    const engines = this.engines()
    if (engines === null || !this.converged()) {
      const digests = this.sim.nodes.map((node) => `${node.id}=${node.engine === null ? 'down' : (node.engine as CrdtEngine).storeDigest().slice(0, 8)}`)
      this.fail('convergence', 'liveness', undefined, `replicas differ after healing: ${digests.join(' ')}`)
      return
    }
    const expected = oracle(this.acked)
    for (const engine of engines) {
      for (const [key, want] of expected) {
        const got = engine.read(key)
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          this.fail('semantics', 'safety', engine.id, `${key}: expected ${JSON.stringify(want)}, holds ${JSON.stringify(got)}`)
        }
      }
    }
    const texts = new Set(engines.flatMap((engine) => [...engine.store].filter(([, value]) => value.type === 'doc').map(([key]) => `${key}=${JSON.stringify(engine.read(key))}`)))
    const docKeys = new Set([...texts].map((entry) => entry.slice(0, entry.indexOf('='))))
    if (texts.size !== docKeys.size) this.fail('documents', 'safety', undefined, 'replicas hold different document texts')
  }

  private fail(invariant: string, kind: 'safety' | 'liveness', node: string | undefined, message: string): void {
    this.violations.add({ seed: this.sim.seed, invariant, kind, atMs: Math.floor(this.sim.nowUs / 1000), ...(node === undefined ? {} : { node }), message })
  }
}

/** Expected plain values per key from acknowledged operations alone (documents excluded). */
export function oracle(acked: readonly AckedOp[]): Map<string, PlainValue> {
  // Dots are unique within one key's causal context, so they are named with their key.
  const covered = new Set<string>()
  for (const { ack } of acked) for (const dot of ack.effect.covered) covered.add(`${ack.key}|${dot}`)
  const survives = (ack: CrdtAck) => ack.effect.dot !== undefined && !covered.has(`${ack.key}|${ack.effect.dot}`)
  const expected = new Map<string, PlainValue>()
  const lww = new Map<string, { timestamp: Hlc; replica: string; value: string }>()
  const leaves = new Map<string, Map<string, Set<string>>>()
  for (const { op, ack, replica } of acked) {
    switch (op.type) {
      case 'counter':
        expected.set(op.key, ((expected.get(op.key) as number | undefined) ?? 0) + op.amount)
        break
      case 'register': {
        const held = lww.get(op.key)
        const timestamp = ack.effect.timestamp!
        if (held === undefined || compareHlc(timestamp, held.timestamp) > 0 || (compareHlc(timestamp, held.timestamp) === 0 && replica > held.replica)) {
          lww.set(op.key, { timestamp, replica, value: op.value })
        }
        break
      }
      case 'mvregister':
      case 'set':
      case 'map': {
        const byPath = leaves.get(op.key) ?? new Map<string, Set<string>>()
        leaves.set(op.key, byPath)
        if (!survives(ack)) break
        const path = op.type === 'map' ? op.path.join('\u0000') : op.type === 'set' ? op.element : ''
        const value = op.type === 'set' ? op.element : op.type === 'map' && op.action === 'put' ? op.value : op.type === 'mvregister' ? op.value : ''
        const values = byPath.get(path) ?? new Set<string>()
        values.add(value)
        byPath.set(path, values)
        break
      }
      case 'doc':
        break
    }
  }
  for (const [key, entry] of lww) expected.set(key, entry.value)
  for (const { op } of acked) {
    if (op.type !== 'mvregister' && op.type !== 'set' && op.type !== 'map') continue
    const byPath = leaves.get(op.key)!
    if (op.type === 'mvregister') expected.set(op.key, [...(byPath.get('') ?? [])].sort())
    else if (op.type === 'set') expected.set(op.key, [...byPath.keys()].sort())
    else {
      const root: { [field: string]: NestedValue } = {}
      for (const [path, values] of [...byPath].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        const fields = path.split('\u0000')
        let node = root
        for (const field of fields.slice(0, -1)) node = (node[field] ??= {}) as { [field: string]: NestedValue }
        node[fields[fields.length - 1]!] = [...values].sort()
      }
      expected.set(op.key, sortObject(root))
    }
  }
  return expected
}

function sortObject(value: NestedValue): NestedValue {
  if (Array.isArray(value)) return value
  const out: { [field: string]: NestedValue } = {}
  for (const key of Object.keys(value).sort()) out[key] = sortObject((value as { readonly [field: string]: NestedValue })[key]!)
  return out
}
