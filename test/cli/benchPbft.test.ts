import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const bin = join(import.meta.dirname, '../../bin/dwcp.js')

describe('dwcp bench pbft', () => {
  it('prints the bench JSON shape; unbatched decisions take exactly (n−1) + (n−1)² + n(n−1) protocol messages, batches of 256 fewer than 2 per request', { timeout: 120_000 }, () => {
    const run = spawnSync(process.execPath, [bin, 'bench', 'pbft', '--json', '--quick'], { encoding: 'utf8', timeout: 110_000 })
    expect(run.status, run.stderr).toBe(0)
    const report = JSON.parse(run.stdout)
    expect(report).toMatchObject({ bench: 'pbft', machine: { cpus: expect.any(Number), node: expect.stringMatching(/^v22\./) } })
    expect(report.results.map((result: { case: string }) => result.case)).toEqual(['ed25519-batched-256', 'ed25519-unbatched', 'sim-batched-256', 'sim-unbatched'])
    for (const result of report.results) {
      expect(result).toMatchObject({
        opsPerSecond: expect.any(Number),
        p50Ms: expect.any(Number),
        p99Ms: expect.any(Number),
        n: 4,
        messagesPerDecision: expect.any(Number),
        messagesPerRequest: expect.any(Number),
        viewChanges: 0,
        evidenceProven: 0,
      })
      expect(result.opsPerSecond).toBeGreaterThan(0)
      expect(result.decisions).toBeGreaterThan(0)
      expect(result.requests).toBeGreaterThanOrEqual(result.decisions)
    }
    const [edBatched, edUnbatched, simBatched, simUnbatched] = report.results
    for (const unbatched of [edUnbatched, simUnbatched]) {
      expect(unbatched).toMatchObject({ batchRequestsMax: 1, bundleRequestsMax: 1, requestsPerDecision: 1, messagesPerDecisionTarget: 24 })
      expect(unbatched.messagesPerDecision).toBe(24)
      expect(unbatched.messagesPerRequest).toBe(24)
    }
    for (const batched of [edBatched, simBatched]) {
      expect(batched).toMatchObject({ batchRequestsMax: 256, messagesPerRequestTarget: 2 })
      expect(batched.requestsPerDecision).toBeGreaterThanOrEqual(16)
      expect(batched.messagesPerRequest).toBeLessThan(2)
    }
    expect(edBatched).toMatchObject({ signer: 'ed25519', target: 50_000, ofTarget: expect.any(Number) })
    expect(simBatched.target).toBeUndefined()
  })
})
