import { describe, it } from 'vitest'
import { expectSweepHolds } from './crdtSweep.ts'

describe('crdt scenario sweep, seeds 51-100', () => {
  it('converges to the operations’ semantics under heavy loss and whole-window partitions', { timeout: 300_000 }, () => {
    expectSweepHolds(51, 25, { loss: 0.2, partition: 'halves' })
    expectSweepHolds(76, 25, { loss: 0.2, partition: 'oneway' })
  })
})
