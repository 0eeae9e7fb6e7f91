import type { ViolationKind } from '../sim/violation.ts'

/**
 * Exit codes of every dwcp command (DESIGN §5), in one place. A simulation exits with the code of
 * its most serious finding (sim/violation.ts orders them: safety, crash, undecided, liveness), as
 * TigerBeetle's simulator tells correctness, liveness and crash apart.
 */
export const exitCodes = {
  ok: 0,
  /** A simulation found a correctness (safety) invariant violated. */
  violation: 1,
  /** The command line was wrong: unknown command, option or value. */
  usage: 2,
  /** Liveness: no progress after healing, a request never answered, or a seed that did too little work to check. */
  liveness: 3,
  /** A checker hit its limit and could not decide (an 'unknown' linearizability verdict): never a pass. */
  undecided: 4,
  /** The engine or simulator threw (an assertion failed): the run stopped there. */
  crash: 5,
} as const

/** The exit code of a simulation whose verdict is `verdict`. */
export function simExitCode(verdict: 'ok' | ViolationKind): number {
  switch (verdict) {
    case 'ok':
      return exitCodes.ok
    case 'safety':
      return exitCodes.violation
    case 'liveness':
      return exitCodes.liveness
    case 'undecided':
      return exitCodes.undecided
    case 'crash':
      return exitCodes.crash
  }
}

/** A problem with the command line; main prints its message and exits with `exitCodes.usage`. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}
