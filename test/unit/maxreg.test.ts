import { describe, expect, it } from 'vitest'
import { Rng } from '../../core/lib/prng.ts'
import { maxRegKeys, MaxRegEngine } from '../../core/maxreg/engine.ts'
import { readMaxRegRecord, writeMaxRegRecord } from '../../core/maxreg/record.ts'
import { SimStorage } from '../../sim/storage.ts'

function engineOn(storage: SimStorage, id = 'n1') {
  return new MaxRegEngine({ id, peers: ['n1', 'n2', 'n3'], storage, rng: Rng.fromSeed(1) })
}

/** Drives one Ready the way every host must: persist, sync, send, apply, advance. */
function drive(engine: MaxRegEngine, storage: SimStorage) {
  const ready = engine.ready()
  for (const change of ready.writes) storage.write(change)
  if (ready.mustSync) storage.sync()
  const out = { messages: [...ready.messages], applied: [...ready.applied], events: [...ready.events], mustSync: ready.mustSync }
  engine.advance(ready)
  return out
}

describe('max-register engine', () => {
  it('acknowledges a write only with a synced record, and recovers it after a crash', () => {
    const storage = new SimStorage()
    const engine = engineOn(storage)
    drive(engine, storage) // the recovery event
    expect(engine.propose({ requestId: 1, value: 40 })).toBeNull()
    const ready = drive(engine, storage)
    expect(ready.mustSync).toBe(true)
    expect(ready.applied).toEqual([{ requestId: 1, value: 40 }])
    expect(engine.status()).toEqual({ id: 'n1', value: 40, acked: 40, ackedSequence: 1 })
    storage.crash(Rng.fromSeed(1), { lostProbability: 1, tornProbability: 0 })
    expect(engineOn(storage).status()).toEqual({ id: 'n1', value: 40, acked: 40, ackedSequence: 1 })
  })

  it('answers a lower push with its value and adopts a higher one without syncing', () => {
    const storage = new SimStorage()
    const engine = engineOn(storage)
    drive(engine, storage)
    engine.step('n2', { type: 'push', value: 10 })
    const adopted = drive(engine, storage)
    expect(engine.status().value).toBe(10)
    expect(adopted.mustSync).toBe(false)
    expect(adopted.events).toEqual([{ kind: 'adopted', value: 10, from: 'n2' }])
    engine.step('n3', { type: 'push', value: 3 })
    expect(drive(engine, storage).messages).toEqual([{ to: 'n3', message: { type: 'reply', value: 10 } }])
    engine.step('n3', { type: 'reply', value: 3 })
    expect(engine.hasReady()).toBe(false) // replies are never answered
  })

  it('ignores a torn record on recovery and keeps the older acknowledged slot', () => {
    const storage = new SimStorage()
    storage.write({ key: maxRegKeys.ackedSlots[1], value: writeMaxRegRecord({ sequence: 1, value: 7 }) })
    const newer = writeMaxRegRecord({ sequence: 2, value: 9 })
    storage.write({ key: maxRegKeys.ackedSlots[0], value: newer.subarray(0, newer.length - 1) })
    storage.sync()
    const engine = engineOn(storage)
    expect(engine.status().value).toBe(7)
    expect(drive(engine, storage).events).toEqual([{ kind: 'recovered', value: 7, recordsDropped: 1 }])
    expect(readMaxRegRecord(newer.subarray(0, 3)).ok).toBe(false)
  })

  it('refuses invalid values and writes beyond pendingAcksMax', () => {
    const storage = new SimStorage()
    const engine = new MaxRegEngine({
      id: 'n1',
      peers: ['n2'],
      storage,
      rng: Rng.fromSeed(1),
      config: { gossipTicks: 1, fanout: 1, pendingAcksMax: 2, outboxMessagesMax: 8 },
    })
    expect(engine.propose({ requestId: 1, value: -1 })).toMatchObject({ code: 'invalidValue' })
    expect(engine.propose({ requestId: 2, value: 1.5 })).toMatchObject({ code: 'invalidValue' })
    expect(engine.step('n2', { type: 'push', value: Number.NaN })).toMatchObject({ code: 'invalidValue' })
    expect(engine.propose({ requestId: 3, value: 1 })).toBeNull()
    expect(engine.propose({ requestId: 4, value: 2 })).toBeNull()
    expect(engine.propose({ requestId: 5, value: 3 })).toMatchObject({ code: 'overloaded' })
    expect(drive(engine, storage).applied.map((ack) => ack.requestId)).toEqual([3, 4])
  })

  it('enforces the Ready protocol', () => {
    const storage = new SimStorage()
    const engine = engineOn(storage)
    const ready = engine.ready()
    expect(() => engine.ready()).toThrow(/before advance/)
    engine.advance(ready)
    expect(engine.hasReady()).toBe(false)
  })
})
