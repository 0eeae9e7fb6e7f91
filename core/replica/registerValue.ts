/**
 * How a key-value register holds a value or its deletion in the CRDT (the
 * eventual and auto paths): LWW registers hold strings, and a delete must be
 * a write too (it has to win over older values), so values carry a one-letter
 * tag: `v` + the value, or `d` for deleted.
 */
export const registerDeleted = 'd'

export function registerValue(value: string): string {
  return `v${value}`
}

/** The value a register holds, or null when it was deleted (or holds something that is not a tagged value). */
export function readRegisterValue(held: string): string | null {
  return held.startsWith('v') ? held.slice(1) : null
}
