/** A broken invariant, found by a checker. Safety: something bad happened. Liveness: something good did not. */
export interface Violation {
  readonly seed: number
  readonly invariant: string
  readonly kind: 'safety' | 'liveness'
  /** Virtual milliseconds since the start of the run. */
  readonly atMs: number
  readonly node?: string
  readonly message: string
}

/** Violations kept per run; the rest are only counted, so a broken engine cannot flood the report. */
export const violationsPerRunMax = 100

export class ViolationLog {
  readonly kept: Violation[] = []
  dropped = 0

  add(violation: Violation): void {
    if (this.kept.length < violationsPerRunMax) this.kept.push(violation)
    else this.dropped++
  }

  get count(): number {
    return this.kept.length + this.dropped
  }
}
