/**
 * A scenario run that a viewer can step (the terminal UI): a generator that
 * yields each time it wants its simulator run on to a virtual time, and
 * returns the run's result. `runSteps` drives one straight through, as
 * `dwcp sim` does; a viewer drives it frame by frame. The two see the same
 * run: `runUntil(a)` then `runUntil(b)` processes exactly what `runUntil(b)`
 * does, and the scenario's code between two steps runs at the same virtual
 * time either way.
 */
import type { RunResult } from './scenario.ts'
import type { Simulator } from './simulator.ts'

/** Any scenario's simulator (the viewer reads its nodes, network and observers whatever the engine). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnySimulator = Simulator<any, any, any, any>

/** Run `sim` until `untilUs` (its own virtual time): a scenario with several experiments yields each one's simulator in turn. */
export interface RunStep {
  readonly sim: AnySimulator
  readonly untilUs: number
}

export type RunSteps<R = RunResult> = Generator<RunStep, R, void>

/** One step: `yield* runTo(sim, untilUs)` where a plain run calls `sim.runUntil(untilUs)`. */
export function* runTo(sim: AnySimulator, untilUs: number): Generator<RunStep, void, void> {
  yield { sim, untilUs }
}

/** Runs every step at once: the result the scenario's own `run` returns. */
export function runSteps<R>(steps: RunSteps<R>): R {
  for (;;) {
    const next = steps.next()
    if (next.done === true) return next.value
    next.value.sim.runUntil(next.value.untilUs)
  }
}
