/**
 * Client operations on typed values, each turned into a delta (Almeida's
 * delta-mutators): the smallest state that, joined into the value, applies
 * the operation. `effect` records what the operation did in causal terms,
 * for acknowledgements and for the simulator's oracle.
 */
import { utf8Length } from '../codec/fields.ts'
import { isValidId } from '../lib/limits.ts'
import { err, ok, type Result } from '../lib/result.ts'
import type { Refusal } from '../ready.ts'
import { causalLimits, dotsOf, emptyNested, fieldAt, nestAlong, registerField, type Causal, type Nested } from './causal.ts'
import { emptyPnCounter, pnCounterAdd } from './counter.ts'
import { checkDocUpdate, createDoc, deleteText, insertText } from './doc.ts'
import { CausalContext, dotKey, parseDotKey, type Dot } from './dots.ts'
import type { Hlc, HybridClock } from './hlc.ts'
import { lwwRegisterLimits, lwwWrite } from './lwwRegister.ts'
import { joinValue, type CrdtType, type Delta, type Value } from './value.ts'

export type CrdtOp =
  | { readonly type: 'counter'; readonly key: string; readonly amount: number }
  /** `at`: a write whose timestamp was taken elsewhere (the hybrid write path); joining it twice changes nothing. */
  | { readonly type: 'register'; readonly key: string; readonly value: string; readonly at?: RegisterStamp }
  | { readonly type: 'mvregister'; readonly key: string; readonly value: string }
  | { readonly type: 'set'; readonly key: string; readonly action: 'add' | 'remove'; readonly element: string }
  | { readonly type: 'map'; readonly key: string; readonly action: 'put'; readonly path: readonly string[]; readonly value: string }
  | { readonly type: 'map'; readonly key: string; readonly action: 'remove'; readonly path: readonly string[] }
  | { readonly type: 'doc'; readonly key: string; readonly action: 'insert'; readonly index: number; readonly text: string }
  | { readonly type: 'doc'; readonly key: string; readonly action: 'delete'; readonly index: number; readonly count: number }
  | { readonly type: 'doc'; readonly key: string; readonly action: 'update'; readonly update: Uint8Array }

/** The timestamp and writer of an LWW write made earlier, possibly on another replica. */
export interface RegisterStamp {
  readonly timestamp: Hlc
  readonly replica: string
}

/** What an operation did: the dot it made (if any), the dots it overwrote or removed, its timestamp (LWW). */
export interface OpEffect {
  readonly dot?: string
  readonly covered: readonly string[]
  readonly timestamp?: Hlc
}

export interface OpResult {
  readonly delta: Delta
  readonly effect: OpEffect
}

export const opLimits = {
  /** Largest |amount| of one counter operation. */
  counterStepMax: 2 ** 32,
} as const

const noEffect: OpEffect = { covered: [] }

function refuse(code: string, message: string): Result<never, Refusal> {
  return err({ code, message })
}

function checkText(text: string, what: string): Refusal | null {
  // Two bytes per UTF-16 unit bounds the UTF-8 length closely enough for a limit check.
  return text.length * 3 > causalLimits.textBytesMax ? { code: 'oversized', message: `${what} above textBytesMax=${causalLimits.textBytesMax} bytes` } : null
}

/**
 * The delta of `op` on `current` (undefined: the key does not exist yet).
 * Refuses operations of the wrong type for an existing key and invalid arguments.
 */
export function makeDelta(op: CrdtOp, current: Value | undefined, replica: string, clock: HybridClock): Result<OpResult, Refusal> {
  if (current !== undefined && current.type !== op.type) return refuse('typeMismatch', `key ${op.key} holds a ${current.type}, not a ${op.type}`)
  switch (op.type) {
    case 'counter': {
      if (!Number.isSafeInteger(op.amount) || op.amount === 0 || Math.abs(op.amount) > opLimits.counterStepMax) {
        return refuse('invalidArgument', `counter amount must be a nonzero integer up to ${opLimits.counterStepMax} in size, got ${op.amount}`)
      }
      const state = current?.type === 'counter' ? current.state : emptyPnCounter
      return ok({ delta: { type: 'counter', state: pnCounterAdd(state, replica, op.amount) }, effect: noEffect })
    }
    case 'register': {
      const valueBytes = utf8Length(op.value)
      if (valueBytes > lwwRegisterLimits.valueBytesMax) return refuse('tooLarge', `register value is ${valueBytes} bytes; valueBytesMax is ${lwwRegisterLimits.valueBytesMax}`)
      if (op.at !== undefined) {
        if (!isValidId(op.at.replica)) return refuse('invalidArgument', `a register stamp names a replica id, got ${JSON.stringify(op.at.replica)}`)
        const drift = clock.observe(op.at.timestamp)
        if (drift !== null) return err(drift)
        return ok({ delta: { type: 'register', state: lwwWrite(op.value, op.at.timestamp, op.at.replica) }, effect: { covered: [], timestamp: op.at.timestamp } })
      }
      const timestamp = clock.now()
      return ok({ delta: { type: 'register', state: lwwWrite(op.value, timestamp, replica) }, effect: { covered: [], timestamp } })
    }
    case 'mvregister': {
      const tooLong = checkText(op.value, 'register value')
      if (tooLong !== null) return err(tooLong)
      const state = causalOf(current, 'mv')
      const dot = state.context.nextDot(replica)
      return ok(causalResult('mvregister', { kind: 'mv', dots: new Map([[dotKey(dot), op.value]]) }, dotsOf(state.root), dot))
    }
    case 'set': {
      const tooLong = checkText(op.element, 'set element')
      if (tooLong !== null) return err(tooLong)
      const state = causalOf(current, 'set')
      const old = state.root.kind === 'set' ? state.root.elements.get(op.element) : undefined
      const covered = old === undefined ? [] : [...old].map(parseDotKey)
      if (op.action === 'remove') return ok(causalResult('set', emptyNested('set'), covered, null))
      const dot = state.context.nextDot(replica)
      return ok(causalResult('set', { kind: 'set', elements: new Map([[op.element, new Set([dotKey(dot)])]]) }, covered, dot))
    }
    case 'map': {
      if (op.path.length === 0 || op.path.length > causalLimits.depthMax) return refuse('invalidArgument', `a map path needs 1 to ${causalLimits.depthMax} fields`)
      for (const field of op.path) {
        const tooLong = checkText(field, 'map field')
        if (tooLong !== null) return err(tooLong)
      }
      const state = causalOf(current, 'map')
      // A put or remove at a path replaces everything there: its register and whatever map lies below.
      const covered = dotsOf(fieldAt(state.root, op.path))
      if (op.action === 'remove') return ok(causalResult('map', emptyNested('map'), covered, null))
      const tooLong = checkText(op.value, 'map value')
      if (tooLong !== null) return err(tooLong)
      const dot = state.context.nextDot(replica)
      return ok(causalResult('map', nestAlong(op.path, registerField(new Map([[dotKey(dot), op.value]]))), covered, dot))
    }
    case 'doc': {
      // Document edits apply to the live document at once (Yjs has no detached edit); the delta re-applies as a no-op.
      const doc = current?.type === 'doc' ? current.state : createDoc(op.key, replica)
      if (op.action === 'update') {
        const checked = checkDocUpdate(op.update)
        if (!checked.ok) return refuse(checked.error.code, checked.error.message)
        return ok({ delta: { type: 'doc', update: op.update }, effect: noEffect })
      }
      if (op.action === 'insert') {
        const tooLong = checkText(op.text, 'inserted text')
        if (tooLong !== null) return err(tooLong)
      }
      // insertText and deleteText check the range before they edit, so a refused edit changes nothing.
      const edited = op.action === 'insert' ? insertText(doc, op.index, op.text) : deleteText(doc, op.index, op.count)
      return edited.ok ? ok({ delta: { type: 'doc', update: edited.value }, effect: noEffect }) : refuse(edited.error.code, edited.error.message)
    }
  }
}

function causalOf(current: Value | undefined, kind: Nested['kind']): Causal {
  if (current !== undefined && (current.type === 'mvregister' || current.type === 'set' || current.type === 'map')) return current.state
  return { root: emptyNested(kind), context: new CausalContext() }
}

/** A causal delta: the fresh store, and a context of the dots it overwrites plus its own dot. */
function causalResult(type: Extract<CrdtType, 'mvregister' | 'set' | 'map'>, fresh: Nested, covered: readonly Dot[], dot: Dot | null): OpResult {
  const context = CausalContext.of(dot === null ? covered : [...covered, dot])
  return {
    delta: { type, state: { root: fresh, context } },
    effect: { ...(dot === null ? {} : { dot: dotKey(dot) }), covered: covered.map(dotKey) },
  }
}

export interface AppliedOp extends OpResult {
  /** The key's value after the operation. */
  readonly value: Value
}

/**
 * A local operation, start to end: its delta and the value after it. A
 * document edit has changed the live document already, so it is not joined a
 * second time; everything else joins its delta into the current value.
 */
export function applyOp(op: CrdtOp, current: Value | undefined, replica: string, clock: HybridClock): Result<AppliedOp, Refusal> {
  const made = makeDelta(op, current, replica, clock)
  if (!made.ok) return made
  const editedInPlace = op.type === 'doc' && op.action !== 'update' && current?.type === 'doc'
  const value = editedInPlace ? current : joinValue(op.key, replica, current, made.value.delta)
  return ok({ ...made.value, value })
}
