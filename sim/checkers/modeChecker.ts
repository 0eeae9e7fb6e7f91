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
 * - Justified changes (README: a 20% margin and 2 confirming measurements;
 *   every change carries the measurements behind it): each detected link
 *   change carries at least `confirmSamples` measurements, in time order, and
 *   when loss plays no part (the link's level is low) each of them passes a
 *   threshold of the old mode by the margin, by the checker's own reading of
 *   DESIGN §3's thresholds: leaving datacenter needs a p50 round trip of at
 *   least 10·(1+m) ms, entering it from hybrid below 10/(1+m) ms; internet
 *   alike at 50 ms; bandwidth alike at 1 Gbit/s. A single noisy measurement
 *   must never move a link.
 * - No flapping: within one phase a link's detected mode never turns back
 *   (a change of the opposite direction to the previous one): noise moving
 *   the mode back and forth is what the hysteresis must prevent.
 * - Injected loss (core/adaptive/mode.ts, the loss rule): a link whose
 *   one-way loss is a constant p may only be at the loss levels
 *   `lossLevelsFor(p)` allows, and its level never falls; the mode expected
 *   in a phase is the latency plan's at the link's level (`truthMode`). A
 *   level rises at a time chance decides (when the confidence interval
 *   clears a threshold), so the one turn back that is not a flap is a change
 *   toward internet that carries a higher level than the change before it
 *   and lands on the truth at that level; a change that only the new level
 *   explains has no time bound. Levels come from the events and from each
 *   node's detector at every phase boundary (a level can rise with no change
 *   of mode, e.g. on an internet link). With probe loss q a detection may
 *   wait for lost probes: the bound grows by the lost probes that all but
 *   one in a million detections stay within (`lostProbesAllowance`).
 */
import type { LinkModeChanged, ModeChangedEvent } from '../../core/adaptive/modeEvents.ts'
import { lossLevelRank, lossLevelsFor, modeRank, type LossLevel } from '../../core/adaptive/mode.ts'
import { defaultModeDetectorConfig } from '../../core/adaptive/modeConfig.ts'
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
  /** The one-way loss injected on every message (0: none). */
  readonly oneWayLoss: number
}

interface LevelSample {
  readonly atUs: number
  readonly level: LossLevel
  readonly source: string
}

/** Answered probes a detection needs: confirmSamples measurements, the first taken once the median of 3 has 2 new round trips. */
const detectionAnswersNeeded = 3
/** The share of detections allowed to wait for more lost probes than `lostProbesAllowance` gives. */
const detectionLossTailMax = 1e-6

/**
 * Lost probes a detection may wait for at probe loss `probeLoss`: the least j
 * such that needing more than 3 + j probes for 3 answers (at least j + 1 of
 * the first 3 + j lost) has probability at most 1e-6. 0 without loss.
 */
export function lostProbesAllowance(probeLoss: number): number {
  if (probeLoss <= 0) return 0
  for (let extra = 0; extra < 64; extra++) {
    const probes = detectionAnswersNeeded + extra
    let tail = 0
    for (let lost = extra + 1; lost <= probes; lost++) tail += binomial(probes, lost) * probeLoss ** lost * (1 - probeLoss) ** (probes - lost)
    if (tail <= detectionLossTailMax) return extra
  }
  return 64
}

function binomial(n: number, k: number): number {
  let result = 1
  for (let i = 1; i <= k; i++) result = (result * (n - k + i)) / i
  return result
}

type Measured = ModeChangedEvent['measurements'][number]['measurement']

/** True when `m` passes a threshold of mode `from` by the margin (loss left out: the caller checks only low-loss links). */
export function outsideWithMargin(from: string, m: Measured): boolean {
  const config = defaultModeDetectorConfig
  const stretch = 1 + config.marginRatio
  const rtt = m.rttMsP50
  const bandwidth = m.bandwidthBitsPerSecond
  if (rtt === null) return false
  const datacenterWithin = (widen: number) => rtt < config.datacenterRttMsMax * widen && (bandwidth === null || bandwidth > config.datacenterBandwidthBitsPerSecondMin / widen)
  const internetWithin = (widen: number) => rtt > config.internetRttMsMin / widen || (bandwidth !== null && bandwidth < config.internetBandwidthBitsPerSecondMax * widen)
  if (from === 'datacenter') return !datacenterWithin(stretch)
  if (from === 'internet') return !internetWithin(stretch)
  return datacenterWithin(1 / stretch) || internetWithin(1 / stretch)
}

export class ModeChecker {
  readonly changes: SeenChange[] = []
  /** Loss levels read from the detectors, by `node>peer`. */
  private readonly levelSamples = new Map<string, LevelSample[]>()

  record(node: NodeId, atUs: number, event: ModeChangedEvent): void {
    this.changes.push({ node, atUs, event })
  }

  /** The loss level `node`'s detector holds for its link to `peer` at `atUs` (read at phase boundaries). */
  recordLossLevel(node: NodeId, peer: NodeId, atUs: number, level: LossLevel): void {
    const key = `${node}>${peer}`
    const list = this.levelSamples.get(key)
    const sample = { atUs, level, source: 'detector state' }
    if (list === undefined) this.levelSamples.set(key, [sample])
    else list.push(sample)
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

  check(options: ModeCheckOptions, violations: ViolationLog): { detectionMs: number[]; flaps: number; detectionsMissed: number; lossLevelViolations: number; unjustifiedChanges: number } {
    const { plan, regionOf } = options
    const byLink = this.linkChanges()
    const detectionMs: number[] = []
    let flaps = 0
    let detectionsMissed = 0
    const missedDetection = (startUs: number, node: NodeId, message: string): void => {
      detectionsMissed++
      violations.add({ seed: options.seed, invariant: 'detection', kind: 'liveness', atMs: Math.floor(startUs / 1000), node, message })
    }
    let lossLevelViolations = 0
    let unjustifiedChanges = 0
    const permitted = lossLevelsFor(options.oneWayLoss, defaultModeDetectorConfig)
    const probeLoss = 1 - (1 - options.oneWayLoss) ** 2
    const extraProbes = lostProbesAllowance(probeLoss)
    const nodes = [...regionOf.keys()]
    for (const node of nodes) {
      for (const peer of nodes) {
        if (peer === node || regionOf.get(peer) === regionOf.get(node)) continue
        const changes = byLink.get(`${node}>${peer}`) ?? []
        // The link's loss levels over time, as long as no partition's losses are in its window.
        const levels: LevelSample[] = [
          ...changes.map((change) => ({ atUs: change.atUs, level: (change.event as { lossLevel: LossLevel }).lossLevel, source: `change ${change.event.from}→${change.event.to}` })),
          ...(this.levelSamples.get(`${node}>${peer}`) ?? []),
        ].sort((a, b) => a.atUs - b.atUs)
        for (const change of changes) {
          if (options.linkDisturbed(node, peer, 0, change.atUs + 1)) break
          const event = change.event as LinkModeChanged
          const evidence = event.measurements
          const inOrder = evidence.every((timed, index) => index === 0 || timed.atMs > evidence[index - 1]!.atMs)
          const unjustified =
            evidence.length < defaultModeDetectorConfig.confirmSamples
              ? `${evidence.length} measurement(s), fewer than confirmSamples=${defaultModeDetectorConfig.confirmSamples}`
              : !inOrder
                ? 'measurements out of time order'
                : event.lossLevel === 'low' && evidence.some((timed) => !outsideWithMargin(event.from, timed.measurement))
                  ? `a measurement within the margin of ${event.from}: ${evidence.map((timed) => `${timed.measurement.rttMsP50} ms`).join(', ')}`
                  : null
          if (unjustified !== null) {
            unjustifiedChanges++
            violations.add({
              seed: options.seed,
              invariant: 'justifiedChange',
              kind: 'safety',
              atMs: Math.floor(change.atUs / 1000),
              node,
              message: `link ${node}>${peer} changed ${event.from}→${event.to} at ${change.atUs / 1000} ms on ${unjustified}`,
            })
          }
        }
        let highest: LevelSample | null = null
        for (const sample of levels) {
          if (options.linkDisturbed(node, peer, 0, sample.atUs + 1)) break
          const bad = !permitted.includes(sample.level)
            ? `the rule allows ${permitted.join(' or ')} at one-way loss ${options.oneWayLoss}`
            : highest !== null && lossLevelRank(sample.level) < lossLevelRank(highest.level)
              ? `it was ${highest.level} at ${highest.atUs / 1000} ms and loss is constant`
              : null
          if (bad !== null) {
            lossLevelViolations++
            violations.add({
              seed: options.seed,
              invariant: 'lossLevel',
              kind: 'safety',
              atMs: Math.floor(sample.atUs / 1000),
              node,
              message: `link ${node}>${peer} is at loss level ${sample.level} (${sample.source}) at ${sample.atUs / 1000} ms, but ${bad}`,
            })
          }
          if (highest === null || lossLevelRank(sample.level) > lossLevelRank(highest.level)) highest = sample
        }
        const levelAt = (atUs: number): LossLevel => {
          let level: LossLevel = 'low'
          for (const sample of levels) if (sample.atUs <= atUs && lossLevelRank(sample.level) > lossLevelRank(level)) level = sample.level
          return level
        }
        for (let phase = 0; phase < plan.applied.length; phase++) {
          const startUs = plan.applied[phase]!.phase.startUs
          const endUs = phase + 1 < plan.applied.length ? plan.applied[phase + 1]!.phase.startUs : options.endUs
          if (options.linkDisturbed(node, peer, startUs, endUs)) continue
          const latency = plan.latency(phase, regionOf.get(node)!, regionOf.get(peer)!)!
          const levelStart = levelAt(startUs)
          const truth = truthMode(latency, levelStart)
          // A level read at the phase's end may not have moved the mode yet: the move takes confirmSamples measurements.
          const confirmUs = (defaultModeDetectorConfig.confirmSamples * options.probeIntervalMs + maxRttMs(latency)) * 1000
          const truthEnd = truthMode(latency, levelAt(endUs - confirmUs))
          const inPhase = changes.filter((change) => change.atUs >= startUs && change.atUs < endUs)
          for (let index = 1; index < inPhase.length; index++) {
            const previous = inPhase[index - 1]!.event as { lossLevel: LossLevel } & ModeChangedEvent
            const current = inPhase[index]!.event as { lossLevel: LossLevel } & ModeChangedEvent
            if (direction(current) === direction(previous)) continue
            // The level rose (at a time chance decides) and the change lands on the truth at the new level: the rule, not noise.
            const lossRise = direction(current) > 0 && lossLevelRank(current.lossLevel) > lossLevelRank(previous.lossLevel) && current.to === truthMode(latency, current.lossLevel)
            if (lossRise) continue
            flaps++
            violations.add({
              seed: options.seed,
              invariant: 'noFlapping',
              kind: 'safety',
              atMs: Math.floor(inPhase[index]!.atUs / 1000),
              node,
              message: `link ${node}>${peer} turned back in phase ${plan.applied[phase]!.phase.name}: ${inPhase.map((change) => `${change.event.from}→${change.event.to} (loss ${(change.event as { lossLevel: LossLevel }).lossLevel}) at ${change.atUs / 1000} ms`).join(', ')}`,
            })
          }
          if (phase === 0) continue
          const before = truthMode(plan.latency(phase - 1, regionOf.get(node)!, regionOf.get(peer)!)!, levelStart)
          if (before === truth && truth === truthEnd) continue
          if (before === truth) {
            // Only the level's rise moves this link, at a time chance decides: it must land on the truth at the new level.
            if (!inPhase.some((change) => change.event.to === truthEnd)) {
              missedDetection(startUs, node, `link ${node}>${peer} reached loss level ${levelAt(endUs)} in phase ${plan.applied[phase]!.phase.name} but never moved to ${truthEnd}`)
            }
            continue
          }
          const towards = Math.sign(modeRank(truth) - modeRank(before))
          const decided = inPhase.find((change) => direction(change.event) === towards)
          const boundMs = (3 + extraProbes) * options.probeIntervalMs + maxRttMs(latency)
          if (decided === undefined || !inPhase.some((change) => change.event.to === truthEnd)) {
            missedDetection(startUs, node, `link ${node}>${peer} never detected ${before}→${truthEnd} in phase ${plan.applied[phase]!.phase.name}`)
            continue
          }
          const tookMs = (decided.atUs - startUs) / 1000
          detectionMs.push(tookMs)
          if (tookMs > boundMs) {
            violations.add({
              seed: options.seed,
              invariant: 'detection',
              kind: 'liveness',
              atMs: Math.floor(decided.atUs / 1000),
              node,
              message: `link ${node}>${peer} detected ${before}→${truth} after ${tookMs} ms, bound ${boundMs} ms (3 probe intervals${extraProbes > 0 ? ` + ${extraProbes} lost probes` : ''} + the new round trip)`,
            })
          }
        }
      }
    }
    return { detectionMs, flaps, detectionsMissed, lossLevelViolations, unjustifiedChanges }
  }
}

/** +1 toward internet, -1 toward datacenter. */
function direction(event: ModeChangedEvent): number {
  return Math.sign(modeRank(event.to) - modeRank(event.from))
}
