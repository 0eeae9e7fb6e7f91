import type { Rng } from './prng.ts'

/**
 * A node's view of its peers: the cluster's shared id list (no per-node copy)
 * with the node itself skipped when picking.
 */
export class PeerList {
  readonly ids: readonly string[]
  private readonly selfIndex: number

  constructor(ids: readonly string[], self: string) {
    this.ids = ids
    this.selfIndex = ids.indexOf(self)
  }

  /** How many peers there are besides this node. */
  get othersCount(): number {
    return this.selfIndex < 0 ? this.ids.length : this.ids.length - 1
  }

  /** The `index`-th peer other than this node, for index in [0, othersCount). */
  other(index: number): string {
    return this.ids[this.selfIndex >= 0 && index >= this.selfIndex ? index + 1 : index]!
  }

  randomOther(rng: Rng): string {
    return this.other(rng.int(this.othersCount))
  }

  /** `count` distinct peers other than this node (fewer when there are not that many). */
  randomOthers(rng: Rng, count: number): string[] {
    const wanted = Math.min(count, this.othersCount)
    const chosen = new Set<number>()
    while (chosen.size < wanted) chosen.add(rng.int(this.othersCount))
    return [...chosen].map((index) => this.other(index))
  }
}
