import { describe, expect, it } from 'vitest'
import { Rng } from '../../core/lib/prng.ts'
import { MaxRegEngine, type MaxRegAck, type MaxRegEvent, type MaxRegWrite } from '../../core/maxreg/engine.ts'
import type { MaxRegMessage } from '../../core/maxreg/messages.ts'
import type { NodeId, StorageWrite } from '../../core/ports.ts'
import { emptyReady, type Engine, type Ready, type Refusal } from '../../core/ready.ts'
import { driveUntilIdle, driverLimits } from '../../host/driver.ts'
import { HostKernel, type CallOutcome } from '../../host/kernel.ts'
import { TickSchedule } from '../../host/ticks.ts'
import { SimStorage } from '../../sim/storage.ts'

/** A storage port that records what happened, in order, beside the real simulated storage. */
function recordingStorage(storage: SimStorage, log: string[]) {
  return {
    write: (write: StorageWrite) => {
      log.push(`write ${write.key}`)
      storage.write(write)
    },
    sync: () => {
      log.push('sync')
      storage.sync()
    },
  }
}

function kernelOn(storage: SimStorage, options: { log?: string[]; sent?: { to: NodeId; message: MaxRegMessage }[]; nowMs?: () => number; inFlightMax?: number } = {}) {
  const log = options.log ?? []
  const sent = options.sent ?? []
  const engine = new MaxRegEngine({ id: 'n1', peers: ['n1', 'n2', 'n3'], storage, rng: Rng.fromSeed(1) })
  return new HostKernel<MaxRegWrite, MaxRegMessage, MaxRegAck, MaxRegEvent>({
    engine,
    storage: recordingStorage(storage, log),
    transport: {
      send: (to, message) => {
        log.push(`send ${to}`)
        sent.push({ to, message })
      },
    },
    monotonic: { nowMs: options.nowMs ?? (() => 0) },
    tickMs: 10,
    requests: { withRequestId: (command, requestId) => ({ ...command, requestId }), replyTo: (ack) => ack.requestId },
    events: { epoch: 'n1/1' },
    inFlightMax: options.inFlightMax,
    onReady: (ready) => {
      if (ready.applied.length > 0) log.push(`apply ${ready.applied.length}`)
    },
  })
}

describe('host kernel: the driver loop', () => {
  it('persists and syncs before it sends, applies after sending, and loops until the engine is idle', () => {
    const log: string[] = []
    const storage = new SimStorage()
    const kernel = kernelOn(storage, { log })
    log.length = 0
    const outcomes: CallOutcome<MaxRegAck>[] = []
    kernel.call({ requestId: 0, value: 40 }, (outcome) => outcomes.push(outcome))
    expect(kernel.engine.hasReady()).toBe(false)
    const firstSync = log.indexOf('sync')
    expect(firstSync).toBeGreaterThan(0)
    expect(log.slice(0, firstSync).every((line) => line.startsWith('write '))).toBe(true)
    expect(log.indexOf('apply 1')).toBeGreaterThan(firstSync)
    expect(outcomes).toEqual([{ kind: 'reply', reply: { requestId: 1, value: 40 } }])
    // The acknowledged value is durable: a crash that loses every unsynced write keeps it.
    storage.crash(Rng.fromSeed(2), { lostProbability: 1, tornProbability: 0 })
    expect(new MaxRegEngine({ id: 'n1', peers: ['n1', 'n2', 'n3'], storage, rng: Rng.fromSeed(1) }).status().value).toBe(40)
  })

  it('refuses to spin on an engine that never goes idle', () => {
    let readies = 0
    const restless: Engine<never, never, never, never> = {
      id: 'n1',
      step: () => null,
      tick: () => {},
      propose: () => null,
      hasReady: () => true,
      ready: () => {
        readies++
        return emptyReady
      },
      advance: () => {},
    }
    expect(() => driveUntilIdle(restless, { storage: new SimStorage(), transport: { send: () => {} }, handled: () => {} })).toThrow(/never goes idle/)
    expect(readies).toBe(driverLimits.readiesPerDriveMax)
  })
})

describe('host kernel: calls', () => {
  it('gives every call exactly one outcome: a reply, or a refusal from propose', () => {
    const kernel = kernelOn(new SimStorage())
    const outcomes: CallOutcome<MaxRegAck>[] = []
    kernel.call({ requestId: 0, value: 5 }, (outcome) => outcomes.push(outcome))
    kernel.call({ requestId: 0, value: -1 }, (outcome) => outcomes.push(outcome))
    kernel.call({ requestId: 0, value: 7 }, (outcome) => outcomes.push(outcome))
    expect(outcomes.map((outcome) => outcome.kind)).toEqual(['reply', 'refused', 'reply'])
    expect(outcomes[0]).toEqual({ kind: 'reply', reply: { requestId: 1, value: 5 } })
    expect(outcomes[2]).toEqual({ kind: 'reply', reply: { requestId: 3, value: 7 } })
    expect(kernel.status()).toMatchObject({ inFlight: 0, callsRefused: 1, repliesUnmatched: 0 })
  })

  it('refuses calls beyond inFlightMax as overloaded, and counts a reply that matches no open call', () => {
    // An engine that answers only when told to, so calls stay open.
    const held: MaxRegAck[] = []
    let release: MaxRegAck[] = []
    const engine: Engine<MaxRegWrite, never, MaxRegAck, never> = {
      id: 'n1',
      step: () => null,
      tick: () => {},
      propose: (command) => {
        held.push({ requestId: command.requestId, value: command.value })
        return null
      },
      hasReady: () => release.length > 0,
      ready: () => ({ ...emptyReady, applied: release }),
      advance: () => {
        release = []
      },
    }
    const kernel = new HostKernel<MaxRegWrite, never, MaxRegAck, never>({
      engine,
      storage: new SimStorage(),
      transport: { send: () => {} },
      monotonic: { nowMs: () => 0 },
      tickMs: 10,
      requests: { withRequestId: (command, requestId) => ({ ...command, requestId }), replyTo: (ack) => ack.requestId },
      events: { epoch: 'e' },
      inFlightMax: 2,
    })
    const outcomes: CallOutcome<MaxRegAck>[] = []
    for (let value = 1; value <= 3; value++) kernel.call({ requestId: 0, value }, (outcome) => outcomes.push(outcome))
    expect(outcomes).toEqual([{ kind: 'refused', refusal: { code: 'overloaded', message: expect.any(String) } }])
    release = [held[0]!, held[0]!, { requestId: 99, value: 0 }]
    kernel.step('n2', undefined as never) // any input drives the engine
    expect(outcomes.slice(1)).toEqual([{ kind: 'reply', reply: held[0] }])
    expect(kernel.status()).toMatchObject({ inFlight: 1, repliesUnmatched: 2 })
  })

  it('lets a reply callback call again (a closed-loop client) but refuses input while a Ready is out', () => {
    const kernel = kernelOn(new SimStorage())
    const values: number[] = []
    const next = (outcome: CallOutcome<MaxRegAck>): void => {
      if (outcome.kind !== 'reply') throw new Error('refused')
      values.push(outcome.reply.value)
      if (outcome.reply.value < 5) kernel.call({ requestId: 0, value: outcome.reply.value + 1 }, next)
    }
    kernel.call({ requestId: 0, value: 1 }, next)
    expect(values).toEqual([1, 2, 3, 4, 5])

    let refusedInside: unknown = null
    const reentrant = new HostKernel<MaxRegWrite, MaxRegMessage, MaxRegAck, MaxRegEvent>({
      engine: new MaxRegEngine({ id: 'n1', peers: ['n1', 'n2'], storage: new SimStorage(), rng: Rng.fromSeed(1) }),
      storage: new SimStorage(),
      transport: { send: () => {} },
      monotonic: { nowMs: () => 0 },
      tickMs: 10,
      requests: { withRequestId: (command, requestId) => ({ ...command, requestId }), replyTo: (ack) => ack.requestId },
      events: { epoch: 'e' },
      onReady: (ready: Ready<MaxRegMessage, MaxRegAck, MaxRegEvent>) => {
        if (ready.applied.length === 0) return
        try {
          reentrant.step('n2', { type: 'push', value: 1 })
        } catch (error) {
          refusedInside = error
        }
      },
    })
    reentrant.call({ requestId: 0, value: 3 }, () => {})
    expect(String(refusedInside)).toMatch(/step while a Ready is out/)
  })
})

describe('host kernel: stopping, and commands without a call', () => {
  /** An engine that takes calls and answers them only when told to, so calls stay open. */
  function holdingEngine() {
    const held: MaxRegAck[] = []
    const state = { release: [] as MaxRegAck[], inputs: 0 }
    const engine: Engine<MaxRegWrite, never, MaxRegAck, never> = {
      id: 'n1',
      step: () => {
        state.inputs++
        return null
      },
      tick: () => {
        state.inputs++
      },
      propose: (command) => {
        state.inputs++
        if (command.value < 0) return { code: 'invalidValue', message: 'negative' }
        held.push({ requestId: command.requestId, value: command.value })
        return null
      },
      hasReady: () => state.release.length > 0,
      ready: () => ({ ...emptyReady, applied: state.release }),
      advance: () => {
        state.release = []
      },
    }
    const kernel = new HostKernel<MaxRegWrite, never, MaxRegAck, never>({
      engine,
      storage: new SimStorage(),
      transport: { send: () => {} },
      monotonic: { nowMs: () => 0 },
      tickMs: 10,
      requests: { withRequestId: (command, requestId) => ({ ...command, requestId }), replyTo: (ack) => ack.requestId },
      events: { epoch: 'e' },
    })
    return { kernel, held, state }
  }

  it('drops the open calls unanswered when stopped (the process is gone), touches the engine no more, and refuses later input', () => {
    const { kernel, held, state } = holdingEngine()
    const outcomes: string[] = []
    for (const value of [1, 2, 3]) kernel.call({ requestId: 0, value }, (outcome) => outcomes.push(`${value}:${outcome.kind}`))
    state.release = [held[1]!]
    kernel.step('n2', undefined as never)
    expect(outcomes).toEqual(['2:reply'])
    const inputs = state.inputs
    expect(kernel.stop('crashed')).toBe(2)
    expect(kernel.status().inFlight).toBe(0)
    expect(() => kernel.call({ requestId: 0, value: 4 }, () => {})).toThrow(/after the kernel stopped \(crashed\)/)
    expect(() => kernel.tick()).toThrow(/stopped/)
    expect(() => kernel.step('n2', undefined as never)).toThrow(/stopped/)
    expect(state.inputs).toBe(inputs)
    expect(outcomes).toEqual(['2:reply'])
  })

  it('proposes a command as it is through input, without a call: its refusal is returned, a reply to it settles nothing', () => {
    const { kernel, held, state } = holdingEngine()
    const outcomes: CallOutcome<MaxRegAck>[] = []
    kernel.call({ requestId: 0, value: 1 }, (outcome) => outcomes.push(outcome))
    expect(kernel.input('propose', (engine) => engine.propose({ requestId: 77, value: 2 }))).toBeNull()
    expect(kernel.input('propose', (engine) => engine.propose({ requestId: 78, value: -1 }))).toMatchObject({ code: 'invalidValue' })
    expect(held.map((ack) => ack.requestId)).toEqual([1, 77])
    state.release = [held[1]!, held[0]!]
    kernel.step('n2', undefined as never)
    expect(outcomes).toEqual([{ kind: 'reply', reply: { requestId: 1, value: 1 } }])
    expect(kernel.status()).toMatchObject({ inFlight: 0, repliesUnmatched: 1 })
  })
})

describe('host kernel: ticks and events', () => {
  it('puts the first tick firstTickInMs after the start, then one every tick', () => {
    let nowMs = 100
    const kernel = new HostKernel<MaxRegWrite, MaxRegMessage, MaxRegAck, MaxRegEvent>({
      engine: new MaxRegEngine({ id: 'n1', peers: ['n1'], storage: new SimStorage(), rng: Rng.fromSeed(1) }),
      storage: new SimStorage(),
      transport: { send: () => {} },
      monotonic: { nowMs: () => nowMs },
      tickMs: 10,
      firstTickInMs: 3,
      requests: { withRequestId: (command, requestId) => ({ ...command, requestId }), replyTo: (ack) => ack.requestId },
      events: { epoch: 'e' },
    })
    expect(kernel.nextDeadlineMs()).toBe(103)
    nowMs = 102
    expect(kernel.tick()).toBe(0)
    nowMs = 103
    expect(kernel.tick()).toBe(1)
    expect(kernel.nextDeadlineMs()).toBe(113)
    for (const firstTickInMs of [0, 11, Number.NaN]) {
      expect(() => new TickSchedule({ tickMs: 10, startMs: 0, firstTickInMs })).toThrow(/firstTickInMs must be in \(0, tickMs=10\]/)
    }
  })

  it('runs the ticks due on the monotonic clock, catching up a bounded number after a stall', () => {
    let nowMs = 0
    const kernel = kernelOn(new SimStorage(), { nowMs: () => nowMs })
    expect(kernel.tick()).toBe(0)
    nowMs = 9
    expect(kernel.tick()).toBe(0)
    nowMs = 10
    expect(kernel.tick()).toBe(1)
    expect(kernel.nextDeadlineMs()).toBe(20)
    nowMs = 45
    expect(kernel.tick()).toBe(3)
    nowMs = 45 + 10 * 5_000 // a process paused for 50 s
    expect(kernel.tick()).toBe(1_000)
    expect(kernel.status().ticks).toMatchObject({ ticksRun: 1_004, ticksSkipped: 4_000, nextDueMs: 50_050 })
    nowMs = 50_000
    expect(() => kernel.tick()).toThrow(/went back/)
  })

  it('numbers engine events; a viewer resumes after the last number it saw', () => {
    const storage = new SimStorage()
    const kernel = kernelOn(storage)
    const first = kernel.events.subscribe(null)
    if ('code' in first) throw new Error(first.message)
    kernel.step('n2', { type: 'push', value: 10 })
    kernel.step('n3', { type: 'push', value: 20 })
    const seen = first.take(10)
    expect(seen).toEqual([
      { kind: 'event', seq: 2, event: { kind: 'adopted', value: 10, from: 'n2' } },
      { kind: 'event', seq: 3, event: { kind: 'adopted', value: 20, from: 'n3' } },
    ])
    // The recovery event (seq 1) came before anyone subscribed; a resuming viewer gets what it missed.
    const resumed = kernel.events.subscribe({ epoch: 'n1/1', seq: 2 })
    if ('code' in resumed) throw new Error(resumed.message)
    expect(resumed.take(10)).toEqual([seen[1]])
    const otherEpoch = kernel.events.subscribe({ epoch: 'n1/0', seq: 2 })
    if ('code' in otherEpoch) throw new Error(otherEpoch.message)
    expect(otherEpoch.take(1)).toEqual([{ kind: 'gap', reason: 'epoch', fromSeq: 1, toSeq: 0 }])
    expect(kernel.events.subscribe({ epoch: 'n1/1', seq: 9 }) as Refusal).toMatchObject({ code: 'invalidSeq' })
  })
})
