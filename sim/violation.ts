/**
 * A broken invariant, found by a checker, and its kind, which decides the exit code of `dwcp sim`
 * (cli/exitCodes.ts):
 *
 * - safety: something bad happened (a correctness violation);
 * - liveness: something good did not happen (no progress after healing, a request never answered,
 *   a run that did too little work to check anything);
 * - undecided: a checker hit its search limit and could not decide; never a pass;
 * - crash: the engine or the simulator threw (an assertion failed) and the run stopped there.
 */
export type ViolationKind = 'safety' | 'liveness' | 'undecided' | 'crash'

/** Kinds from the most to the least serious: a run's verdict is the first kind it has. */
export const violationKindsBySeverity: readonly ViolationKind[] = ['safety', 'crash', 'undecided', 'liveness']

export interface Violation {
  readonly seed: number
  readonly invariant: string
  readonly kind: ViolationKind
  /** Virtual milliseconds since the start of the run; -1 when not known (a crash, caught outside the run). */
  readonly atMs: number
  readonly node?: string
  readonly message: string
}

/** The most serious kind among `violations`, or null when there are none. */
export function worstViolationKind(violations: readonly Pick<Violation, 'kind'>[]): ViolationKind | null {
  for (const kind of violationKindsBySeverity) if (violations.some((violation) => violation.kind === kind)) return kind
  return null
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
