/**
 * The Raft paper's safety properties (Figure 3), checked as the run goes:
 *
 * - election safety: at most one leader per term;
 * - state machine safety: no two nodes apply different entries at one index;
 * - leader completeness: a new leader's log holds every entry applied anywhere so far;
 * - log matching: two logs that hold an entry of the same index and term are
 *   identical up to it (checked on demand, at the end of a run);
 * - terms only grow: a node's current term never decreases, not even across a
 *   crash (Figure 2: currentTerm is persistent and increases monotonically), so
 *   a node never goes back to a term it has left;
 * - one leader recognized per term: a node that names a leader for term T names
 *   the node that won term T's election. A node that took an append from an
 *   older term's leader as if it came from its current leader (the receiver
 *   rule "reply false if term < currentTerm" broken) names a node that never
 *   led its term, and would forward clients to it and take its entries.
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
  /** The highest term each node has reported (a crash keeps it: the term is synced before anything depends on it). */
  private readonly termByNode = new Map<NodeId, number>()
  /** Leaders named by followers for a term whose winner was not yet known: term → (follower → named leader). */
  private readonly namedBeforeElected = new Map<number, Map<NodeId, NodeId>>()
  /** What was applied at each index (committed): the first node's entry, that every other must equal. */
  readonly applied = new Map<number, AppliedEntry>()
  elections = 0

  constructor(sim: RaftSim, violations: ViolationLog) {
    this.sim = sim
    this.violations = violations
  }

  onReady(node: RaftNode, ready: Ready<RaftMessage, RaftApplied, RaftEvent>): void {
    for (const event of ready.events) {
      if (event.kind !== 'role') continue
      this.checkTermGrows(node.id, event.term)
      if (event.role !== 'leader') {
        if (event.leader !== null) this.checkNamedLeader(node.id, event.term, event.leader)
        continue
      }
      this.elections++
      const held = this.leaders.get(event.term)
      if (held !== undefined && held !== node.id) this.fail('electionSafety', node.id, `${held} and ${node.id} both lead term ${event.term}`)
      this.leaders.set(event.term, node.id)
      for (const [follower, named] of this.namedBeforeElected.get(event.term) ?? []) this.checkNamedLeader(follower, event.term, named)
      this.namedBeforeElected.delete(event.term)
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

  private checkTermGrows(id: NodeId, term: number): void {
    const held = this.termByNode.get(id) ?? 0
    if (term < held) this.fail('termMonotonic', id, `${id} went back from term ${held} to term ${term}`)
    else this.termByNode.set(id, term)
  }

  private checkNamedLeader(follower: NodeId, term: number, named: NodeId): void {
    const elected = this.leaders.get(term)
    if (elected === undefined) {
      // A leader's election is reported in the Ready that sends its first message, so this is rare; decide when it is known.
      let pending = this.namedBeforeElected.get(term)
      if (pending === undefined) this.namedBeforeElected.set(term, (pending = new Map()))
      pending.set(follower, named)
    } else if (elected !== named) {
      this.fail('oneLeaderPerTerm', follower, `${follower} follows ${named} in term ${term}, which ${elected} won`)
    }
  }

  /** At the end of a run: every leader a follower named was elected in that term. */
  checkNamedLeadersElected(): void {
    for (const [term, named] of this.namedBeforeElected) {
      for (const [follower, leader] of named) this.fail('oneLeaderPerTerm', follower, `${follower} follows ${leader} in term ${term}, which no node won`)
    }
  }

  private checkCompleteness(node: RaftNode): void {
    const engine = node.engine as RaftEngine
    const status = engine.status()
    for (const [index, entry] of this.applied) {
      if (index <= status.snapshot.index) continue
      const term = engine.entry(index)?.term
      if (term !== entry.term) this.fail('leaderCompleteness', node.id, `new leader ${node.id} (term ${status.term}) lacks committed entry ${index}@t${entry.term} (holds ${term === undefined ? 'nothing' : `t${term}`})`)
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
    const [x, y] = [left.engine as RaftEngine, right.engine as RaftEngine]
    const [xs, ys] = [x.status(), y.status()]
    const low = Math.max(xs.firstIndex, ys.firstIndex)
    let matched = false
    for (let index = Math.min(xs.lastIndex, ys.lastIndex); index >= low; index--) {
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
