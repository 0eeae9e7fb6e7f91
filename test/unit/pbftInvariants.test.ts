import { describe, expect, it } from 'vitest'
import { AssertionError } from '../../core/lib/assert.ts'
import { PbftInvariants } from '../../core/pbft/invariants.ts'
import { pbftCluster } from '../support/pbftCluster.ts'
import { runTicks } from '../support/memoryHost.ts'
import { writeKvPut } from '../../core/kv.ts'

const start = { epoch: 0, view: 0, executed: 0, lowWatermark: 0, highWatermark: 8 }

describe('PBFT invariants', () => {
  it('let progress through: views, executions and checkpoints that move forward, inside the window', () => {
    const invariants = new PbftInvariants('r0', start)
    invariants.check({ epoch: 0, view: 0, executed: 3, lowWatermark: 0, highWatermark: 8 })
    invariants.check({ epoch: 0, view: 1, executed: 8, lowWatermark: 4, highWatermark: 12 })
    invariants.check({ epoch: 0, view: 1, executed: 8, lowWatermark: 8, highWatermark: 16 })
    invariants.prepared(9, 1, -1)
    invariants.prepared(9, 2, 1)
    invariants.decided(9, false)
    invariants.executing(9, 8, true)
  })

  it('name the invariant a step back or out of the window breaks', () => {
    const after = (progress: typeof start) => () => {
      const invariants = new PbftInvariants('r0', { epoch: 0, view: 2, executed: 6, lowWatermark: 4, highWatermark: 12 })
      invariants.check(progress)
    }
    expect(after({ epoch: 0, view: 1, executed: 6, lowWatermark: 4, highWatermark: 12 })).toThrow(/^pbft invariant viewMonotone at r0: view went back from v2 to v1 in epoch 0$/)
    expect(after({ epoch: 0, view: 2, executed: 5, lowWatermark: 4, highWatermark: 12 })).toThrow(/executedMonotone/)
    expect(after({ epoch: 0, view: 2, executed: 6, lowWatermark: 0, highWatermark: 8 })).toThrow(/stableMonotone/)
    expect(after({ epoch: 0, view: 2, executed: 13, lowWatermark: 4, highWatermark: 12 })).toThrow(/watermarks/)
    expect(after({ epoch: 0, view: 2, executed: 6, lowWatermark: 8, highWatermark: 16 })).toThrow(/watermarks/)
    expect(() => new PbftInvariants('r0', { epoch: 0, view: 0, executed: 0, lowWatermark: 4, highWatermark: 12 })).toThrow(AssertionError)
  })

  it('name a second prepared digest in one view, a changed decision and an execution out of order', () => {
    const invariants = new PbftInvariants('r1', start)
    expect(() => invariants.prepared(3, 1, 1)).toThrow(/^pbft invariant onePreparedDigest at r1: n3 prepared again in v1/)
    expect(() => invariants.prepared(3, 1, 2)).toThrow(/onePreparedDigest/)
    expect(() => invariants.decided(3, true)).toThrow(/^pbft invariant committedFinal at r1: n3 decided a second time$/)
    expect(() => invariants.executing(5, 3, true)).toThrow(/^pbft invariant executeInOrder at r1: n5 executed after n3$/)
    expect(() => invariants.executing(4, 3, false)).toThrow(/executeInOrder at r1: n4 executed after n3 without a decision/)
  })

  it('let the view start again at 0 in a later epoch, and name an epoch that goes back or an execution outside its epoch', () => {
    const invariants = new PbftInvariants('r0', { epoch: 0, view: 3, executed: 8, lowWatermark: 8, highWatermark: 16 })
    invariants.check({ epoch: 1, view: 0, executed: 8, lowWatermark: 8, highWatermark: 16 })
    expect(() => invariants.check({ epoch: 0, view: 4, executed: 8, lowWatermark: 8, highWatermark: 16 })).toThrow(/^pbft invariant epochMonotone at r0: epoch went back from 1 to 0$/)
    invariants.executingInEpoch(9, 1, 8, 16)
    expect(() => invariants.executingInEpoch(8, 1, 8, 16)).toThrow(/^pbft invariant executeInEpoch at r0: n8 executed in epoch 1, which orders \(n8, n16\]$/)
    expect(() => invariants.executingInEpoch(17, 1, 8, 16)).toThrow(/executeInEpoch/)
  })

  it('are checked by the engine after a step or tick', () => {
    const nodes = pbftCluster(4, { checkpointInterval: 4, windowSeqs: 8 })
    nodes.r0!.propose({ type: 'request', client: 'c', timestamp: 1, operation: writeKvPut({ requestId: 'c@1', key: 'k', value: 'v' }) })
    runTicks(nodes, 20)
    const target = nodes.r2!
    expect(target.engine.status().executed).toBe(1)
    // A planted bug: the executed sequence number rolled back behind the engine's back.
    ;(target.engine as unknown as { executedSeq: number }).executedSeq = 0
    expect(() => target.tick()).toThrow(/pbft invariant executedMonotone at r2: executed went back from n1 to n0/)
  })
})
