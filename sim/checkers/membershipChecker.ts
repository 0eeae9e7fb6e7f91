/**
 * SWIM membership agreement, a liveness property checked after faults heal:
 * at one instant, every live node sees every live node alive or suspect, and
 * every down node as dead, left or not at all. The truth is the simulator's
 * (which nodes are up), not any engine's view.
 *
 * A live member seen as suspect is not a disagreement: under steady message
 * loss new false suspicions arise all the time (at 200 nodes and 10% loss, at
 * every instant some node suspects some member) and SWIM settles each by
 * refutation before its timeout. A suspicion that is never refuted ends as
 * `dead`, which is a disagreement; a down member still seen as suspect is one
 * too (its suspicion must have run out).
 *
 * And SWIM's precedence rule, a safety property checked on every change a
 * node reports: a node's view of a member never goes back to an older
 * incarnation, and at one incarnation only moves alive → suspect → dead (or
 * left). News about an older incarnation is stale — a refutation raised the
 * incarnation precisely so that the old accusation stops counting — and a
 * node that applies it anyway turns a live, refuted member suspect or dead
 * again. A node that restarts knows nothing and starts over.
 */
import type { GossipApplied, GossipCommand, GossipEngine, GossipEvent } from '../../core/gossip/engine.ts'
import type { GossipMessage, MemberState } from '../../core/gossip/messages.ts'
import type { Simulator } from '../simulator.ts'
import { runTo, type RunSteps } from '../steps.ts'
import type { ViolationLog } from '../violation.ts'

type GossipSim = Simulator<GossipCommand, GossipMessage, GossipApplied, GossipEvent>

/** Places named in a violation's message (the rest are counted as "…"). */
const disagreementsShownMax = 6

export class MembershipChecker {
  private readonly sim: GossipSim
  private readonly violations: ViolationLog
  private readonly seed: number

  /** Per viewer, per member: the latest incarnation and state rank it reported. */
  private readonly views = new Map<string, Map<string, { incarnation: number; rank: number }>>()

  constructor(sim: GossipSim, violations: ViolationLog, seed: number) {
    this.sim = sim
    this.violations = violations
    this.seed = seed
    sim.observers.push({
      onStart: (node, restarted) => {
        if (restarted) this.views.delete(node.id)
      },
      onReady: (node, ready) => {
        for (const event of ready.events) if (event.kind === 'member') this.checkPrecedence(node.id, event.member, event.incarnation, event.state)
      },
    })
  }

  private checkPrecedence(viewer: string, member: string, incarnation: number, state: string): void {
    let view = this.views.get(viewer)
    if (view === undefined) this.views.set(viewer, (view = new Map()))
    const rank = state === 'alive' ? 0 : state === 'suspect' ? 1 : 2
    const held = view.get(member)
    if (held !== undefined && (incarnation < held.incarnation || (incarnation === held.incarnation && rank < held.rank))) {
      this.violations.add({
        seed: this.seed,
        invariant: 'incarnationOrder',
        kind: 'safety',
        atMs: Math.floor(this.sim.nowUs / 1000),
        node: viewer,
        message: `${viewer} moved ${member} to ${state} at incarnation ${incarnation} after holding incarnation ${held.incarnation}${incarnation === held.incarnation ? ` at a later state` : ''}`,
      })
    }
    view.set(member, { incarnation, rank })
  }

  /** Up to `countMax` places where a live node's view differs from the truth, as "viewer sees member=state (is up|down)". */
  disagreements(countMax: number): string[] {
    const out: string[] = []
    for (const node of this.sim.nodes) {
      const engine = node.engine as GossipEngine | null
      if (engine === null) continue
      const states = new Map<string, MemberState>()
      for (const member of engine.status().members) states.set(member.id, member.state)
      for (const other of this.sim.nodes) {
        const state = states.get(other.id) ?? 'unknown'
        const up = other.engine !== null
        if (up ? state === 'alive' || state === 'suspect' : state !== 'alive' && state !== 'suspect') continue
        out.push(`${node.id} sees ${other.id}=${state} (is ${up ? 'up' : 'down'})`)
        if (out.length >= countMax) return out
      }
    }
    return out
  }

  agreed(): boolean {
    return this.disagreements(1).length === 0
  }

  /**
   * Runs the simulation (as steps: sim/steps.ts) until the live nodes agree (looked at every `probeUs`) or `limitUs` passes.
   * Returns the seconds agreement took, or null after recording a liveness violation named `invariant`
   * whose message starts with `failure` and names where views still differ.
   */
  *awaitAgreement(invariant: string, limitUs: number, probeUs: number, failure: string): RunSteps<number | null> {
    const startUs = this.sim.nowUs
    const endUs = startUs + limitUs
    while (!this.agreed() && this.sim.nowUs < endUs) yield* runTo(this.sim, Math.min(endUs, this.sim.nowUs + probeUs))
    if (this.agreed()) return Math.round((this.sim.nowUs - startUs) / 1000) / 1000
    const places = this.disagreements(disagreementsShownMax + 1)
    const shown = places.slice(0, disagreementsShownMax).join(', ') + (places.length > disagreementsShownMax ? ', …' : '')
    this.violations.add({ seed: this.seed, invariant, kind: 'liveness', atMs: Math.floor(this.sim.nowUs / 1000), message: `${failure}: ${shown}` })
    return null
  }
}
