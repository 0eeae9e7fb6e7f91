/**
 * The pbft scenario's figures: per run as flat counters (they add up over
 * seeds), and the report `dwcp sim pbft` prints, where ratios are taken over
 * the sums and counters are grouped (injected, evidence, network, reputation).
 */
import type { NodeId } from '../../core/ports.ts'
import type { PbftApplied, PbftCommand, PbftEngine, PbftEvent } from '../../core/pbft/engine.ts'
import type { PbftMessage } from '../../core/pbft/messages.ts'
import { byzantineModes, type ByzantineMode, type InjectionLog } from '../byzantine.ts'
import type { PbftChecker } from '../checkers/pbftChecker.ts'
import type { PbftWitness } from '../checkers/pbftWitness.ts'
import type { RunMetrics, SampleSummary } from '../scenario.ts'
import type { Simulator } from '../simulator.ts'
import { networkReport } from '../network.ts'

export interface PbftRunFacts {
  readonly sim: Simulator<PbftCommand, PbftMessage, PbftApplied, PbftEvent>
  readonly checker: PbftChecker
  /** Every replica's engine (a Byzantine replica's honest inner one too). */
  readonly engines: ReadonlyMap<NodeId, PbftEngine>
  /** The engines of earlier incarnations of restarted replicas. */
  readonly pastEngines: readonly (readonly [NodeId, PbftEngine])[]
  readonly modes: ReadonlyMap<NodeId, ByzantineMode>
  readonly log: InjectionLog
  readonly witness: PbftWitness
  readonly requests: readonly { readonly answeredUs: number | null }[]
  readonly timedOut: number
  /** Requests their gateway refused as superseded by a later one of their client (the checker rules out a wrong refusal). */
  readonly refused: number
  /** Requests whose gateway crashed before answering (its client gave up on them). */
  readonly lostToCrash: number
  readonly replyLatencyUsMax: number
  /** collude, splitQuorum: strikes the adversary began (each a partition placed in a view that fit its mode). */
  readonly strikes: number
  /** Sequence numbers where a correct replica prepared a batch, and another one executed there (what a wrong commit quorum would lose). */
  readonly preparedSupersededSeqs: number
}

export function pbftMetrics(facts: PbftRunFacts): RunMetrics {
  const { sim, checker, engines, modes, log, witness } = facts
  let orderMessages = 0
  let evidenceProven = 0
  let evidenceSuspected = 0
  let stateTransfers = 0
  for (const [id, engine] of [...facts.pastEngines, ...engines]) {
    const metrics = engine.status().metrics
    orderMessages += metrics.prePreparesSent + metrics.preparesSent + metrics.commitsSent
    if (modes.has(id)) continue
    evidenceProven += metrics.evidenceProven
    evidenceSuspected += metrics.evidenceSuspected
    stateTransfers += metrics.stateTransfers
  }
  const metrics: RunMetrics = {
    decisions: checker.executed.size,
    orderMessages,
    viewChanges: checker.installedViews.size - 1,
    requestsProposed: facts.requests.length,
    requestsAnswered: facts.requests.filter((request) => request.answeredUs !== null).length,
    requestsTimedOut: facts.timedOut,
    requestsRefused: facts.refused,
    requestsLostToCrash: facts.lostToCrash,
    crashes: sim.metrics.crashes,
    maxReplyLatencyMs: Math.ceil(facts.replyLatencyUsMax / 1000),
    evidenceProven,
    evidenceSuspected,
    stateTransfers,
    strikes: facts.strikes,
    preparedSupersededSeqs: facts.preparedSupersededSeqs,
    ...networkReport(sim.network.metrics),
  }
  for (const mode of byzantineModes) {
    const replicas = [...modes].filter(([, held]) => held === mode).map(([id]) => id)
    metrics[`byzantine.${mode}`] = replicas.length
    metrics[`injected.${mode}`] = log.counts[mode]
    metrics[`evidenceRequired.${mode}`] = replicas.filter((id) => (witness.shown.get(id) ?? 0) > 0).length
    metrics[`evidenceFound.${mode}`] = replicas.filter((id) => checker.detected(id, mode)).length
  }
  return metrics
}

/** The lowest reputation a Byzantine replica, and a correct one, has at any correct replica at the end of the run. */
export function reputationSamples(engines: ReadonlyMap<NodeId, PbftEngine>, modes: ReadonlyMap<NodeId, ByzantineMode>): Record<string, number[]> {
  let byzantineMin = 1
  let correctMin = 1
  for (const [observer, engine] of engines) {
    if (modes.has(observer)) continue
    for (const { id, reputation } of engine.status().replicas) {
      if (modes.has(id)) byzantineMin = Math.min(byzantineMin, reputation)
      else correctMin = Math.min(correctMin, reputation)
    }
  }
  const round = (value: number) => Math.round(value * 1000) / 1000
  return modes.size === 0 ? { 'reputation.correctMin': [round(correctMin)] } : { 'reputation.byzantineMin': [round(byzantineMin)], 'reputation.correctMin': [round(correctMin)] }
}

/** Groups `prefix.name` counters into `{ name: value }`. */
function group(metrics: RunMetrics, prefix: string): Record<string, number> {
  return Object.fromEntries(
    Object.entries(metrics)
      .filter(([key]) => key.startsWith(`${prefix}.`))
      .map(([key, value]) => [key.slice(prefix.length + 1), value]),
  )
}

export function pbftReport(metrics: RunMetrics, samples: Readonly<Record<string, SampleSummary>>): Record<string, unknown> {
  const decisions = metrics['decisions'] ?? 0
  const required = group(metrics, 'evidenceRequired')
  const found = group(metrics, 'evidenceFound')
  const replicas = group(metrics, 'byzantine')
  return {
    decisions,
    messagesPerDecision: decisions === 0 ? 0 : Math.round(((metrics['orderMessages'] ?? 0) / decisions) * 100) / 100,
    viewChanges: metrics['viewChanges'],
    requestsProposed: metrics['requestsProposed'],
    requestsAnswered: metrics['requestsAnswered'],
    requestsTimedOut: metrics['requestsTimedOut'],
    requestsRefused: metrics['requestsRefused'],
    requestsLostToCrash: metrics['requestsLostToCrash'],
    crashes: metrics['crashes'],
    maxReplyLatencyMs: metrics['maxReplyLatencyMs'],
    evidenceProven: metrics['evidenceProven'],
    evidenceSuspected: metrics['evidenceSuspected'],
    stateTransfers: metrics['stateTransfers'],
    strikes: metrics['strikes'],
    preparedSupersededSeqs: metrics['preparedSupersededSeqs'],
    // --reconfigure: runs whose new group took over, the longest from the first proposal until every correct
    // replica of the new group voted in it, and the group epochs correct replicas entered.
    ...(metrics['reconfigurations'] === undefined ? {} : { reconfigurations: metrics['reconfigurations'], maxReconfigureMs: metrics['maxReconfigureMs'], groupEpochs: metrics['groupEpochs'] }),
    byzantineReplicas: replicas,
    injected: group(metrics, 'injected'),
    /** Per mode: Byzantine replicas, those a correct replica was shown misbehaving (evidence required), those with matching evidence. */
    evidence: Object.fromEntries(Object.keys(replicas).map((mode) => [mode, { replicas: replicas[mode], required: required[mode], found: found[mode] }])),
    network: group(metrics, 'network'),
    reputation: { byzantineMin: samples['reputation.byzantineMin'], correctMin: samples['reputation.correctMin'] },
  }
}
