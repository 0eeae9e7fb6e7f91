/** Exit codes of every dwcp command (DESIGN §5). */
export const exitCodes = {
  ok: 0,
  /** A simulation found an invariant violated. */
  violation: 1,
  /** The command line was wrong: unknown command, option or value. */
  usage: 2,
} as const

/** A problem with the command line; main prints its message and exits with `exitCodes.usage`. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}
