import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const bin = join(import.meta.dirname, '../../bin/dwcp.js')

function dwcp(...args: string[]) {
  const run = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 })
  return { code: run.status, stdout: run.stdout, stderr: run.stderr }
}

describe('dwcp sim', () => {
  it('prints byte-identical JSON for the same seed, with no violations', () => {
    const first = dwcp('sim', 'smoke', '--seed', '7', '--json')
    const second = dwcp('sim', 'smoke', '--seed', '7', '--json')
    expect(first.code).toBe(0)
    expect(second.stdout).toBe(first.stdout)
    const report = JSON.parse(first.stdout)
    expect(report).toMatchObject({ scenario: 'smoke', nodes: 5, partition: 'flaky', seeds: [7], violations: [] })
    expect(report.metrics['network.delivered']).toBeGreaterThan(1000)
    expect(first.stderr).toBe('')
  })

  it('ends with a verdict under 20% loss and a partition', () => {
    for (const partition of ['halves', 'oneway', 'flaky']) {
      const run = dwcp('sim', 'smoke', '--seed', '7', '--loss', '0.2', '--partition', partition, '--json')
      expect(run.code).toBe(0)
      expect(JSON.parse(run.stdout).violations).toEqual([])
    }
  })

  it("takes a scenario's own default partition mode unless one is named", () => {
    const quiet = JSON.parse(dwcp('sim', 'gossip', '--nodes', '8', '--json').stdout)
    expect(quiet).toMatchObject({ scenario: 'gossip', partition: 'none', violations: [] })
    expect(quiet.metrics.roundsToFullSpread.mean).toBeGreaterThan(0)
    expect(JSON.parse(dwcp('sim', 'gossip', '--nodes', '8', '--partition', 'flaky', '--json').stdout)).toMatchObject({ partition: 'flaky', violations: [] })
  })

  it('runs several seeds and prints a human summary', () => {
    const run = dwcp('sim', 'smoke', '--seeds', '5', '--seed', '100', '--nodes', '9')
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('dwcp sim smoke: 9 nodes, 5 seeds from 100: ok, every invariant held')
  })

  it('writes the same trace for the same seed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dwcp-trace-'))
    expect(dwcp('sim', 'smoke', '--seed', '3', '--trace', join(dir, 'a.txt')).code).toBe(0)
    expect(dwcp('sim', 'smoke', '--seed', '3', '--trace', join(dir, 'b.txt')).code).toBe(0)
    const trace = readFileSync(join(dir, 'a.txt'), 'utf8')
    expect(trace.split('\n').length).toBeGreaterThan(1000)
    expect(readFileSync(join(dir, 'b.txt'), 'utf8')).toBe(trace)
  })

  it('exits 3 (liveness), not 0, when a run does no work: raft under 90% loss', () => {
    const run = dwcp('sim', 'raft', '--seed', '1', '--nodes', '3', '--loss', '0.9', '--json')
    expect(run.code).toBe(3)
    const report = JSON.parse(run.stdout)
    expect(report.verdict).toBe('liveness')
    expect(report.violations.map((violation: { invariant: string }) => violation.invariant)).toContain('enoughWork')
    expect(dwcp('sim', 'raft', '--seed', '1', '--nodes', '3', '--loss', '0.9').stdout).toContain('exit 3')
  })

  it('exits 2 with a message naming the problem on bad usage', () => {
    const cases: [string[], RegExp][] = [
      [['sim', 'nope'], /unknown scenario 'nope'/],
      [['sim', 'smoke', '--nodes', '0'], /--nodes must be an integer from 1 to 16384/],
      [['sim', 'smoke', '--loss', '1.5'], /--loss must be a number from 0 to 0.9/],
      [['sim', 'smoke', '--partition', 'sideways'], /partition/],
      [['sim', 'smoke', '--frobnicate'], /Unknown argument: frobnicate/],
      [['sim', 'smoke', '--trace', '/nonexistent-dir/trace.txt'], /cannot write trace file \/nonexistent-dir\/trace.txt/],
      [['bench', 'nope'], /unknown benchmark 'nope'/],
      [[], /Name a command/],
    ]
    for (const [args, message] of cases) {
      const run = dwcp(...args)
      expect(run.code, args.join(' ')).toBe(2)
      expect(run.stderr).toMatch(message)
      expect(run.stdout).toBe('')
    }
  })

  it('lists only the commands that exist', () => {
    const run = dwcp('--help')
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('dwcp sim <scenario>')
    expect(run.stdout).toContain('dwcp bench <name>')
    expect(run.stdout).toContain('dwcp tui [urls..]')
  })
})

describe('dwcp bench', () => {
  it('prints the bench JSON shape for codec, raft and sim', { timeout: 180_000 }, () => {
    for (const name of ['codec', 'raft', 'sim']) {
      const run = dwcp('bench', name, '--json', '--quick')
      expect(run.code, run.stderr).toBe(0)
      const report = JSON.parse(run.stdout)
      expect(report.bench).toBe(name)
      expect(report.machine).toMatchObject({ cpus: expect.any(Number), node: expect.stringMatching(/^v22\./) })
      expect(report.results.length).toBeGreaterThan(0)
      for (const result of report.results) {
        expect(result).toMatchObject({ case: expect.any(String), opsPerSecond: expect.any(Number) })
        expect(result.opsPerSecond).toBeGreaterThan(0)
      }
    }
  })
})
