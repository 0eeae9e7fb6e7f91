/** The JSON every `dwcp bench NAME --json` prints (DESIGN §5). Fields that do not apply are left out. */
export interface BenchResult {
  readonly case: string
  readonly opsPerSecond: number
  readonly p50Ms?: number
  readonly p99Ms?: number
  readonly bytes?: number
  readonly [extra: string]: number | string | undefined
}

export interface BenchReport {
  readonly bench: string
  readonly machine: MachineInfo
  readonly results: readonly BenchResult[]
}

export interface MachineInfo {
  readonly cpus: number
  readonly cpuModel: string
  readonly memoryBytes: number
  readonly node: string
  readonly platform: string
}

export interface BenchOptions {
  /** Smaller workloads, for a quick look or a test of the output's shape; figures from it are not the targets'. */
  readonly quick: boolean
  /** Called with one line of progress (a terminal shows it; --json runs pass nothing). */
  readonly progress: (line: string) => void
}

export interface Bench {
  readonly name: string
  readonly summary: string
  /** Benches of real processes and sockets are asynchronous; in-process ones may return at once. */
  run(options: BenchOptions): BenchResult[] | Promise<BenchResult[]>
}

/** The value below which `share` of the sorted samples fall. */
export function percentile(sorted: readonly number[], share: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))]!
}

/** Rounds for JSON: figures keep three significant decimals, not float noise. */
export function round(value: number, decimals = 3): number {
  const factor = 10 ** decimals
  return Math.round(value * factor) / factor
}

/**
 * Operations per second of the process's CPU time (user and system, every
 * thread): beside the wall-clock figure, what a shared machine's neighbours
 * take away from it shows as the gap between the two. Conservative: the
 * collector's helper threads count too.
 */
export function perCpuSecond(operations: number, cpu: NodeJS.CpuUsage): number {
  const cpuUs = cpu.user + cpu.system
  return cpuUs === 0 ? 0 : Math.round((operations / cpuUs) * 1_000_000)
}

/**
 * Times `operation` in batches of `batchSize` until `durationMs` of wall time
 * has passed; returns throughput (per wall and per CPU second) and
 * per-operation percentiles over batches.
 */
export function measureBatches(operation: (index: number) => void, batchSize: number, durationMs: number): { opsPerSecond: number; opsPerCpuSecond: number; p50Ms: number; p99Ms: number } {
  const perOpMs: number[] = []
  let operations = 0
  const cpuStarted = process.cpuUsage()
  const started = performance.now()
  let elapsedMs = 0
  while (elapsedMs < durationMs) {
    const batchStarted = performance.now()
    for (let i = 0; i < batchSize; i++) operation(operations + i)
    const batchEnded = performance.now()
    perOpMs.push((batchEnded - batchStarted) / batchSize)
    operations += batchSize
    elapsedMs = batchEnded - started
  }
  const opsPerCpuSecond = perCpuSecond(operations, process.cpuUsage(cpuStarted))
  perOpMs.sort((a, b) => a - b)
  return { opsPerSecond: Math.round((operations / elapsedMs) * 1000), opsPerCpuSecond, p50Ms: round(percentile(perOpMs, 0.5), 6), p99Ms: round(percentile(perOpMs, 0.99), 6) }
}

/** How a case is measured in rounds: a warm-up first (JIT, caches), then `rounds` timed windows of `durationMs`. */
export interface RoundsPlan {
  readonly warmUpMs: number
  readonly durationMs: number
  readonly rounds: number
}

/**
 * Runs `measure` once to warm up (its result dropped) and then `plan.rounds`
 * times, each on a fresh setup, and reports the median round (by opsPerSecond)
 * with the spread of all rounds beside it: one window on a shared machine
 * swings with the JIT, the collector and the neighbours; the median of several
 * does much less. `rounds`, `opsPerSecondMin`, `opsPerSecondMax` and `spread`
 * ((max − min) / median) are added to the median round's fields.
 */
export function measureRounds(plan: RoundsPlan, measure: (durationMs: number) => BenchResult): BenchResult {
  measure(plan.warmUpMs)
  const results: BenchResult[] = []
  for (let round = 0; round < plan.rounds; round++) results.push(measure(plan.durationMs))
  results.sort((a, b) => a.opsPerSecond - b.opsPerSecond)
  const median = results[Math.floor(results.length / 2)]!
  const min = results[0]!.opsPerSecond
  const max = results[results.length - 1]!.opsPerSecond
  return { ...median, rounds: results.length, opsPerSecondMin: min, opsPerSecondMax: max, spread: median.opsPerSecond === 0 ? 0 : round((max - min) / median.opsPerSecond, 3) }
}
