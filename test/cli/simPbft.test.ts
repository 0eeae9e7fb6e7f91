import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const bin = join(import.meta.dirname, '../../bin/dwcp.js')

function dwcp(...args: string[]) {
  const run = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 })
  return { code: run.status, stdout: run.stdout, stderr: run.stderr }
}

describe('dwcp sim pbft', () => {
  it('runs one seed with the mode asked for and reports what was injected and caught', () => {
    const run = dwcp('sim', 'pbft', '--seed', '5', '--mode', 'forge', '--json')
    expect(run.code).toBe(0)
    const report = JSON.parse(run.stdout)
    expect(report).toMatchObject({ scenario: 'pbft', nodes: 4, violations: [] })
    expect(report.metrics.injected.forge).toBeGreaterThan(0)
    expect(report.metrics.evidence.forge).toEqual({ replicas: 1, required: 1, found: 1 })
    expect(report.metrics.messagesPerDecision).toBeGreaterThan(0)
  })

  it('exits 2 naming the problem when the Byzantine options do not fit', () => {
    const cases: [string[], RegExp][] = [
      [['sim', 'pbft', '--byzantine', '2'], /--byzantine 2 is more than 4 replicas tolerate: at most f = 1/],
      [['sim', 'pbft', '--nodes', '7', '--byzantine', '3'], /at most f = 2/],
      [['sim', 'pbft', '--byzantine', '-1'], /--byzantine must be an integer from 0 to 1/],
      [['sim', 'pbft', '--nodes', '3'], /--nodes must be an integer from 4 to 13/],
      [['sim', 'pbft', '--mode', 'sneaky'], /Argument: mode, Given: "sneaky"/],
      [['sim', 'raft', '--byzantine', '1'], /--byzantine and --mode apply to scenarios with Byzantine replicas \(pbft\), not to raft/],
      [['sim', 'pbft', '--reconfigure', 'shuffle'], /--reconfigure must be one of replace, overlap, grow, got shuffle/],
      [['sim', 'raft', '--reconfigure', 'replace'], /--reconfigure applies to scenarios whose group can change \(pbft\), not to raft/],
    ]
    for (const [args, message] of cases) {
      const run = dwcp(...args)
      expect(run.code, args.join(' ')).toBe(2)
      expect(run.stderr).toMatch(message)
    }
  })

  it('documents --byzantine and --mode in the help', () => {
    const help = dwcp('sim', '--help').stdout
    expect(help).toContain('--byzantine')
    expect(help).toMatch(/--mode.*equivocate/s)
  })
})
