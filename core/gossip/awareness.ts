/**
 * Lifeguard's local health ("awareness", after memberlist's awareness.go):
 * a slow node should doubt itself before it doubts others. Signs that this
 * node is the slow one (helpers that did not even nack its indirect probes,
 * having to refute a suspicion of itself) raise the score; successful probes
 * lower it. Its own probe interval and timeout stretch by (score + 1).
 */
export interface LocalHealthStatus {
  /** 0 = healthy, up to max - 1. */
  readonly score: number
  readonly max: number
  /** What this node's probe interval and timeout are multiplied by now. */
  readonly timeoutMultiplier: number
}

export class Awareness {
  private readonly max: number
  private score = 0

  /** `max`: the score stays in [0, max - 1], so timeouts stretch at most max times. */
  constructor(max: number) {
    this.max = max
  }

  /** Moves the score by `delta`, within [0, max - 1]. */
  applyDelta(delta: number): void {
    this.score = Math.min(this.max - 1, Math.max(0, this.score + delta))
  }

  get healthScore(): number {
    return this.score
  }

  /** The factor timeouts stretch by (memberlist's ScaleTimeout). */
  get timeoutMultiplier(): number {
    return this.score + 1
  }

  status(): LocalHealthStatus {
    return { score: this.score, max: this.max, timeoutMultiplier: this.timeoutMultiplier }
  }
}
