import { describe, expect, it } from 'vitest'
import { readKvValue, writeKvGet, writeKvPut } from '../../core/kv.ts'
import type { NodeId } from '../../core/ports.ts'
import type { PbftConfig } from '../../core/pbft/config.ts'
import { pbftLimits } from '../../core/pbft/config.ts'
import { emptyBatch, signBody, type Batch, type OrderBody, type PbftBody, type PbftMessage, type PbftType, type Signed } from '../../core/pbft/messages.ts'
import { encodeWith } from '../../core/codec/envelope.ts'
import { writeBody } from '../../core/pbft/messages.ts'
import { pbftCluster, type PbftNode } from '../support/pbftCluster.ts'
import { drive, runTicks, type Cut } from '../support/memoryHost.ts'

type Cluster = Record<NodeId, PbftNode>

const typeOf = (message: PbftMessage): PbftType => message.signed.body.type

function put(client: string, timestamp: number, key = client, value = `${client}@${timestamp}`): Uint8Array {
  return writeKvPut({ requestId: `${client}@${timestamp}`, key, value })
}

function request(node: PbftNode, client: string, timestamp: number, key = client, value = `${client}@${timestamp}`) {
  const refusal = node.engine.propose({ type: 'request', client, timestamp, operation: put(client, timestamp, key, value) })
  drive(node)
  return refusal
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('')
}

/** What a replica executed, in order: sequence number, batch digest and the requests applied. */
function executedLog(node: PbftNode): string[] {
  return node.applied.flatMap((applied) => (applied.type === 'executed' ? [`${applied.seq}:${hex(applied.digest)}:${applied.requests.filter((r) => r.outcome === 'applied').map((r) => `${r.gateway}/${r.client}@${r.timestamp}`).join(',')}`] : []))
}

/** Every request a replica applied to its state machine, in order. */
function appliedRequests(node: PbftNode): string[] {
  return node.applied.flatMap((applied) => (applied.type === 'executed' ? applied.requests.filter((r) => r.outcome === 'applied').map((r) => `${r.gateway}/${r.client}@${r.timestamp}`) : []))
}

function replies(node: PbftNode): { client: string; timestamp: number; result: Uint8Array }[] {
  return node.applied.flatMap((applied) => (applied.type === 'reply' ? [{ client: applied.client, timestamp: applied.timestamp, result: applied.result }] : []))
}

function run(nodes: Cluster, ticks: number, cut?: Cut<PbftMessage>): void {
  runTicks(nodes, ticks, cut)
}

/** Runs until `done` holds (at most `ticksMax` ticks); returns the ticks it took. */
function runUntil(nodes: Cluster, done: () => boolean, ticksMax: number, cut?: Cut<PbftMessage>): number {
  for (let tick = 1; tick <= ticksMax; tick++) {
    run(nodes, 1, cut)
    if (done()) return tick
  }
  throw new Error(`not done within ${ticksMax} ticks`)
}

const live = (nodes: Cluster): PbftNode[] => Object.values(nodes).filter((node) => !node.down)
const stored = Uint8Array.of(1)

/** Drops every message of the given types (optionally only to or from some replicas). */
function dropTypes(types: readonly PbftType[], where: (from: NodeId, to: NodeId) => boolean = () => true): Cut<PbftMessage> {
  return (from, to, message) => types.includes(typeOf(message)) && where(from, to)
}

function protocolMessages(nodes: Cluster): number {
  return Object.values(nodes).reduce((sum, node) => sum + node.engine.metrics.prePreparesSent + node.engine.metrics.preparesSent + node.engine.metrics.commitsSent, 0)
}

function get(node: PbftNode, key: string): string | null {
  const readId = node.applied.length
  node.engine.propose({ type: 'query', readId, query: writeKvGet(key) })
  drive(node)
  const answer = node.applied.find((applied) => applied.type === 'query' && applied.readId === readId)
  return answer !== undefined && answer.type === 'query' ? readKvValue(answer.reply) : null
}

/** The slots a replica keeps (private: read here to show the log is collected). */
function slotSeqs(node: PbftNode): number[] {
  return [...(node.engine as unknown as { slots: Map<number, unknown> }).slots.keys()]
}

// ----- crafting messages as a (possibly Byzantine) replica -----

function bundleOf(node: PbftNode, client: string, timestamp = 1): Signed<Extract<PbftBody, { type: 'request' }>> {
  return signBody(node.signer, { type: 'request', replica: node.engine.id, requests: [{ client, timestamp, operation: put(client, timestamp) }] })
}

function order(node: PbftNode, type: 'prePrepare' | 'prepare' | 'commit', view: number, seq: number, digest: Uint8Array): Signed<OrderBody> {
  return signBody(node.signer, { type, replica: node.engine.id, view, seq, digest })
}

function step(target: PbftNode, from: NodeId, signed: Signed, batches: readonly Batch[] = []) {
  const refusal = target.engine.step(from, { signed, batches })
  drive(target)
  return refusal
}

function evidenceOf(node: PbftNode): { replica: NodeId; kind: string; proven: boolean }[] {
  return node.events.flatMap((event) => (event.type === 'evidence' ? [{ replica: event.evidence.replica, kind: event.evidence.kind, proven: event.evidence.proven }] : []))
}

const unbatched: Partial<PbftConfig> = { batchRequestsMax: 1, bundleRequestsMax: 1 }

describe('PBFT engine: normal case', () => {
  it('executes requests from the primary and from backups in one order at every replica, and answers each gateway', () => {
    const nodes = pbftCluster(4)
    expect(nodes.r0!.engine.primary).toBe('r0')
    for (const [gateway, client] of [['r1', 'a'], ['r0', 'b'], ['r2', 'c'], ['r1', 'd'], ['r3', 'e']] as const) expect(request(nodes[gateway]!, client, 1)).toBeNull()
    run(nodes, 10)
    const reference = executedLog(nodes.r0!)
    expect(appliedRequests(nodes.r0!).sort()).toEqual(['r0/b@1', 'r1/a@1', 'r1/d@1', 'r2/c@1', 'r3/e@1'])
    for (const node of Object.values(nodes)) {
      expect(executedLog(node)).toEqual(reference)
      expect(node.machine.snapshot()).toEqual(nodes.r0!.machine.snapshot())
      expect(get(node, 'a')).toBe('a@1')
    }
    expect(replies(nodes.r1!).map((reply) => reply.client).sort()).toEqual(['a', 'd'])
    expect(replies(nodes.r0!).map((reply) => reply.client)).toEqual(['b'])
    for (const reply of [...replies(nodes.r0!), ...replies(nodes.r1!)]) expect(reply.result).toEqual(stored)
    expect(nodes.r1!.engine.pendingRequests).toBe(0)
    // Nobody misbehaved: every replica keeps a clean score for every other.
    for (const node of Object.values(nodes)) {
      expect(Object.values(node.engine.reputations())).toEqual([1, 1, 1, 1])
      expect(node.engine.metrics.evidenceProven + node.engine.metrics.evidenceSuspected).toBe(0)
    }
  })

  it('answers a client only once f+1 replicas sent the same result', () => {
    const nodes = pbftCluster(4)
    const repliesToGateway = dropTypes(['reply'], (_, to) => to === 'r1')
    request(nodes.r1!, 'a', 1)
    run(nodes, 10, repliesToGateway)
    // Executed everywhere, the gateway among them, but its own result is one vote of the f+1 = 2 it needs.
    for (const node of Object.values(nodes)) expect(appliedRequests(node)).toEqual(['r1/a@1'])
    expect(replies(nodes.r1!)).toEqual([])
    // A faulty replica's reply with another result does not make a quorum with the gateway's own.
    const forged = signBody(nodes.r2!.signer, { type: 'reply', replica: 'r2', view: 0, seq: 1, gateway: 'r1', results: [{ client: 'a', timestamp: 1, result: Uint8Array.of(9) }] })
    expect(step(nodes.r1!, 'r2', forged)).toBeNull()
    expect(replies(nodes.r1!)).toEqual([])
    // One matching reply from another replica is enough.
    const honest = signBody(nodes.r3!.signer, { type: 'reply', replica: 'r3', view: 0, seq: 1, gateway: 'r1', results: [{ client: 'a', timestamp: 1, result: stored }] })
    step(nodes.r1!, 'r3', honest)
    expect(replies(nodes.r1!)).toEqual([{ client: 'a', timestamp: 1, result: stored }])
    expect(nodes.r1!.engine.pendingRequests).toBe(0)
  })

  it('answers a retransmitted bundle from the client table, without executing it again', () => {
    const nodes = pbftCluster(4)
    const repliesToGateway = dropTypes(['reply'], (_, to) => to === 'r1')
    request(nodes.r1!, 'a', 1)
    run(nodes, 50, repliesToGateway)
    const sentBefore = nodes.r1!.engine.metrics.requestsSent
    // No reply came back: the gateway sent its bundle to every replica again (after retransmitTicks = 20).
    expect(sentBefore).toBeGreaterThanOrEqual(1 + 3)
    expect(replies(nodes.r1!)).toEqual([])
    for (const node of Object.values(nodes)) expect(node.engine.metrics.repliesSent).toBeGreaterThanOrEqual(node.engine.id === 'r1' ? 0 : 2)
    run(nodes, 30)
    expect(replies(nodes.r1!)).toEqual([{ client: 'a', timestamp: 1, result: stored }])
    for (const node of Object.values(nodes)) {
      expect(appliedRequests(node)).toEqual(['r1/a@1'])
      expect(node.engine.metrics.decisions).toBe(1)
      expect(node.engine.metrics.requestsExecuted).toBe(1)
    }
    // The client's next request is a new one and executes.
    request(nodes.r1!, 'a', 2, 'a', 'second')
    run(nodes, 10)
    for (const node of Object.values(nodes)) expect(node.machine.get('a')).toBe('second')
  })

  it('orders a bundle once when the gateway retransmits it before it executed', () => {
    const nodes = pbftCluster(4, unbatched)
    const primaryCutOff: Cut<PbftMessage> = (from, to) => from === 'r0' || to === 'r0'
    request(nodes.r1!, 'a', 1)
    run(nodes, 1)
    // The primary ordered it, but nobody hears the primary until the gateway resent the bundle to everyone.
    run(nodes, 25, primaryCutOff)
    expect(nodes.r1!.engine.metrics.requestsSent).toBe(1 + 3)
    run(nodes, 30)
    for (const node of Object.values(nodes)) {
      expect(appliedRequests(node)).toEqual(['r1/a@1'])
      expect(node.engine.metrics.decisions).toBe(1)
    }
    expect(replies(nodes.r1!)).toHaveLength(1)
  })
})

describe('PBFT engine: message complexity', () => {
  for (const n of [4, 7]) {
    const expected = n - 1 + (n - 1) ** 2 + n * (n - 1)
    it(`sends (n-1) + (n-1)^2 + n(n-1) = ${expected} pre-prepares, prepares and commits per decision at n=${n} without batching`, () => {
      const nodes = pbftCluster(n, unbatched)
      const decisions = 10
      for (let index = 0; index < decisions; index++) request(nodes[`r${index % n}`]!, `c${index}`, 1)
      run(nodes, 40)
      for (const node of Object.values(nodes)) expect(node.engine.metrics.decisions).toBe(decisions)
      expect(protocolMessages(nodes)).toBe(decisions * expected)
    })
  }

  it('batches many requests into few decisions: under 2 protocol messages per request', () => {
    const nodes = pbftCluster(4)
    const perGateway = 20
    let requests = 0
    for (let round = 0; round < 10; round++) {
      for (const node of Object.values(nodes)) {
        for (let index = 0; index < perGateway; index++) expect(request(node, `c${round}-${index}`, 1, `k${index}`)).toBeNull()
        requests += perGateway
      }
      run(nodes, 1)
    }
    run(nodes, 20)
    const batches = nodes.r0!.applied.flatMap((applied) => (applied.type === 'executed' ? [applied.requests.length] : []))
    expect(batches.reduce((sum, count) => sum + count, 0)).toBe(requests)
    // The primary orders at once while its pipeline has room, and batches what queues up behind it.
    expect(requests / batches.length).toBeGreaterThanOrEqual(16)
    expect(Math.max(...batches)).toBeGreaterThanOrEqual(64)
    expect(protocolMessages(nodes) / requests).toBeLessThan(2)
    for (const node of Object.values(nodes)) expect(executedLog(node)).toEqual(executedLog(nodes.r0!))
  })
})

describe('PBFT engine: checkpoints and watermarks', () => {
  const small: Partial<PbftConfig> = { ...unbatched, checkpointInterval: 4, windowSeqs: 8 }

  it('makes a checkpoint stable with 2f+1 matching ones and collects the log below it', () => {
    const nodes = pbftCluster(4, small)
    for (let index = 0; index < 10; index++) request(nodes.r0!, `c${index}`, 1)
    run(nodes, 40)
    for (const node of Object.values(nodes)) {
      expect(node.engine.executed).toBe(10)
      expect(node.engine.lowWatermark).toBe(8)
      expect(node.events.filter((event) => event.type === 'checkpoint').map((event) => event.type === 'checkpoint' && event.seq)).toEqual([4, 8])
      expect(Math.min(...slotSeqs(node))).toBeGreaterThan(8)
    }
  })

  it('stops the primary at the high watermark while no checkpoint is stable, and goes on once lost checkpoints are sent again', () => {
    const nodes = pbftCluster(4, { ...small, requestTimeoutTicks: 10_000, retransmitTicks: 10_000 })
    const checkpointsOfTwoBackups = dropTypes(['checkpoint'])
    const prePrepareSeqs: number[] = []
    const watch: Cut<PbftMessage> = (from, to, message) => {
      if (typeOf(message) === 'prePrepare' && from === 'r0') prePrepareSeqs.push((message.signed.body as OrderBody).seq)
      return checkpointsOfTwoBackups(from, to, message)
    }
    for (let index = 0; index < 12; index++) request(nodes.r0!, `c${index}`, 1)
    run(nodes, 40, watch)
    for (const node of Object.values(nodes)) {
      expect(node.engine.lowWatermark).toBe(0)
      expect(node.engine.executed).toBe(8)
    }
    // The primary stops at the high watermark (low + windowSeqs) with requests still waiting.
    expect(Math.max(...prePrepareSeqs)).toBe(8)
    expect(nodes.r0!.engine.pendingRequests).toBe(4)
    run(nodes, 40)
    for (const node of Object.values(nodes)) {
      expect(node.engine.executed).toBe(12)
      expect(node.engine.lowWatermark).toBe(12)
    }
  })

  it('stops the primary at the high watermark while two backups are cut off, and continues once they are back', () => {
    const nodes = pbftCluster(4, { ...small, inflightBatchesMax: 64, requestTimeoutTicks: 10_000, retransmitTicks: 10_000 })
    const prePrepareSeqs: number[] = []
    let cutOff = true
    const cut: Cut<PbftMessage> = (from, to, message) => {
      if (typeOf(message) === 'prePrepare' && from === 'r0') prePrepareSeqs.push((message.signed.body as OrderBody).seq)
      return cutOff && ['r2', 'r3'].some((id) => id === from || id === to)
    }
    for (let index = 0; index < 12; index++) request(nodes.r0!, `c${index}`, 1)
    run(nodes, 30, cut)
    expect(Math.max(...prePrepareSeqs)).toBe(8)
    for (const node of Object.values(nodes)) expect(node.engine.executed).toBe(0)
    cutOff = false
    run(nodes, 40, cut)
    expect(Math.max(...prePrepareSeqs)).toBe(12)
    for (const node of Object.values(nodes)) {
      expect(node.engine.executed).toBe(12)
      expect(node.engine.lowWatermark).toBe(12)
      expect(executedLog(node)).toEqual(executedLog(nodes.r0!))
    }
  })
})
