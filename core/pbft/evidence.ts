/**
 * Evidence of misbehaviour and the reputation score it feeds.
 *
 * Proven evidence is what no correct replica can produce: a signature that
 * does not verify, two signed messages for one slot that disagree, a
 * pre-prepare whose digest is not its batch's, a commit against a prepared
 * certificate. It counts for good. Suspected evidence is what a correct but
 * slow or cut-off replica may also produce (messages of an old view, sequence
 * numbers outside the watermarks, replays of what was already received, a
 * primary whose view timed out); its weight halves every
 * `suspicionHalfLifeTicks`, so the network's faults fade and a steady
 * pattern does not.
 *
 *   reputation = 1 / (1 + proven + suspected / suspectedPerProven)     1 = clean, towards 0 = faulty
 */
import type { NodeId } from '../ports.ts'
import { pbftLimits } from './config.ts'
import type { PbftReplicaStatus } from './status.ts'

export const evidenceKinds = {
  badSignature: 'proven',
  equivocation: 'proven',
  badDigest: 'proven',
  badRequest: 'proven',
  notPrimary: 'proven',
  conflictingCommit: 'proven',
  badCertificate: 'proven',
  wrongView: 'suspected',
  outsideWatermarks: 'suspected',
  replay: 'suspected',
  viewTimeout: 'suspected',
} as const

export type EvidenceKind = keyof typeof evidenceKinds

export interface Evidence {
  /** The replica the evidence is against. */
  readonly replica: NodeId
  readonly kind: EvidenceKind
  readonly proven: boolean
  readonly view: number
  readonly seq: number
  readonly detail: string
}

/** Suspected records that weigh as much as one proven one. */
const suspectedPerProven = 20

interface Score {
  proven: number
  suspected: number
  /** Records against the replica since start, by kind. */
  readonly byKind: Partial<Record<EvidenceKind, number>>
}

export class Reputation {
  private readonly scores = new Map<NodeId, Score>()
  private readonly decayPerTick: number
  /** The most recent evidence, newest last, at most `pbftLimits.evidenceKept`. */
  private readonly recent: Evidence[] = []

  constructor(replicas: readonly NodeId[], suspicionHalfLifeTicks: number) {
    for (const replica of replicas) this.scores.set(replica, { proven: 0, suspected: 0, byKind: {} })
    this.decayPerTick = Math.pow(0.5, 1 / suspicionHalfLifeTicks)
  }

  /** The group changed: replicas that stay keep their scores, new ones start clean, those that left are dropped. */
  regroup(replicas: readonly NodeId[]): void {
    const kept = new Map(this.scores)
    this.scores.clear()
    for (const replica of replicas) this.scores.set(replica, kept.get(replica) ?? { proven: 0, suspected: 0, byKind: {} })
  }

  /** Records evidence against a replica of the group (others are ignored); returns the record. */
  record(replica: NodeId, kind: EvidenceKind, view: number, seq: number, detail: string): Evidence | null {
    const score = this.scores.get(replica)
    if (score === undefined) return null
    const proven = evidenceKinds[kind] === 'proven'
    if (proven) score.proven++
    else score.suspected++
    score.byKind[kind] = (score.byKind[kind] ?? 0) + 1
    const evidence: Evidence = { replica, kind, proven, view, seq, detail }
    if (this.recent.length >= pbftLimits.evidenceKept) this.recent.shift()
    this.recent.push(evidence)
    return evidence
  }

  tick(): void {
    for (const score of this.scores.values()) if (score.suspected > 0) score.suspected = score.suspected < 0.01 ? 0 : score.suspected * this.decayPerTick
  }

  score(replica: NodeId): number {
    const score = this.scores.get(replica)
    if (score === undefined) return 0
    return 1 / (1 + score.proven + score.suspected / suspectedPerProven)
  }

  /** Every replica's score and the evidence behind it, in the group's order (copies). */
  status(): PbftReplicaStatus[] {
    return [...this.scores].map(([id, score]) => ({ id, reputation: this.score(id), proven: score.proven, suspected: score.suspected, evidenceByKind: { ...score.byKind } }))
  }

  /** The most recent evidence, newest last (a copy). */
  recentEvidence(): Evidence[] {
    return this.recent.slice()
  }
}
