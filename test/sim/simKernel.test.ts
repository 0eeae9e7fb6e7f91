import { describe, expect, it } from 'vitest'
import type { GossipApplied } from '../../core/gossip/engine.ts'
import { readKvPut, writeKvPut } from '../../core/kv.ts'
import { maxRegCodec } from '../../core/maxreg/codec.ts'
import type { MaxRegAck, MaxRegWrite } from '../../core/maxreg/engine.ts'
import type { MaxRegMessage } from '../../core/maxreg/messages.ts'
import type { PbftApplied } from '../../core/pbft/engine.ts'
import type { RaftApplied, RaftCommand } from '../../core/raft/engine.ts'
import { emptyReady, type Engine } from '../../core/ready.ts'
import { noNetworkFaults, defaultNetworkConfig } from '../../sim/network.ts'
import { gossipRequests, pbftRequests, raftKvRequests, requestIdBinding } from '../../sim/requestBindings.ts'
import { Simulator, type SimCallOutcome, type SimEngineSpec } from '../../sim/simulator.ts'

/** An engine that holds client writes and answers them at its next tick; it counts its ticks. */
class TickAnswerEngine implements Engine<MaxRegWrite, MaxRegMessage, MaxRegAck, never> {
  readonly id: string
  ticks = 0
  private held: MaxRegAck[] = []
  private answers: MaxRegAck[] = []

  constructor(id: string) {
    this.id = id
  }

  step(): null {
    return null
  }
  tick(): void {
    this.ticks++
    this.answers = this.held
    this.held = []
  }
  propose(command: MaxRegWrite): null {
    this.held.push({ requestId: command.requestId, value: command.value })
    return null
  }
  hasReady(): boolean {
    return this.answers.length > 0
  }
  ready() {
    return { ...emptyReady, applied: this.answers }
  }
  advance(): void {
    this.answers = []
  }
}

const tickAnswerSpec: SimEngineSpec<MaxRegWrite, MaxRegMessage, MaxRegAck, never> = {
  codec: maxRegCodec,
  create: (context) => new TickAnswerEngine(context.id),
  requests: () => requestIdBinding<MaxRegWrite, MaxRegAck>(),
}

function simulator(nodes: number) {
  return new Simulator({ seed: 5, nodes, regions: ['eu'], engine: tickAnswerSpec, network: { ...defaultNetworkConfig, faults: noNetworkFaults }, tickUs: 10_000, wire: false, trace: null })
}

describe('simulator: every node hosted by a host kernel', () => {
  it('ticks each node through its kernel once per tick, nodes started together at different phases', () => {
    const sim = simulator(8)
    sim.startAll()
    const firstTicksMs = sim.nodes.map((node) => node.kernel!.nextDeadlineMs())
    for (const firstMs of firstTicksMs) expect(firstMs > 0 && firstMs <= 10).toBe(true)
    expect(new Set(firstTicksMs).size).toBeGreaterThan(1)
    sim.runUntil(1_000_000)
    for (const node of sim.nodes) {
      expect(node.kernel!.status().ticks).toMatchObject({ ticksRun: 100, ticksSkipped: 0 })
      expect((node.engine as TickAnswerEngine).ticks).toBe(100)
    }
    expect(sim.metrics.ticks).toBe(800)
  })

  it('answers calls through the kernel; a crash breaks the open ones (outcome unknown), a down node refuses, a restart numbers calls anew', () => {
    const sim = simulator(2)
    sim.startAll()
    const outcomes: string[] = []
    const record = (name: string) => (outcome: SimCallOutcome<MaxRegAck>) =>
      outcomes.push(`${name} ${outcome.kind === 'reply' ? `reply #${outcome.reply.requestId}` : outcome.kind === 'refused' ? `refused ${outcome.refusal.code}` : `unknown ${outcome.reason}`}`)
    const calls: string[] = []
    sim.observers.push({ onCall: (node, command) => calls.push(`${node.id} #${command.requestId}`) })
    sim.call(0, { requestId: 0, value: 1 }, 'a', record('a'))
    sim.call(1, { requestId: 0, value: 2 }, 'b', record('b'))
    sim.call(1, { requestId: 0, value: 3 }, 'c', record('c'))
    expect(outcomes).toEqual([])
    sim.crash(1)
    expect(outcomes).toEqual(['b unknown crashed', 'c unknown crashed'])
    sim.call(1, { requestId: 0, value: 4 }, 'd', record('d'))
    sim.runUntil(20_000)
    expect(outcomes).toEqual(['b unknown crashed', 'c unknown crashed', 'd refused down', 'a reply #1'])
    sim.restart(1)
    expect(sim.nodes[1]!.kernel!.events.epoch).toBe('n2/2')
    sim.call(1, { requestId: 0, value: 5 }, 'e', record('e'))
    sim.runUntil(40_000)
    expect(outcomes.at(-1)).toBe('e reply #1')
    expect(calls).toEqual(['n1 #1', 'n2 #1', 'n2 #2', 'n2 #1'])
    expect(sim.metrics).toMatchObject({ crashes: 1, restarts: 1, callsRefused: 1 })
  })
})

describe('request bindings', () => {
  it('raft: a put is answered only by the kernel of the node and incarnation that proposed it; a read by its id', () => {
    const here = raftKvRequests({ id: 'n1', incarnation: 2 })
    const put = here.withRequestId({ type: 'propose', data: writeKvPut({ requestId: '', key: 'k', value: 'v' }) }, 7) as Extract<RaftCommand, { type: 'propose' }>
    expect(readKvPut(put.data)).toEqual({ requestId: 'n1.2.7', key: 'k', value: 'v' })
    const entry = (requestId: string): RaftApplied => ({ type: 'entry', index: 1, term: 1, kind: 'command', data: writeKvPut({ requestId, key: 'k', value: 'v' }), reply: null })
    expect(here.replyTo(entry('n1.2.7'))).toBe(7)
    expect(here.replyTo(entry('n1.1.7'))).toBeNull()
    expect(here.replyTo(entry('n11.2.7'))).toBeNull()
    expect(here.replyTo(entry('n2.2.7'))).toBeNull()
    expect(here.withRequestId({ type: 'read', readId: 0, query: new Uint8Array() }, 8)).toMatchObject({ readId: 8 })
    expect(here.replyTo({ type: 'readFailed', readId: 8, reason: 'moved' })).toBe(8)
    expect(here.withRequestId({ type: 'remove', member: 'n3' }, 9)).toEqual({ type: 'remove', member: 'n3' })
  })

  it('pbft and gossip: replies named by what the client chose are matched to the call once', () => {
    const pbft = pbftRequests()
    pbft.withRequestId({ type: 'request', client: 'c1', timestamp: 4, operation: new Uint8Array() }, 3)
    const reply: PbftApplied = { type: 'reply', client: 'c1', timestamp: 4, result: new Uint8Array() }
    expect(pbft.replyTo({ type: 'reply', client: 'c1', timestamp: 5, result: new Uint8Array() })).toBeNull()
    expect(pbft.replyTo(reply)).toBe(3)
    expect(pbft.replyTo(reply)).toBeNull()
    const gossip = gossipRequests()
    gossip.withRequestId({ type: 'publish', key: 'k', version: 2, value: new Uint8Array() }, 5)
    gossip.withRequestId({ type: 'leave' }, 6)
    const published: GossipApplied = { type: 'published', key: 'k', version: 2 }
    expect(gossip.replyTo({ type: 'published', key: 'k', version: 1 })).toBeNull()
    expect(gossip.replyTo(published)).toBe(5)
    expect(gossip.replyTo(published)).toBeNull()
    expect(gossip.replyTo({ type: 'left', incarnation: 1 })).toBe(6)
  })
})
