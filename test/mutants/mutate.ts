/**
 * Applying a planted bug and running its scenario: the library behind run.ts
 * (`npm run mutants`) and catalog.test.ts.
 *
 * A mutant runs in a copy of the tree (every top-level entry but tests,
 * build output and dependencies, and a symlink to node_modules) with its one text replacement applied, as `node bin/dwcp.js
 * sim SCENARIO ARGS --seed S --seeds K --json` in batches of seeds from seed 1,
 * until a run fails (caught) or `seedsMax` seeds pass (survived). A run that
 * does not finish in time is a timeout, neither caught nor survived; a mutant
 * whose copy does not load (a syntax error) is an error.
 */
import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { defaultSeedBatch, defaultSeedsMax, type Mutant } from './catalog.ts'

/** Top-level entries a mutant's copy leaves out: tests, git, build output, local data, dependencies (linked instead). */
const treeEntriesSkipped = new Set(['.git', 'node_modules', 'test', '.tsbuild', '.wrangler', '.dwcp'])

/** What the CLI may import from the tree: every top-level entry but the skipped ones (a new source folder needs no change here). */
export function treeEntries(repoRoot: string): string[] {
  return readdirSync(repoRoot).filter((entry) => !treeEntriesSkipped.has(entry))
}

/** A dwcp sim process gets this long to start and load... */
export const runTimeoutMsBase = 30_000
/** ...plus this long per seed it runs (the slowest scenarios take about 5 s per seed). */
export const runTimeoutMsPerSeed = 30_000
/** Characters of a crash message kept in a result. */
const crashMessageCharsMax = 200
/** The exit code of a dwcp usage error (cli/exitCodes.ts): for a mutant, a catalog error, not a catch. */
const usageExitCode = 2

export type MutantStatus = 'caught' | 'survived' | 'timeout' | 'error'

export interface MutantResult {
  readonly name: string
  readonly scenario: string
  readonly args: readonly string[]
  readonly status: MutantStatus
  /** Seeds run, from seed 1, up to the first that failed (caught) or all (survived). */
  readonly seedsRun: number
  /** The first seed whose run failed, or null. */
  readonly caughtAtSeed: number | null
  /** The exit code of the failing (or timed out: null) run; 0 when it survived. */
  readonly exitCode: number | null
  /** What the failing run reported: `kind:invariant` of its violations, or `crash: message` when the engine threw. */
  readonly findings: readonly string[]
  /** For a timeout or error: what happened. */
  readonly message?: string
  readonly durationMs: number
}

/** A catalog entry that cannot be applied to the current tree. */
export class CatalogError extends Error {
  override readonly name = 'CatalogError'
}

export function occurrences(text: string, snippet: string): number {
  if (snippet.length === 0) return 0
  let count = 0
  for (let at = text.indexOf(snippet); at >= 0; at = text.indexOf(snippet, at + 1)) count++
  return count
}

/** Problems with one catalog entry against the tree at `repoRoot` (empty: fine). */
export function catalogProblems(mutant: Mutant, repoRoot: string): string[] {
  const problems: string[] = []
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(mutant.name)) problems.push(`name '${mutant.name}' is not kebab-case`)
  if (!mutant.file.startsWith('core/')) problems.push(`file ${mutant.file} is not under core/`)
  if (mutant.find === mutant.replace) problems.push('find and replace are equal')
  if (mutant.scenario.length === 0) problems.push('no scenario')
  if ((mutant.seedsMax ?? defaultSeedsMax) < 1 || (mutant.seedBatch ?? defaultSeedBatch) < 1) problems.push('seedsMax and seedBatch must be at least 1')
  if (mutant.args.some((arg) => arg === '--seed' || arg === '--seeds' || arg === '--json')) problems.push('args must not set --seed, --seeds or --json (the runner does)')
  const path = join(repoRoot, mutant.file)
  if (!existsSync(path)) return [...problems, `file ${mutant.file} does not exist`]
  const count = occurrences(readFileSync(path, 'utf8'), mutant.find)
  if (count !== 1) problems.push(`find occurs ${count} times in ${mutant.file}, must occur exactly once: ${JSON.stringify(mutant.find.slice(0, 80))}`)
  return problems
}

/** The mutated text of the mutant's file; throws CatalogError unless `find` occurs exactly once. */
export function mutatedText(mutant: Mutant, repoRoot: string): string {
  const problems = catalogProblems(mutant, repoRoot)
  if (problems.length > 0) throw new CatalogError(`mutant ${mutant.name}: ${problems.join('; ')}`)
  const text = readFileSync(join(repoRoot, mutant.file), 'utf8')
  const at = text.indexOf(mutant.find)
  return text.slice(0, at) + mutant.replace + text.slice(at + mutant.find.length)
}

/** Copies what the CLI needs into `into` (created) and applies the mutant there; core/ of `repoRoot` is never written. */
export function prepareTree(mutant: Mutant, repoRoot: string, into: string): void {
  const text = mutatedText(mutant, repoRoot)
  mkdirSync(into, { recursive: true })
  for (const entry of treeEntries(repoRoot)) cpSync(join(repoRoot, entry), join(into, entry), { recursive: true })
  symlinkSync(realpathSync(join(repoRoot, 'node_modules')), join(into, 'node_modules'), 'dir')
  writeFileSync(join(into, mutant.file), text)
}

interface ProcessOutcome {
  readonly exitCode: number | null
  readonly stdout: string
  readonly stderr: string
  readonly timedOut: boolean
}

function runProcess(command: string, args: readonly string[], cwd: string, timeoutMs: number): Promise<ProcessOutcome> {
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout kills whatever it started too.
    const child = spawn(command, args, { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch {
        child.kill('SIGKILL')
      }
    }, timeoutMs)
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ exitCode: code, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8'), timedOut })
    })
  })
}

interface SimJson {
  readonly violations: readonly { readonly seed: number; readonly kind: string; readonly invariant: string }[]
  readonly runs: readonly { readonly seed: number; readonly violations: number }[]
}

function parseReport(stdout: string): SimJson | null {
  try {
    const parsed = JSON.parse(stdout) as SimJson
    return Array.isArray(parsed.runs) && Array.isArray(parsed.violations) ? parsed : null
  } catch {
    return null
  }
}

/** The error line of a crash's stderr (an engine assertion, say). */
function crashMessage(stderr: string): string {
  const line = stderr.split('\n').find((text) => /^\w*(Error|Exception)\b/.test(text.trim())) ?? stderr.trim().split('\n')[0] ?? ''
  return line.trim().slice(0, crashMessageCharsMax)
}

/** A crash of the copy itself, not of the simulated engines: the mutation broke the code. */
function isLoadFailure(stderr: string): boolean {
  return /SyntaxError|ERR_MODULE_NOT_FOUND|ERR_INVALID_TYPESCRIPT_SYNTAX|ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX/.test(stderr)
}

type BatchOutcome =
  | { readonly kind: 'passed' }
  | { readonly kind: 'failed'; readonly seed: number | null; readonly exitCode: number; readonly findings: string[] }
  | { readonly kind: 'timeout' | 'error'; readonly exitCode: number | null; readonly message: string }

async function runBatch(mutant: Mutant, tree: string, firstSeed: number, seeds: number): Promise<BatchOutcome> {
  const args = ['--max-semi-space-size=128', 'bin/dwcp.js', 'sim', mutant.scenario, ...mutant.args, '--seed', String(firstSeed), '--seeds', String(seeds), '--json']
  const outcome = await runProcess(process.execPath, args, tree, runTimeoutMsBase + runTimeoutMsPerSeed * seeds)
  if (outcome.timedOut) return { kind: 'timeout', exitCode: null, message: `seeds ${firstSeed}..${firstSeed + seeds - 1} did not finish in ${(runTimeoutMsBase + runTimeoutMsPerSeed * seeds) / 1000} s` }
  if (outcome.exitCode === 0) return { kind: 'passed' }
  const exitCode = outcome.exitCode ?? -1
  const report = parseReport(outcome.stdout)
  if (report !== null) {
    const seed = report.runs.find((run) => run.violations > 0)?.seed ?? report.violations[0]?.seed ?? null
    const kinds = new Set(report.violations.filter((violation) => seed === null || violation.seed === seed).map((violation) => `${violation.kind}:${violation.invariant}`))
    return { kind: 'failed', seed, exitCode, findings: [...kinds] }
  }
  if (exitCode === usageExitCode || isLoadFailure(outcome.stderr)) return { kind: 'error', exitCode, message: crashMessage(outcome.stderr) }
  // The engines threw (their own invariant assertions): caught, at some seed of the batch.
  return { kind: 'failed', seed: seeds === 1 ? firstSeed : null, exitCode, findings: [`crash: ${crashMessage(outcome.stderr)}`] }
}

export interface RunOptions {
  readonly repoRoot: string
  /** A fresh directory for the mutant's copy of the tree; the caller removes it. */
  readonly workDir: string
  /** Overrides the mutant's seedsMax. */
  readonly seedsMax?: number
}

/** Runs one mutant against its scenario: seed batches from seed 1 until a run fails or seedsMax seeds pass. */
export async function runMutant(mutant: Mutant, options: RunOptions): Promise<MutantResult> {
  const started = Date.now()
  const base = { name: mutant.name, scenario: mutant.scenario, args: mutant.args }
  const done = (rest: Omit<MutantResult, 'name' | 'scenario' | 'args' | 'durationMs'>): MutantResult => ({ ...base, ...rest, durationMs: Date.now() - started })
  prepareTree(mutant, options.repoRoot, options.workDir)
  const seedsMax = options.seedsMax ?? mutant.seedsMax ?? defaultSeedsMax
  const batch = mutant.seedBatch ?? defaultSeedBatch
  for (let first = 1; first <= seedsMax; first += batch) {
    const count = Math.min(batch, seedsMax - first + 1)
    let outcome = await runBatch(mutant, options.workDir, first, count)
    // A crash does not say which seed: replay the batch seed by seed to find the first.
    if (outcome.kind === 'failed' && outcome.seed === null) {
      for (let seed = first; seed < first + count; seed++) {
        const single = await runBatch(mutant, options.workDir, seed, 1)
        if (single.kind !== 'passed') {
          outcome = single
          break
        }
      }
    }
    if (outcome.kind === 'passed') continue
    if (outcome.kind === 'failed') {
      const seed = outcome.seed ?? first + count - 1
      return done({ status: 'caught', seedsRun: seed, caughtAtSeed: seed, exitCode: outcome.exitCode, findings: outcome.findings })
    }
    return done({ status: outcome.kind, seedsRun: first + count - 1, caughtAtSeed: null, exitCode: outcome.exitCode, findings: [], message: outcome.message })
  }
  return done({ status: 'survived', seedsRun: seedsMax, caughtAtSeed: null, exitCode: 0, findings: [] })
}
