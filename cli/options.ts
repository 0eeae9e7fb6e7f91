import { UsageError } from './exitCodes.ts'

/** Checks that a numeric option is an integer in [min, max]; the message names the option. */
export function integerOption(name: string, value: unknown, min: number, max: number): number {
  if (Array.isArray(value)) throw new UsageError(`--${name} is given more than once`)
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${String(value)}`)
  }
  return value
}

/** Checks that a numeric option is a probability in [0, max]. */
export function probabilityOption(name: string, value: unknown, max: number): number {
  if (Array.isArray(value)) throw new UsageError(`--${name} is given more than once`)
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0 || value > max) {
    throw new UsageError(`--${name} must be a number from 0 to ${max}, got ${String(value)}`)
  }
  return value
}
