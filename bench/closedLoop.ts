/**
 * A closed-loop load: `clients` callers, each issuing its next operation as
 * soon as the last one answered, for `durationMs` of wall time after a short
 * warm-up. The figures every cluster case and its anchor share, so both are
 * measured the same way in the same run.
 */
import { percentile, round } from './report.ts'

export interface ClosedLoopOptions {
  readonly clients: number
  readonly durationMs: number
  /** Operations before this much time has passed are not counted (connections, JIT, leader settling). */
  readonly warmupMs: number
  /** One operation of client `client`; `index` counts that client's operations. Rejects on a failed operation. */
  readonly operation: (client: number, index: number) => Promise<void>
}

export interface ClosedLoopResult {
  readonly opsPerSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly operations: number
  readonly errors: number
  /** The first error's message, to tell a broken case from a slow one. */
  readonly firstError?: string
}

/** Latency samples kept at most; beyond it the rest are counted but not timed. */
const samplesMax = 1_000_000

export async function closedLoop(options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const latenciesMs: number[] = []
  let operations = 0
  let errors = 0
  let firstError: string | undefined
  const started = performance.now()
  const countFrom = started + options.warmupMs
  const endAt = countFrom + options.durationMs
  const client = async (id: number): Promise<void> => {
    for (let index = 0; performance.now() < endAt; index++) {
      const begun = performance.now()
      try {
        await options.operation(id, index)
      } catch (error) {
        if (begun >= countFrom) errors++
        firstError ??= (error as Error).message
        continue
      }
      if (begun < countFrom) continue
      operations++
      if (latenciesMs.length < samplesMax) latenciesMs.push(performance.now() - begun)
    }
  }
  await Promise.all(Array.from({ length: options.clients }, (_, id) => client(id)))
  const elapsedMs = performance.now() - countFrom
  latenciesMs.sort((a, b) => a - b)
  return {
    opsPerSecond: Math.round((operations / elapsedMs) * 1000),
    p50Ms: round(percentile(latenciesMs, 0.5)),
    p99Ms: round(percentile(latenciesMs, 0.99)),
    operations,
    errors,
    ...(firstError === undefined ? {} : { firstError }),
  }
}
