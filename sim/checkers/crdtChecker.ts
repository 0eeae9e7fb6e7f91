/**
 * Invariants of the CRDT engine, checked at the end of a run against the
 * reference model in crdtOracle.ts, which the checker feeds with a history it
 * records itself — never with the effects the engine reports:
 *
 * - convergence (liveness): after faults heal, every replica holds the same
 *   store digest;
 * - semantics (safety): every replica's value of every key equals the
 *   model's value over the acknowledged operations, and no replica holds a
 *   key no acknowledged operation wrote;
 * - documents (safety): every replica's text is exactly the tokens of the
 *   acknowledged inserts that no acknowledged delete took, once each;
 * - identity (safety): no dot or LWW stamp names two operations, and no
 *   replica ships a dot no acknowledged operation made;
 * - LWW causality (safety): an LWW write orders after every write of its key
 *   that had reached its replica when it was issued (crdtOracle.ts).
 *
 * Causality, the part an engine-trusting oracle gets from the engine: for
 * each replica and key the checker keeps `reached`, the dots that have
 * reached that replica — the dots of its own acknowledged writes, and the
 * dots carried live (in the value, not only in the causal context) by the
 * delta and state entries the simulator delivered to it and its engine did
 * not refuse. The checker decodes those entries from the delivered messages
 * itself. A causal operation's predecessors (`observed`) are a copy of
 * `reached` for its key at the moment the scenario issues it. For LWW
 * registers the checker keeps, the same way, the greatest write (stamp and
 * replica, compared by the oracle) that has reached each replica: its own
 * acknowledged writes and the register entries delivered to it and not
 * refused; an LWW write's `observedWriter` is that write when it is issued.
 *
 * Why that is exact for a correct engine, and durable across crashes: a
 * delivered entry is joined and synced before the delivery event ends (the
 * engine refuses an entry only with a `refusedEntry` event, which the
 * checker honours), and a local operation is acknowledged only once synced,
 * so what reached a replica survives its crashes. A dot that reached a
 * replica but is no longer live there was replaced by an operation that had
 * itself seen it live, which the model already counts as covering it; so
 * covering by `observed` gives the same survivors as covering exactly the
 * live dots. A remove that also drops an add its replica never received, or
 * an element other than its own, disagrees with the model.
 *
 * What the checker takes from the engine: acknowledgements (which request
 * became durable, and where), the names it gave operations (dots, LWW
 * stamps) and the texts it reads at issue time to name the tokens a document
 * delete removes. What it trusts: the wire codec, to read delivered entries.
 */
import type { CrdtAck, CrdtCommand, CrdtEngine, CrdtEvent } from '../../core/crdt/engine.ts'
import { readEntries, type CrdtMessage } from '../../core/crdt/messages.ts'
import type { MapField, Nested } from '../../core/crdt/causal.ts'
import type { NodeId } from '../../core/ports.ts'
import type { Ready, Refusal } from '../../core/ready.ts'
import type { SimNode, SimObserver, Simulator } from '../simulator.ts'
import type { ViolationLog } from '../violation.ts'
import { compareStamped, docProblems, docTokenPattern, expectedFrom, type RecordedOp, type StampedWrite } from './crdtOracle.ts'

type CrdtSim = Simulator<CrdtCommand, CrdtMessage, CrdtAck, CrdtEvent>
type CrdtNode = SimNode<CrdtCommand, CrdtMessage, CrdtAck, CrdtEvent>

/** An issued operation waiting for its acknowledgement. */
type Issued = Omit<RecordedOp, 'dot' | 'timestamp'>

export class CrdtChecker implements SimObserver<CrdtCommand, CrdtMessage, CrdtAck, CrdtEvent> {
  private readonly sim: CrdtSim
  private readonly violations: ViolationLog
  private readonly issued = new Map<number, Issued>()
  readonly acked: RecordedOp[] = []
  /** Per replica, per key: the dots that have reached it. */
  private readonly reached = new Map<string, Map<string, Set<string>>>()
  /** Per replica, per key: the greatest LWW write that has reached it. */
  private readonly reachedWriter = new Map<string, Map<string, StampedWrite>>()
  /** Every acknowledged write's dot, as `key|dot`. */
  private readonly dots = new Set<string>()
  /** Entries refused in the step being observed, as `replica|from|key`. */
  private readonly refusedEntries = new Set<string>()
  /** LWW writes on one key with equal stamps from different replicas (set by checkFinal). */
  lwwStampTies = 0
  /** Document tokens the final texts were checked for, per replica (set by checkFinal). */
  docTokensChecked = 0

  constructor(sim: CrdtSim, violations: ViolationLog) {
    this.sim = sim
    this.violations = violations
  }

  /** Records an operation about to be proposed to node `index`: its causal predecessors, the tokens a delete takes. */
  noteRequest(command: CrdtCommand, index: number): void {
    const node = this.sim.nodes[index]!
    const { op } = command
    const base = { requestId: command.requestId, op, replica: node.id }
    if (op.type === 'mvregister' || op.type === 'set' || op.type === 'map') {
      this.issued.set(command.requestId, { ...base, observed: new Set(this.reachedAt(node.id, op.key)) })
    } else if (op.type === 'register') {
      const seen = this.reachedWriter.get(node.id)?.get(op.key)
      this.issued.set(command.requestId, seen === undefined ? base : { ...base, observedWriter: seen })
    } else if (op.type === 'doc' && op.action === 'delete') {
      const text = (node.engine as CrdtEngine | null)?.read(op.key)
      const taken = typeof text === 'string' ? text.slice(op.index, op.index + op.count) : ''
      this.issued.set(command.requestId, { ...base, deletedTokens: taken.match(docTokenPattern) ?? [] })
    } else this.issued.set(command.requestId, base)
  }

  private reachedAt(replica: string, key: string): Set<string> {
    let byKey = this.reached.get(replica)
    if (byKey === undefined) this.reached.set(replica, (byKey = new Map()))
    let dots = byKey.get(key)
    if (dots === undefined) byKey.set(key, (dots = new Set()))
    return dots
  }

  private writerReached(replica: string, key: string, write: StampedWrite): void {
    let byKey = this.reachedWriter.get(replica)
    if (byKey === undefined) this.reachedWriter.set(replica, (byKey = new Map()))
    const held = byKey.get(key)
    if (held === undefined || compareStamped(write, held) > 0) byKey.set(key, write)
  }

  onReady(node: CrdtNode, ready: Ready<CrdtMessage, CrdtAck, CrdtEvent>): void {
    for (const ack of ready.applied) {
      const issued = this.issued.get(ack.requestId)
      this.issued.delete(ack.requestId)
      if (issued === undefined || issued.replica !== node.id) {
        this.fail('acknowledgement', 'safety', node.id, `ack for unknown request ${ack.requestId}`)
        continue
      }
      const { dot, timestamp } = ack.effect
      this.acked.push({ ...issued, ...(dot === undefined ? {} : { dot }), ...(timestamp === undefined ? {} : { timestamp }) })
      if (dot !== undefined) {
        this.dots.add(`${ack.key}|${dot}`)
        this.reachedAt(node.id, ack.key).add(dot)
      }
      if (issued.op.type === 'register' && timestamp !== undefined) this.writerReached(node.id, ack.key, { timestamp, replica: node.id })
    }
    for (const event of ready.events) if (event.kind === 'refusedEntry') this.refusedEntries.add(`${node.id}|${event.from}|${event.key}`)
  }

  /** Every dot a delivered delta or state entry carries live has reached the receiver, unless its engine refused the entry. */
  onDeliver(node: CrdtNode, from: NodeId, message: CrdtMessage, refusal: Refusal | null): void {
    if (refusal === null && (message.type === 'delta' || message.type === 'state')) {
      const entries = readEntries(message.payload)
      if (entries.ok) {
        for (const { key, delta } of entries.value) {
          if (this.refusedEntries.has(`${node.id}|${from}|${key}`)) continue
          if (delta.type === 'register' && delta.state.written) this.writerReached(node.id, key, { timestamp: delta.state.timestamp, replica: delta.state.replica })
          if (delta.type !== 'mvregister' && delta.type !== 'set' && delta.type !== 'map') continue
          const reached = this.reachedAt(node.id, key)
          for (const dot of liveDots(delta.state.root)) {
            if (!this.dots.has(`${key}|${dot}`)) this.fail('identity', 'safety', from, `${from} shipped ${key} dot ${dot}, which no acknowledged operation made`)
            reached.add(dot)
          }
        }
      }
    }
    this.refusedEntries.clear()
  }

  private engines(): CrdtEngine[] | null {
    const engines = this.sim.nodes.map((node) => node.engine as CrdtEngine | null)
    return engines.every((engine) => engine !== null) ? (engines as CrdtEngine[]) : null
  }

  /** True when every replica is up and all store digests are equal. */
  converged(): boolean {
    const engines = this.engines()
    if (engines === null) return false
    const digest = engines[0]!.status().storeDigest
    return engines.every((engine) => engine.status().storeDigest === digest)
  }

  /** The end-of-run verdict: convergence, then every key against the reference model. */
  checkFinal(): void {
    const expected = expectedFrom(this.acked)
    this.lwwStampTies = expected.lwwStampTies
    for (const anomaly of expected.anomalies) this.fail('identity', 'safety', undefined, anomaly)
    const causality = expected.causalityProblems
    if (causality.length > 0) this.fail('lwwCausality', 'safety', undefined, `${causality[0]}${causality.length > 1 ? ` (+${causality.length - 1} more)` : ''}`)
    const engines = this.engines()
    if (engines === null || !this.converged()) {
      const digests = this.sim.nodes.map((node) => `${node.id}=${node.engine === null ? 'down' : (node.engine as CrdtEngine).status().storeDigest.slice(0, 8)}`)
      this.fail('convergence', 'liveness', undefined, `replicas differ after healing: ${digests.join(' ')}`)
      return
    }
    for (const engine of engines) {
      for (const [key, want] of expected.values) {
        const got = engine.read(key)
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          this.fail('semantics', 'safety', engine.id, `${key}: expected ${JSON.stringify(want)}, holds ${JSON.stringify(got)}`)
        }
      }
      for (const [key, tokens] of expected.docTokens) {
        this.docTokensChecked += tokens.size + expected.docDeleted.get(key)!.size
        const text = engine.read(key)
        const problems = typeof text === 'string' ? docProblems(text, tokens, expected.docDeleted.get(key)!) : [`holds ${JSON.stringify(text)}, not a text`]
        if (problems.length > 0) this.fail('documents', 'safety', engine.id, `${key}: ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? ` (+${problems.length - 3} more)` : ''}`)
      }
      for (const { key } of engine.keyDigests()) {
        if (!expected.values.has(key) && !expected.docTokens.has(key)) this.fail('semantics', 'safety', engine.id, `${key}: held, but no acknowledged operation wrote it`)
      }
    }
  }

  private fail(invariant: string, kind: 'safety' | 'liveness', node: string | undefined, message: string): void {
    this.violations.add({ seed: this.sim.seed, invariant, kind, atMs: Math.floor(this.sim.nowUs / 1000), ...(node === undefined ? {} : { node }), message })
  }
}

/** The dots a store holds live (in its values, not only in its causal context). */
function liveDots(store: Nested | MapField, into: string[] = []): string[] {
  if (!('kind' in store)) {
    for (const dot of store.register.keys()) into.push(dot)
    for (const child of store.fields.values()) liveDots(child, into)
  } else if (store.kind === 'mv') for (const dot of store.dots.keys()) into.push(dot)
  else if (store.kind === 'set') for (const dots of store.elements.values()) for (const dot of dots) into.push(dot)
  else for (const child of store.fields.values()) liveDots(child, into)
  return into
}
