import { expect } from 'vitest'
import type { PartitionMode } from '../../sim/faults.ts'
import { runScenario } from '../../sim/runner.ts'
import { crdtScenario } from '../../sim/scenarios/crdt.ts'

/** Runs `count` seeds from `first`; a failure names every failing seed and its first violation. */
export function expectSweepHolds(first: number, count: number, faults: { loss?: number; partition?: PartitionMode } = {}): void {
  const report = runScenario(crdtScenario, {
    seeds: Array.from({ length: count }, (_, index) => first + index),
    nodes: 4,
    loss: faults.loss ?? 0.05,
    partition: faults.partition ?? 'flaky',
    crashes: true,
    wire: false,
    traceSink: null,
  })
  const failing = report.runs.filter((run) => run.violations > 0).map((run) => `seed ${run.seed}: ${report.violations.find((violation) => violation.seed === run.seed)?.message ?? '(dropped)'}`)
  expect(failing, `replay with: npx dwcp sim crdt --nodes 4 --seed N`).toEqual([])
  expect(report.metrics['converged']).toBe(count)
  expect(report.metrics['client.acks']).toBeGreaterThan(count * 500)
  // Every seed decides LWW ties by replica id and checks document edits one by one.
  expect(report.metrics['lww.stampTies']).toBeGreaterThan(count * 3)
  expect(report.metrics['doc.tokensChecked']).toBeGreaterThan(count * 50)
}
