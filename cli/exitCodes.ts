import type { ViolationKind } from '../sim/violation.ts'

/**
 * Exit codes of every dwcp command (DESIGN §5), in one place. A simulation exits with the code of
 * its most serious finding (sim/violation.ts orders them: safety, crash, undecided, liveness), as
 * TigerBeetle's simulator tells correctness, liveness and crash apart. Client commands (kv, crdt,
 * policy, status, members) and `dwcp up`/`dwcp node` tell not found, refused and unavailable apart,
 * so a script can retry the one and not the other.
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
  /** Client commands: the key, namespace or route does not exist (HTTP 404). Same number as `violation`: no command reports both. */
  notFound: 1,
  /** The server refused the request (any other 4xx: malformed, bad token, consistency or type mismatch, too large). */
  refused: 6,
  /** No answer: no node reachable, no leader or overloaded (503), a timeout with the outcome unknown (504), any 5xx. */
  unavailable: 7,
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
