/**
 * One link estimator per peer, for at most `peersMax` peers. A peer beyond
 * the limit is refused, not made room for: evicting another peer's history
 * would silently blind the mode detector to it. Membership calls `forget`
 * when a peer leaves, which keeps the table within one entry per member.
 */
import { assert } from '../lib/assert.ts'
import type { NodeId } from '../ports.ts'
import type { Refusal } from '../ready.ts'
import { defaultLinkEstimatorConfig, linkLimits, type LinkEstimatorConfig } from './linkConfig.ts'
import { LinkEstimator, type LinkEstimate } from './linkEstimator.ts'

export interface LinkTableOptions {
  readonly config?: LinkEstimatorConfig
  /** At most linkLimits.peersMax. */
  readonly peersMax?: number
}

export class LinkTable {
  private readonly config: LinkEstimatorConfig
  readonly peersMax: number
  private readonly links = new Map<NodeId, LinkEstimator>()

  constructor(options: LinkTableOptions = {}) {
    this.config = options.config ?? defaultLinkEstimatorConfig
    this.peersMax = options.peersMax ?? linkLimits.peersMax
    assert(Number.isInteger(this.peersMax) && this.peersMax >= 1 && this.peersMax <= linkLimits.peersMax, 'a link table holds 1 to peersMax peers')
  }

  get size(): number {
    return this.links.size
  }

  recordProbe(peer: NodeId, sentAtMs: number, rttMs: number | null): Refusal | null {
    return this.record(peer, (link) => link.recordProbe(sentAtMs, rttMs))
  }

  recordTransfer(peer: NodeId, bytes: number, durationMs: number): Refusal | null {
    return this.record(peer, (link) => link.recordTransfer(bytes, durationMs))
  }

  /** The peer's estimate, or null for a peer with no samples recorded. */
  estimate(peer: NodeId): LinkEstimate | null {
    return this.links.get(peer)?.estimate() ?? null
  }

  get(peer: NodeId): LinkEstimator | undefined {
    return this.links.get(peer)
  }

  /** Drops the peer's history (it left, or its address changed); false if it had none. */
  forget(peer: NodeId): boolean {
    return this.links.delete(peer)
  }

  /** Peers in the order they were first recorded, which is deterministic for a deterministic caller. */
  peers(): NodeId[] {
    return [...this.links.keys()]
  }

  /** A refused sample leaves no trace, not even an empty entry for a new peer. */
  private record(peer: NodeId, recordIn: (link: LinkEstimator) => Refusal | null): Refusal | null {
    const existing = this.links.get(peer)
    if (existing !== undefined) return recordIn(existing)
    if (this.links.size >= this.peersMax) return { code: 'tooManyPeers', message: `peersMax=${this.peersMax} links tracked; forget a peer first` }
    const link = new LinkEstimator(this.config)
    const refusal = recordIn(link)
    if (refusal === null) this.links.set(peer, link)
    return refusal
  }
}
