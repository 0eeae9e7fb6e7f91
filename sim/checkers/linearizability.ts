/**
 * Linearizability of a key-value client history where each key is an
 * independent read/write register (initial value null): put(key, value) is a
 * write, get(key) a read. Linearizability is compositional, so each key is
 * checked on its own (Herlihy & Wing 1990), which keeps the search small.
 *
 * Per key, the search is Wing & Gong's (1993, "Testing and verifying
 * concurrent objects"): build a total order of the operations, one at a time,
 * that respects real time and the register's sequential semantics, and
 * backtrack on a dead end. With Lowe's improvements (2017, "Testing for
 * linearizability"): states already explored — the set of operations
 * linearized plus the register value — are memoized, and an operation is a
 * candidate to go next only if it was invoked before the earliest return
 * among the operations not yet linearized ("just-in-time" linearization).
 * Two cuts that hold for registers keep heavily overlapping histories cheap:
 * reads the register can satisfy now are linearized without branching, and
 * a state is dropped as soon as some read can no longer be satisfied (see
 * `linearizeLegalReads` and `strandedReads`).
 *
 * Real time: `a` precedes `b` only if a.returnUs < b.invokeUs; equal
 * timestamps count as concurrent, so a coarse clock can hide a violation but
 * never invent one.
 */
import { assert } from '../../core/lib/assert.ts'
import type { Violation } from '../violation.ts'

export interface RegisterOp {
  readonly client: string
  readonly key: string
  readonly kind: 'read' | 'write'
  /** The value written, or the value the read returned. */
  readonly value: string | null
  readonly invokeUs: number
  /** Null: no reply seen (timeout, crash); the op may or may not have taken effect, at any time after its invoke. */
  readonly returnUs: number | null
}

export type LinearizabilityResult = { readonly ok: true } | { readonly ok: false; readonly key: string; readonly reason: string } | { readonly ok: 'unknown'; readonly key: string; readonly reason: string }

export interface LinearizabilityOptions {
  /** Search steps allowed per key; one step is one attempt to linearize a write from one state. */
  readonly searchStepsMax?: number
}

export const linearizabilityLimits = {
  /** Ops per key the search accepts (reads that never returned, and unobserved timed-out writes, are dropped first); the state space grows as 2^ops. */
  opsPerKeyMax: 512,
  /** Default search budget per key; the memo holds at most one entry per step, so this also bounds its memory. */
  searchStepsMax: 1_000_000,
} as const

/** Ops listed in a failure reason, so a long history does not drown the ones that matter. */
const reasonOpsMax = 6

export function checkLinearizable(ops: readonly RegisterOp[], options: LinearizabilityOptions = {}): LinearizabilityResult {
  const searchStepsMax = options.searchStepsMax ?? linearizabilityLimits.searchStepsMax
  assert(Number.isInteger(searchStepsMax) && searchStepsMax >= 0, 'searchStepsMax must be a non-negative integer')
  const opsByKey = new Map<string, RegisterOp[]>()
  for (const op of ops) {
    if (!Number.isFinite(op.invokeUs)) refuseMalformed(op, 'invokeUs is not finite')
    // An infinite returnUs would pass for "returned" here and for "never returned" in the search.
    if (op.returnUs !== null && !Number.isFinite(op.returnUs)) refuseMalformed(op, 'returnUs is not finite')
    if (op.returnUs !== null && op.returnUs < op.invokeUs) refuseMalformed(op, 'returnUs is before invokeUs')
    // A read that never returned told nobody anything, so it constrains nothing.
    if (op.kind === 'read' && op.returnUs === null) continue
    const keyOps = opsByKey.get(op.key)
    if (keyOps === undefined) opsByKey.set(op.key, [op])
    else keyOps.push(op)
  }
  // A definite violation on a later key is worth more than an inconclusive earlier one.
  let firstUnknown: LinearizabilityResult | null = null
  for (const [key, keyOps] of opsByKey) {
    const result = checkKey(key, keyOps, searchStepsMax)
    if (result.ok === false) return result
    if (result.ok === 'unknown' && firstUnknown === null) firstUnknown = result
  }
  return firstUnknown ?? { ok: true }
}

function refuseMalformed(op: RegisterOp, message: string): never {
  throw new Error(`malformed history: ${message}: ${describeOp(op)}`)
}

function checkKey(key: string, allOps: readonly RegisterOp[], searchStepsMax: number): LinearizabilityResult {
  const unsortedOps = withoutUnobservedTimeouts(allOps)
  if (unsortedOps.length > linearizabilityLimits.opsPerKeyMax) {
    return {
      ok: 'unknown',
      key,
      reason: `key ${JSON.stringify(key)}: ${unsortedOps.length} ops (after dropping unobserved timed-out writes) exceed opsPerKeyMax (${linearizabilityLimits.opsPerKeyMax}); not checked`,
    }
  }
  // A read of a value nobody wrote fails in every order; saying so directly beats a search that explains it badly.
  const written = new Set<string | null>([null])
  for (const op of unsortedOps) if (op.kind === 'write') written.add(op.value)
  for (const op of unsortedOps) {
    if (op.kind === 'read' && !written.has(op.value)) {
      return { ok: false, key, reason: `key ${JSON.stringify(key)}: ${describeOp(op)} returned a value no write on this key wrote` }
    }
  }
  return new KeySearch(key, unsortedOps, searchStepsMax).run()
}

/**
 * Drops the writes that never returned and whose value no read returned. Safe: such a write may take
 * effect at any time after its invoke, so every order of the rest extends to one with it placed last,
 * where it changes no read; and no order of the rest is lost by leaving it out. Without this, each
 * such write doubles the states the search must visit, and a key with a dozen timeouts is undecided.
 */
export function withoutUnobservedTimeouts(ops: readonly RegisterOp[]): RegisterOp[] {
  const read = new Set<string | null>()
  for (const op of ops) if (op.kind === 'read' && op.returnUs !== null) read.add(op.value)
  return ops.filter((op) => op.kind === 'read' || op.returnUs !== null || read.has(op.value))
}

/**
 * The violation a result stands for: a definite failure is a safety violation; 'unknown' (a search or
 * size limit hit) is an undecided one, which fails the run too (it is never a pass); ok is none.
 */
export function linearizabilityViolation(result: LinearizabilityResult, seed: number, atMs: number): Violation | null {
  if (result.ok === true) return null
  return { seed, invariant: 'linearizability', kind: result.ok === false ? 'safety' : 'undecided', atMs, message: result.reason }
}

/** One explored state on the depth-first path, with what to undo when leaving it. */
interface Frame {
  /** The write whose linearization led here; -1 at the root. */
  readonly viaWrite: number
  readonly valueBefore: number
  /** Reads linearized on entry without branching (see `linearizeLegalReads`). */
  readonly forcedReads: readonly number[]
  readonly candidateWrites: readonly number[]
  nextCandidate: number
}

class KeySearch {
  private readonly key: string
  private readonly searchStepsMax: number
  /** Sorted by invoke, so the candidates are found by a scan that stops at the first invoke past the earliest return. */
  private readonly ops: readonly RegisterOp[]
  private readonly invokeUs: Float64Array
  /** Return times with +Infinity for ops never returned, which lets them stay pending forever. */
  private readonly returnUs: Float64Array
  private readonly isRead: Uint8Array
  /** Values interned as small integers; 0 is null, the initial value. */
  private readonly valueIndex: Uint16Array
  /** Scratch for `strandedReads`, by value index. */
  private readonly earliestWriteInvokeUs: Float64Array
  private readonly linearized: Uint16Array
  private linearizedCount = 0
  /** Ops that returned and are not linearized yet: the search succeeds when none is left. */
  private returnedPending = 0
  private registerValue = 0
  /** The order built so far, for the failure reason. */
  private readonly path: number[] = []
  private readonly explored = new Set<string>()
  private steps = 0
  private deepestPath: number[] = []
  private deepestLinearized: Uint16Array

  constructor(key: string, unsortedOps: readonly RegisterOp[], searchStepsMax: number) {
    this.key = key
    this.searchStepsMax = searchStepsMax
    this.ops = unsortedOps
      .map((op, order) => ({ op, order }))
      .sort((a, b) => a.op.invokeUs - b.op.invokeUs || a.order - b.order)
      .map((entry) => entry.op)
    const count = this.ops.length
    this.invokeUs = new Float64Array(count)
    this.returnUs = new Float64Array(count)
    this.isRead = new Uint8Array(count)
    this.valueIndex = new Uint16Array(count)
    const indexByValue = new Map<string | null, number>([[null, 0]])
    this.ops.forEach((op, i) => {
      this.invokeUs[i] = op.invokeUs
      this.returnUs[i] = op.returnUs ?? Number.POSITIVE_INFINITY
      this.isRead[i] = op.kind === 'read' ? 1 : 0
      let index = indexByValue.get(op.value)
      if (index === undefined) {
        index = indexByValue.size
        indexByValue.set(op.value, index)
      }
      this.valueIndex[i] = index
      if (op.returnUs !== null) this.returnedPending++
    })
    this.earliestWriteInvokeUs = new Float64Array(indexByValue.size)
    this.linearized = new Uint16Array(Math.ceil(count / 16))
    this.deepestLinearized = this.linearized.slice()
  }

  run(): LinearizabilityResult {
    const stack: Frame[] = []
    if (this.enter(-1, 0, stack)) return { ok: true }
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!
      if (frame.nextCandidate === frame.candidateWrites.length) {
        stack.pop()
        this.leave(frame.viaWrite, frame.valueBefore, frame.forcedReads)
        continue
      }
      const write = frame.candidateWrites[frame.nextCandidate++]!
      if (++this.steps > this.searchStepsMax) {
        return {
          ok: 'unknown',
          key: this.key,
          reason: `key ${JSON.stringify(this.key)}: search gave up after searchStepsMax (${this.searchStepsMax}) steps over ${this.ops.length} ops`,
        }
      }
      const valueBefore = this.registerValue
      this.mark(write)
      this.registerValue = this.valueIndex[write]!
      if (this.enter(write, valueBefore, stack)) return { ok: true }
    }
    return { ok: false, key: this.key, reason: this.explainFailure() }
  }

  /**
   * Completes the state just reached with its forced reads; returns true if that linearizes every returned op,
   * pushes a frame if the state is new, and undoes the move if it was explored before.
   */
  private enter(viaWrite: number, valueBefore: number, stack: Frame[]): boolean {
    const forcedReads = this.linearizeLegalReads()
    if (this.returnedPending === 0) return true
    if (this.linearizedCount > this.deepestPath.length) {
      this.deepestPath = this.path.slice()
      this.deepestLinearized = this.linearized.slice()
    }
    const state = this.stateKey()
    if (this.explored.has(state)) {
      this.leave(viaWrite, valueBefore, forcedReads)
      return false
    }
    this.explored.add(state)
    if (this.strandedReads(this.linearized, this.registerValue, 1).length > 0) {
      this.leave(viaWrite, valueBefore, forcedReads)
      return false
    }
    stack.push({ viaWrite, valueBefore, forcedReads, candidateWrites: this.candidateWrites(), nextCandidate: 0 })
    return false
  }

  /**
   * Pending reads that no continuation can satisfy: a read of a value other than the register's needs a write of
   * that value still to come, invoked no later than the read returned. Without this cut a wrong early choice among
   * overlapping writes is found out only when the search reaches the read, after exponentially many orders.
   */
  private strandedReads(linearized: Uint16Array, registerValue: number, countMax: number): number[] {
    const isIn = (i: number): boolean => (linearized[i >>> 4]! & (1 << (i & 15))) !== 0
    const earliestWriteInvokeUs = this.earliestWriteInvokeUs.fill(Number.POSITIVE_INFINITY)
    for (let i = this.ops.length - 1; i >= 0; i--) {
      if (this.isRead[i] === 0 && !isIn(i)) earliestWriteInvokeUs[this.valueIndex[i]!] = this.invokeUs[i]!
    }
    const stranded: number[] = []
    for (let i = 0; i < this.ops.length && stranded.length < countMax; i++) {
      if (this.isRead[i] === 0 || isIn(i) || this.valueIndex[i] === registerValue) continue
      if (earliestWriteInvokeUs[this.valueIndex[i]!]! > this.returnUs[i]!) stranded.push(i)
    }
    return stranded
  }

  private leave(viaWrite: number, valueBefore: number, forcedReads: readonly number[]): void {
    for (let i = forcedReads.length - 1; i >= 0; i--) this.unmark(forcedReads[i]!)
    if (viaWrite >= 0) {
      this.unmark(viaWrite)
      this.registerValue = valueBefore
    }
  }

  /**
   * Linearizes, without branching, every candidate read that agrees with the register. This loses no solution:
   * a read leaves the register as it is, and moving it to the front of any valid continuation breaks no real-time
   * order, because as a candidate it was invoked no later than every pending op returned.
   */
  private linearizeLegalReads(): number[] {
    const forcedReads: number[] = []
    let progressed = true
    while (progressed) {
      progressed = false
      const earliestReturnUs = this.earliestPendingReturnUs()
      for (let i = 0; i < this.ops.length && this.invokeUs[i]! <= earliestReturnUs; i++) {
        if (this.isLinearized(i) || this.isRead[i] === 0 || this.valueIndex[i] !== this.registerValue) continue
        this.mark(i)
        forcedReads.push(i)
        progressed = true
      }
    }
    return forcedReads
  }

  private candidateWrites(): number[] {
    const candidates: number[] = []
    const earliestReturnUs = this.earliestPendingReturnUs()
    for (let i = 0; i < this.ops.length && this.invokeUs[i]! <= earliestReturnUs; i++) {
      if (!this.isLinearized(i) && this.isRead[i] === 0) candidates.push(i)
    }
    return candidates
  }

  private earliestPendingReturnUs(): number {
    let earliest = Number.POSITIVE_INFINITY
    for (let i = 0; i < this.ops.length; i++) {
      if (!this.isLinearized(i) && this.returnUs[i]! < earliest) earliest = this.returnUs[i]!
    }
    return earliest
  }

  private stateKey(): string {
    let state = String.fromCharCode(this.registerValue)
    for (let i = 0; i < this.linearized.length; i++) state += String.fromCharCode(this.linearized[i]!)
    return state
  }

  private isLinearized(i: number): boolean {
    return (this.linearized[i >>> 4]! & (1 << (i & 15))) !== 0
  }

  private mark(i: number): void {
    this.linearized[i >>> 4]! |= 1 << (i & 15)
    this.linearizedCount++
    if (this.returnUs[i] !== Number.POSITIVE_INFINITY) this.returnedPending--
    this.path.push(i)
  }

  private unmark(i: number): void {
    this.linearized[i >>> 4]! &= ~(1 << (i & 15))
    this.linearizedCount--
    if (this.returnUs[i] !== Number.POSITIVE_INFINITY) this.returnedPending++
    const last = this.path.pop()
    assert(last === i, 'linearization path undone out of order')
  }

  /**
   * Names the ops at the furthest point any order reached: the last few it linearized, the reads it left with no
   * write to satisfy them, and the ops that could have gone next there, none of which led to a complete order.
   */
  private explainFailure(): string {
    const path = this.deepestPath
    const linearized = this.deepestLinearized
    const isIn = (i: number): boolean => (linearized[i >>> 4]! & (1 << (i & 15))) !== 0
    const lastWrite = [...path].reverse().find((i) => this.isRead[i] === 0)
    const registerValue = lastWrite === undefined ? 0 : this.valueIndex[lastWrite]!
    const stranded = this.strandedReads(linearized, registerValue, reasonOpsMax)
    let earliestReturnUs = Number.POSITIVE_INFINITY
    for (let i = 0; i < this.ops.length; i++) {
      if (!isIn(i) && this.returnUs[i]! < earliestReturnUs) earliestReturnUs = this.returnUs[i]!
    }
    const candidates: number[] = []
    for (let i = 0; i < this.ops.length && this.invokeUs[i]! <= earliestReturnUs; i++) {
      if (!isIn(i) && !stranded.includes(i)) candidates.push(i)
    }
    const lastShown = path.slice(-Math.floor(reasonOpsMax / 2))
    const strandedShown = stranded.slice(0, reasonOpsMax - lastShown.length)
    const candidatesShown = candidates.slice(0, Math.max(0, reasonOpsMax - lastShown.length - strandedShown.length))
    const list = (indices: readonly number[], total: number): string => {
      const more = total > indices.length ? ` and ${total - indices.length} more` : ''
      return indices.map((i) => describeOp(this.ops[i]!)).join(', ') + more
    }
    const parts = [
      `key ${JSON.stringify(this.key)}: not linearizable`,
      path.length === 0
        ? 'no op can go first'
        : `the longest order found covers ${path.length} of ${this.ops.length} ops, ending ${list(lastShown, lastShown.length)}, and leaves the register at ${JSON.stringify(lastWrite === undefined ? null : this.ops[lastWrite]!.value)}`,
    ]
    if (strandedShown.length > 0) parts.push(`reads no write still to come can satisfy: ${list(strandedShown, stranded.length)}`)
    if (candidatesShown.length > 0) parts.push(`ops that could go next, none leading to a full order: ${list(candidatesShown, candidates.length)}`)
    return parts.join('; ')
  }
}

function describeOp(op: RegisterOp): string {
  const returned = op.returnUs === null ? 'no reply' : `${op.returnUs} us`
  return `${op.kind} ${JSON.stringify(op.value)} by ${op.client} [${op.invokeUs} us..${returned}]`
}
