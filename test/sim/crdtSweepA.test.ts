import { describe, it } from 'vitest'
import { expectSweepHolds } from './crdtSweep.ts'

// The CRDT sweep is split in two files so that vitest runs the halves on both cores.
describe('crdt scenario sweep, seeds 1-50', () => {
  it('converges to the operations’ semantics with every fault on', { timeout: 300_000 }, () => {
    expectSweepHolds(1, 50)
  })
})
