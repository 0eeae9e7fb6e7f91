/**
 * npm run mutants -- [NAME…] [--json] [--jobs N] [--seeds-max N] [--list]
 *
 * Runs each planted bug of catalog.ts (all, or those named) against its
 * targeted scenario and prints a table: name, scenario, caught | survived |
 * timeout | error, seeds run, and the exit code and violations of the run that
 * caught it. `--json` prints one object instead. Exit 0 when every mutant run
 * was caught, 1 when any survived (or timed out, or failed to load), 2 on a
 * usage or catalog error (a `find` that does not occur exactly once).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { catalog, type Mutant } from './catalog.ts'
import { catalogProblems, runMutant, type MutantResult } from './mutate.ts'

const repoRoot = resolve(import.meta.dirname, '../..')
/** Mutants run at once; each is one dwcp sim process at a time. */
const jobsMax = 8

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: npm run mutants -- [NAME…] [--json] [--jobs N (1..${jobsMax})] [--seeds-max N] [--list]\n`)
  process.exit(2)
}

function positiveInteger(name: string, text: string | undefined, max: number): number | undefined {
  if (text === undefined) return undefined
  const value = Number(text)
  if (!Number.isInteger(value) || value < 1 || value > max) usage(`--${name} must be an integer in 1..${max}, got ${text}`)
  return value
}

function formatTable(results: readonly MutantResult[]): string {
  const rows = results.map((result) => [
    result.name,
    [result.scenario, ...result.args].join(' '),
    result.status,
    result.status === 'caught' ? `seed ${result.caughtAtSeed}` : `${result.seedsRun} seeds`,
    result.status === 'caught' ? `exit ${result.exitCode}: ${result.findings.join(', ')}` : (result.message ?? ''),
  ])
  const header = ['mutant', 'scenario', 'result', 'seeds', 'exit code / violations']
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)))
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd()
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n')
}

async function main(): Promise<void> {
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number]
  if (major < 22 || (major === 22 && minor < 18)) usage(`the mutants need Node >= 22.18 (this is ${process.version}); run them with \`npm run mutants\``)
  let parsed
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: { json: { type: 'boolean', default: false }, jobs: { type: 'string' }, 'seeds-max': { type: 'string' }, list: { type: 'boolean', default: false } },
    })
  } catch (error) {
    usage((error as Error).message)
  }
  const { values, positionals } = parsed
  const jobs = positiveInteger('jobs', values.jobs, jobsMax) ?? 1
  const seedsMax = positiveInteger('seeds-max', values['seeds-max'], 10_000)
  const unknown = positionals.filter((name) => !catalog.some((mutant) => mutant.name === name))
  if (unknown.length > 0) usage(`unknown mutant(s): ${unknown.join(', ')}; see --list`)
  const selected: Mutant[] = positionals.length === 0 ? [...catalog] : catalog.filter((mutant) => positionals.includes(mutant.name))

  if (values.list) {
    for (const mutant of selected) process.stdout.write(`${mutant.name}  (${[mutant.scenario, ...mutant.args].join(' ')})  ${mutant.description}\n`)
    return
  }

  // Catalog errors first, all of them, before anything runs.
  const names = new Set<string>()
  const problems: string[] = []
  for (const mutant of catalog) {
    if (names.has(mutant.name)) problems.push(`${mutant.name}: the name is used twice`)
    names.add(mutant.name)
  }
  for (const mutant of selected) for (const problem of catalogProblems(mutant, repoRoot)) problems.push(`${mutant.name}: ${problem}`)
  if (problems.length > 0) {
    process.stderr.write(`catalog error (test/mutants/catalog.ts):\n${problems.map((problem) => `  ${problem}`).join('\n')}\n`)
    process.exit(2)
  }

  const tempRoot = mkdtempSync(join(tmpdir(), 'dwcp-mutants-'))
  const cleanUp = () => rmSync(tempRoot, { recursive: true, force: true })
  process.once('SIGINT', () => {
    cleanUp()
    process.exit(130)
  })
  const started = Date.now()
  const results: MutantResult[] = new Array(selected.length)
  let next = 0
  try {
    const worker = async () => {
      while (next < selected.length) {
        const index = next++
        const mutant = selected[index]!
        const workDir = join(tempRoot, mutant.name)
        try {
          results[index] = await runMutant(mutant, { repoRoot, workDir, ...(seedsMax === undefined ? {} : { seedsMax }) })
        } finally {
          rmSync(workDir, { recursive: true, force: true })
        }
        const result = results[index]
        if (!values.json) process.stderr.write(`${result.name}: ${result.status}${result.status === 'caught' ? ` at seed ${result.caughtAtSeed}` : ''} (${(result.durationMs / 1000).toFixed(1)} s)\n`)
      }
    }
    await Promise.all(Array.from({ length: Math.min(jobs, selected.length) }, worker))
  } finally {
    cleanUp()
  }
  const elapsedMs = Date.now() - started
  const count = (status: MutantResult['status']) => results.filter((result) => result.status === status).length
  const summary = { mutants: results.length, caught: count('caught'), survived: count('survived'), timeout: count('timeout'), error: count('error'), elapsedMs }
  if (values.json) process.stdout.write(`${JSON.stringify({ ...summary, results }, null, 2)}\n`)
  else {
    process.stdout.write(`${formatTable(results)}\n\n`)
    process.stdout.write(
      `${summary.caught} of ${summary.mutants} caught, ${summary.survived} survived${summary.timeout > 0 ? `, ${summary.timeout} timed out` : ''}${summary.error > 0 ? `, ${summary.error} failed to load` : ''} in ${(elapsedMs / 1000).toFixed(0)} s\n`,
    )
  }
  process.exitCode = summary.caught === summary.mutants ? 0 : 1
}

await main()
