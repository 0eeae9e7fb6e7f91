/**
 * Checks the mode detector against the injected latency plan.
 *
 * - Detection: when a phase changes a cross-region link's true mode, the
 *   link's detector must decide a change in that direction within 3 probe
 *   intervals plus the new round trip (the third probe's answer has to travel
 *   back), and reach the new mode within the phase. `detectionMs` samples the
 *   time from the latency change to that first decision. Probes in flight
 *   across the change measure a mix of old and new latency, so a link may
 *   pass through the middle mode on its way (internet → hybrid → datacenter).
 * - No flapping: within one phase a link's detected mode never turns back
 *   (a change of the opposite direction to the previous one): noise moving
 *   the mode back and forth is what the hysteresis must prevent.
 */
import type { ModeChangedEvent } from '../../core/adaptive/modeEvents.ts'
import { modeRank } from '../../core/adaptive/mode.ts'
import type { NodeId } from '../../core/ports.ts'
import { maxRttMs, truthMode, type LatencyPlan } from '../latencyPlan.ts'
import type { ViolationLog } from '../violation.ts'

interface SeenChange {
  readonly node: NodeId
  readonly atUs: number
  readonly event: ModeChangedEvent
}

export interface ModeCheckOptions {
  readonly seed: number
  readonly plan: LatencyPlan
  readonly regionOf: ReadonlyMap<NodeId, string>
  readonly probeIntervalMs: number
  /** Changes by partitions are not latency changes: links across a partition are skipped until it heals. */
  readonly linkDisturbed: (node: NodeId, peer: NodeId, fromUs: number, toUs: number) => boolean
  /** Time the run ended. */
  readonly endUs: number
}

export class ModeChecker {
  readonly changes: SeenChange[] = []

  record(node: NodeId, atUs: number, event: ModeChangedEvent): void {
    this.changes.push({ node, atUs, event })
  }

  /** Link changes with reason `detected`, by `node>peer`. */
  private linkChanges(): Map<string, SeenChange[]> {
    const byLink = new Map<string, SeenChange[]>()
    for (const change of this.changes) {
      if (change.event.scope !== 'link' || change.event.reason !== 'detected') continue
      const key = `${change.node}>${change.event.id}`
      const list = byLink.get(key)
      if (list === undefined) byLink.set(key, [change])
      else list.push(change)
    }
    return byLink
  }

  check(options: ModeCheckOptions, violations: ViolationLog): { detectionMs: number[]; flaps: number; detectionsMissed: number } {
    const { plan, regionOf } = options
    const byLink = this.linkChanges()
    const detectionMs: number[] = []
    let flaps = 0
    let detectionsMissed = 0
    const nodes = [...regionOf.keys()]
    for (const node of nodes) {
      for (const peer of nodes) {
        if (peer === node || regionOf.get(peer) === regionOf.get(node)) continue
        const changes = byLink.get(`${node}>${peer}`) ?? []
        for (let phase = 0; phase < plan.applied.length; phase++) {
          const startUs = plan.applied[phase]!.phase.startUs
          const endUs = phase + 1 < plan.applied.length ? plan.applied[phase + 1]!.phase.startUs : options.endUs
          if (options.linkDisturbed(node, peer, startUs, endUs)) continue
          const latency = plan.latency(phase, regionOf.get(node)!, regionOf.get(peer)!)!
          const truth = truthMode(latency)
          const inPhase = changes.filter((change) => change.atUs >= startUs && change.atUs < endUs)
          for (let index = 1; index < inPhase.length; index++) {
            if (direction(inPhase[index]!.event) === direction(inPhase[index - 1]!.event)) continue
            flaps++
            violations.add({ seed: options.seed, invariant: 'noFlapping', kind: 'safety', atMs: Math.floor(inPhase[index]!.atUs / 1000), node, message: `link ${node}>${peer} turned back in phase ${plan.applied[phase]!.phase.name}: ${inPhase.map((change) => `${change.event.from}→${change.event.to} at ${change.atUs / 1000} ms`).join(', ')}` })
          }
          if (phase === 0) continue
          const before = truthMode(plan.latency(phase - 1, regionOf.get(node)!, regionOf.get(peer)!)!)
          if (before === truth) continue
          const towards = Math.sign(modeRank(truth) - modeRank(before))
          const decided = inPhase.find((change) => direction(change.event) === towards)
          const boundMs = 3 * options.probeIntervalMs + maxRttMs(latency)
          if (decided === undefined || !inPhase.some((change) => change.event.to === truth)) {
            detectionsMissed++
            violations.add({ seed: options.seed, invariant: 'detection', kind: 'liveness', atMs: Math.floor(startUs / 1000), node, message: `link ${node}>${peer} never detected ${before}→${truth} in phase ${plan.applied[phase]!.phase.name}` })
            continue
          }
          const tookMs = (decided.atUs - startUs) / 1000
          detectionMs.push(tookMs)
          if (tookMs > boundMs) {
            violations.add({ seed: options.seed, invariant: 'detection', kind: 'liveness', atMs: Math.floor(decided.atUs / 1000), node, message: `link ${node}>${peer} detected ${before}→${truth} after ${tookMs} ms, bound ${boundMs} ms (3 probe intervals + the new round trip)` })
          }
        }
      }
    }
    return { detectionMs, flaps, detectionsMissed }
  }
}

/** +1 toward internet, -1 toward datacenter. */
function direction(event: ModeChangedEvent): number {
  return Math.sign(modeRank(event.to) - modeRank(event.from))
}
