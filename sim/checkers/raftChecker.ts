/**
 * The Raft paper's safety properties (Figure 3), checked as the run goes:
 *
 * - election safety: at most one leader per term;
 * - state machine safety: no two nodes apply different entries at one index;
 * - leader completeness: a new leader's log holds every entry applied anywhere so far;
 * - log matching: two logs that hold an entry of the same index and term are
 *   identical up to it (checked on demand, at the end of a run).
 */
import type { NodeId } from '../../core/ports.ts'
import type { Ready } from '../../core/ready.ts'
import type { RaftApplied, RaftCommand, RaftEngine, RaftEvent } from '../../core/raft/engine.ts'
import type { RaftMessage } from '../../core/raft/messages.ts'
import { fnv1a32Bytes } from '../../core/lib/hash.ts'
import type { SimNode, SimObserver, Simulator } from '../simulator.ts'
import type { ViolationLog } from '../violation.ts'

type RaftSim = Simulator<RaftCommand, RaftMessage, RaftApplied, RaftEvent>
type RaftNode = SimNode<RaftCommand, RaftMessage, RaftApplied, RaftEvent>

interface AppliedEntry {
  readonly term: number
  readonly dataHash: number
  readonly by: NodeId
}

export class RaftChecker implements SimObserver<RaftCommand, RaftMessage, RaftApplied, RaftEvent> {
  private readonly sim: RaftSim
  private readonly violations: ViolationLog
  private readonly leaders = new Map<number, NodeId>()
  /** What was applied at each index (committed): the first node's entry, that every other must equal. */
  readonly applied = new Map<number, AppliedEntry>()
  elections = 0

  constructor(sim: RaftSim, violations: ViolationLog) {
    this.sim = sim
    this.violations = violations
  }

  onReady(node: RaftNode, ready: Ready<RaftMessage, RaftApplied, RaftEvent>): void {
    for (const event of ready.events) {
      if (event.kind !== 'role' || event.role !== 'leader') continue
      this.elections++
      const held = this.leaders.get(event.term)
      if (held !== undefined && held !== node.id) this.fail('electionSafety', node.id, `${held} and ${node.id} both lead term ${event.term}`)
      this.leaders.set(event.term, node.id)
      this.checkCompleteness(node)
    }
    for (const applied of ready.applied) {
      if (applied.type !== 'entry') continue
      const entry: AppliedEntry = { term: applied.term, dataHash: fnv1a32Bytes(applied.data), by: node.id }
      const held = this.applied.get(applied.index)
      if (held === undefined) this.applied.set(applied.index, entry)
      else if (held.term !== entry.term || held.dataHash !== entry.dataHash) {
        this.fail('stateMachineSafety', node.id, `${node.id} applied ${applied.index}@t${entry.term}, ${held.by} applied ${applied.index}@t${held.term} with other data`)
      }
    }
  }

  private checkCompleteness(node: RaftNode): void {
    const engine = node.engine as RaftEngine
    for (const [index, entry] of this.applied) {
      if (index <= engine.log.snapshot.index) continue
      const term = engine.log.term(index)
      if (term !== entry.term) this.fail('leaderCompleteness', node.id, `new leader ${node.id} (term ${engine.term}) lacks committed entry ${index}@t${entry.term} (holds ${term === undefined ? 'nothing' : `t${term}`})`)
    }
  }

  /** Log matching between every pair of live nodes. */
  checkLogMatching(): void {
    const live = this.sim.nodes.filter((node) => node.engine !== null)
    for (let a = 0; a < live.length; a++) {
      for (let b = a + 1; b < live.length; b++) this.checkPair(live[a]!, live[b]!)
    }
  }

  private checkPair(left: RaftNode, right: RaftNode): void {
    const [x, y] = [(left.engine as RaftEngine).log, (right.engine as RaftEngine).log]
    const low = Math.max(x.firstIndex, y.firstIndex)
    let matched = false
    for (let index = Math.min(x.lastIndex, y.lastIndex); index >= low; index--) {
      const [ex, ey] = [x.entry(index)!, y.entry(index)!]
      if (!matched) matched = ex.term === ey.term
      if (matched && (ex.term !== ey.term || fnv1a32Bytes(ex.data) !== fnv1a32Bytes(ey.data))) {
        return this.fail('logMatching', left.id, `${left.id} and ${right.id} share an entry of equal index and term but differ at ${index}`)
      }
    }
  }

  private fail(invariant: string, node: NodeId, message: string): void {
    this.violations.add({ seed: this.sim.seed, invariant, kind: 'safety', atMs: Math.floor(this.sim.nowUs / 1000), node, message })
  }
}
