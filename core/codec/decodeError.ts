import { err, type Result } from '../lib/result.ts'

/**
 * Why a frame or body could not be decoded. Decoders never throw past their
 * entry point and never return a partial object: a frame either decodes whole
 * or yields one of these.
 */
export type DecodeErrorCode =
  | 'truncated' // the input ended inside a field
  | 'oversized' // the input, or a length inside it, is above a named limit
  | 'unsupportedVersion' // protocol version this build does not speak
  | 'unknownEngine' // engine id not registered
  | 'unknownType' // message type the engine does not define
  | 'invalidField' // a field's value is out of its domain (bad id, bad enum)
  | 'trailingBytes' // bytes left over after a complete value

export interface DecodeError {
  readonly code: DecodeErrorCode
  readonly message: string
}

/** Thrown inside readX functions; caught and turned into a Result by `decodeWith`. */
export class DecodeFailure extends Error {
  override readonly name = 'DecodeFailure'
  readonly code: DecodeErrorCode
  constructor(code: DecodeErrorCode, message: string) {
    super(message)
    this.code = code
  }
}

export function fail(code: DecodeErrorCode, message: string): never {
  throw new DecodeFailure(code, message)
}

/** Turns anything a reader threw into a typed error: the one place exceptions stop. */
export function toDecodeError(thrown: unknown): DecodeError {
  if (thrown instanceof DecodeFailure) return { code: thrown.code, message: thrown.message }
  // lib0 throws plain Errors for reads past the end and for varints above 2^53.
  const text = thrown instanceof Error ? thrown.message : String(thrown)
  if (/unexpected end/i.test(text)) return { code: 'truncated', message: 'input ended inside a field' }
  if (/out of range/i.test(text)) return { code: 'invalidField', message: 'integer out of range' }
  return { code: 'invalidField', message: `malformed input: ${text}` }
}

export function decodeErr(thrown: unknown): Result<never, DecodeError> {
  return err(toDecodeError(thrown))
}
