/**
 * Assertions for invariants the code relies on. A failed assertion is a bug in
 * DWCP, never bad input: input is validated and refused with a typed error
 * before it reaches code guarded by these.
 */

export class AssertionError extends Error {
  override readonly name = 'AssertionError'
}

/** Use with a constant message; on hot paths write `if (!cond) assertFailed(\`…${x}\`)` so the text is built only on failure. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message)
}

export function assertFailed(message: string): never {
  throw new AssertionError(message)
}

export function assertNever(value: never, message = 'unreachable'): never {
  throw new AssertionError(`${message}: ${String(value)}`)
}

/** Asserts `value` is an integer in [min, max]; returns it for use in expressions. */
export function assertIntInRange(value: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new AssertionError(`${what} must be an integer in [${min}, ${max}], got ${value}`)
  }
  return value
}
