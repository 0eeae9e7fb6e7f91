import { describe, expect, it } from 'vitest'
import { writeKvPut } from '../../core/kv.ts'
import { Rng } from '../../core/lib/prng.ts'
import type { NodeId } from '../../core/ports.ts'
import { defaultPbftConfig } from '../../core/pbft/config.ts'
import { Gateway } from '../../core/pbft/gateway.ts'
import { signBody, type PbftMessage } from '../../core/pbft/messages.ts'
import { approveReconfiguration, encodeReconfiguration, reconfigurationError, reconfigureClient, type PbftReconfiguration } from '../../core/pbft/reconfiguration.ts'
import { runTicks, type Cut } from '../support/memoryHost.ts'
import { pbftCluster, queryKey, type PbftNode } from '../support/pbftCluster.ts'

type Cluster = Record<NodeId, PbftNode>

const config = { checkpointInterval: 4, windowSeqs: 8 }

function reconfiguration(nodes: Cluster, approvers: readonly NodeId[], members: readonly NodeId[], fromEpoch = 0): PbftReconfiguration {
  const replicas = members.map((id) => ({ id, publicKey: nodes[id]!.signer.publicKey }))
  return { fromEpoch, replicas, approvals: approvers.map((id) => approveReconfiguration(nodes[id]!.signer, id, fromEpoch, replicas)) }
}

function put(node: PbftNode, client: string, timestamp: number, value = `${client}@${timestamp}`): ReturnType<PbftNode['engine']['propose']> {
  const refusal = node.propose({ type: 'request', client, timestamp, operation: writeKvPut({ requestId: `${node.engine.id}/${client}@${timestamp}`, key: client, value }) })
  return refusal
}

function answered(node: PbftNode, client: string, timestamp: number): boolean {
  return node.applied.some((applied) => applied.type === 'reply' && applied.client === client && applied.timestamp === timestamp)
}

function runUntil(nodes: Cluster, done: () => boolean, ticksMax: number, cut?: Cut<PbftMessage>): number {
  for (let tick = 1; tick <= ticksMax; tick++) {
    runTicks(nodes, 1, cut)
    if (done()) return tick
  }
  throw new Error(`not done within ${ticksMax} ticks`)
}

/** Sequence number → epoch and digest each replica executed there: no two replicas may differ. */
function expectAgreement(nodes: Cluster): void {
  const executed = new Map<number, string>()
  for (const node of Object.values(nodes)) {
    for (const applied of node.applied) {
      if (applied.type !== 'executed') continue
      const held = `${applied.epoch}:${[...applied.digest].join(',')}`
      const known = executed.get(applied.seq)
      if (known === undefined) executed.set(applied.seq, held)
      else expect(held, `n${applied.seq} at ${node.engine.id}`).toBe(known)
    }
  }
}

function inEpoch(nodes: Cluster, ids: readonly NodeId[], epoch: number): boolean {
  return ids.every((id) => nodes[id]!.engine.status().epoch === epoch)
}

describe('PBFT reconfiguration', () => {
  it('replaces a group of 4 by 4 other replicas at the next checkpoint: the old ones stop voting, the new ones take the state and order', () => {
    const nodes = pbftCluster(4, config, 3, 4)
    for (const [index, id] of ['r0', 'r1', 'r2', 'r3'].entries()) expect(put(nodes[id]!, 'c', 1, `v${index}`)).toBeNull()
    runUntil(nodes, () => ['r0', 'r1', 'r2', 'r3'].every((id) => answered(nodes[id]!, 'c', 1)), 200)
    // Replicas outside the group refuse clients and vote in nothing.
    expect(put(nodes.r5!, 'c', 1)).toMatchObject({ code: 'notMember' })
    expect(nodes.r5!.engine.status()).toMatchObject({ epoch: 0, member: false, members: ['r0', 'r1', 'r2', 'r3'] })

    const change = reconfiguration(nodes, ['r0', 'r1', 'r2'], ['r4', 'r5', 'r6', 'r7'])
    expect(nodes.r1!.propose({ type: 'reconfigure', reconfiguration: change })).toBeNull()
    const all = Object.keys(nodes)
    runUntil(nodes, () => inEpoch(nodes, all, 1), 400)

    const startSeq = nodes.r4!.engine.status().epochStartSeq
    expect(startSeq % config.checkpointInterval).toBe(0)
    for (const id of all) {
      const status = nodes[id]!.engine.status()
      expect(status, id).toMatchObject({ epoch: 1, epochStartSeq: startSeq, members: ['r4', 'r5', 'r6', 'r7'], member: ['r4', 'r5', 'r6', 'r7'].includes(id), nextGroup: null })
      expect(nodes[id]!.events.some((event) => event.kind === 'groupChanged' && event.epoch === 1)).toBe(true)
    }
    // The proposer learnt the verdict: accepted, effective at the checkpoint.
    expect(nodes.r1!.applied.find((applied) => applied.type === 'reconfigured')).toMatchObject({ type: 'reconfigured', result: { accepted: true, epoch: 1, startSeq } })
    // The joiners hold the old group's state (by state transfer) and the new group orders from there.
    for (const id of ['r4', 'r5', 'r6', 'r7']) expect(queryKey(nodes[id]!, 'c'), id).not.toBeNull()
    for (const id of ['r4', 'r5', 'r6', 'r7']) expect(put(nodes[id]!, 'd', 1)).toBeNull()
    runUntil(nodes, () => ['r4', 'r5', 'r6', 'r7'].every((id) => answered(nodes[id]!, 'd', 1)), 400)
    expect(put(nodes.r0!, 'e', 1)).toMatchObject({ code: 'notMember' })
    expectAgreement(nodes)
    // Nothing above the checkpoint executed in epoch 0, nothing at or below it in epoch 1.
    for (const node of Object.values(nodes)) {
      for (const applied of node.applied) if (applied.type === 'executed') expect(applied.epoch, `n${applied.seq}`).toBe(applied.seq <= startSeq ? 0 : 1)
    }
  })

  it('grows a group of 4 to 7 (f from 1 to 2), keeping its state and its clients', () => {
    const nodes = pbftCluster(4, config, 5, 3)
    expect(put(nodes.r2!, 'a', 1)).toBeNull()
    runUntil(nodes, () => answered(nodes.r2!, 'a', 1), 200)
    const members = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6']
    expect(nodes.r0!.propose({ type: 'reconfigure', reconfiguration: reconfiguration(nodes, ['r1', 'r2', 'r3'], members) })).toBeNull()
    // A request in flight across the change is answered (by the old group or, bundled again, by the new one).
    expect(put(nodes.r3!, 'b', 1)).toBeNull()
    runUntil(nodes, () => inEpoch(nodes, members, 1) && answered(nodes.r3!, 'b', 1), 400)
    for (const id of members) expect(nodes[id]!.engine.status()).toMatchObject({ epoch: 1, member: true, members })
    for (const id of members) expect(put(nodes[id]!, 'g', 1)).toBeNull()
    runUntil(nodes, () => members.every((id) => answered(nodes[id]!, 'g', 1)), 400)
    expectAgreement(nodes)
    expect(queryKey(nodes.r6!, 'a')).toBe('a@1')
  })

  it('refuses a reconfiguration that f replicas approve, or that a faulty gateway forges, before ordering and when it executes', () => {
    const nodes = pbftCluster(4, config, 7, 1)
    const members = ['r1', 'r2', 'r3', 'r4']
    // f = 1 approval, the same approval twice, approvals of another epoch, or one from outside the group: too few.
    const onlyF = reconfiguration(nodes, ['r3'], members)
    expect(nodes.r0!.propose({ type: 'reconfigure', reconfiguration: onlyF })).toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/1 approvals, needs 3/) })
    const twice = { ...onlyF, approvals: [onlyF.approvals[0]!, onlyF.approvals[0]!, ...reconfiguration(nodes, ['r2'], members).approvals] }
    expect(nodes.r0!.propose({ type: 'reconfigure', reconfiguration: twice })).toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/two approvals from r3/) })
    const otherEpoch = reconfiguration(nodes, ['r1', 'r2', 'r3'], members, 1)
    expect(nodes.r0!.propose({ type: 'reconfigure', reconfiguration: otherEpoch })).toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/from epoch 1/) })
    const outsider = reconfiguration(nodes, ['r2', 'r3', 'r4'], members)
    expect(nodes.r0!.propose({ type: 'reconfigure', reconfiguration: outsider })).toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/r4, not a replica of epoch 0/) })

    // A faulty replica r3 signs the others' approvals with its own key and sends the bundle straight to the primary:
    // it is ordered (a gateway's bundle is) and refused where it executes, at every replica alike.
    const replicas = members.map((id) => ({ id, publicKey: nodes[id]!.signer.publicKey }))
    const forged: PbftReconfiguration = { fromEpoch: 0, replicas, approvals: ['r1', 'r2', 'r3'].map((id) => approveReconfiguration(nodes.r3!.signer, id, 0, replicas)) }
    const bundle = signBody(nodes.r3!.signer, { type: 'request', replica: 'r3', epoch: 0, requests: [{ client: reconfigureClient, timestamp: 1, operation: encodeReconfiguration(forged) }] })
    expect(nodes.r0!.step('r3', { signed: bundle, batches: [] })).toBeNull()
    runUntil(nodes, () => ['r0', 'r1', 'r2'].every((id) => nodes[id]!.applied.some((applied) => applied.type === 'executed' && applied.requests.some((request) => request.client === reconfigureClient))), 200)
    runTicks(nodes, 50)
    for (const id of ['r0', 'r1', 'r2', 'r3']) expect(nodes[id]!.engine.status(), id).toMatchObject({ epoch: 0, nextGroup: null, members: ['r0', 'r1', 'r2', 'r3'], metrics: { reconfigurationsOrdered: 0 } })
    expect(nodes.r4!.engine.status().member).toBe(false)
    // The check itself: the approvals verify under their replicas' keys, not the forger's.
    const group = nodes.r0!.group
    expect(reconfigurationError(group, { ...defaultPbftConfig, ...config }, forged)).toMatch(/approval from r1 does not verify/)
  })

  it('refuses and counts messages of an older epoch, and a restarted replica keeps the new group', () => {
    const nodes = pbftCluster(4, config, 11, 1)
    const members = ['r1', 'r2', 'r3', 'r4']
    const old = signBody(nodes.r1!.signer, { type: 'prepare', replica: 'r1', epoch: 0, view: 0, seq: 9, digest: new Uint8Array(16) })
    expect(nodes.r0!.propose({ type: 'reconfigure', reconfiguration: reconfiguration(nodes, ['r0', 'r1', 'r2'], members) })).toBeNull()
    runUntil(nodes, () => inEpoch(nodes, Object.keys(nodes), 1), 400)
    const before = nodes.r2!.engine.status().metrics.epochRefused
    expect(nodes.r2!.step('r1', { signed: old, batches: [] })).toMatchObject({ code: 'olderEpoch' })
    expect(nodes.r2!.engine.status().metrics.epochRefused).toBe(before + 1)

    nodes.r4!.restart(Rng.fromSeed(11))
    nodes.r2!.restart(Rng.fromSeed(12))
    for (const id of ['r2', 'r4']) expect(nodes[id]!.engine.status(), id).toMatchObject({ epoch: 1, members, member: true })
    for (const id of members) expect(put(nodes[id]!, 'after', 1)).toBeNull()
    runUntil(nodes, () => members.every((id) => answered(nodes[id]!, 'after', 1)), 400)
    expectAgreement(nodes)
  })

  it('brings a replica that missed the change into the new epoch by the epoch link', () => {
    const nodes = pbftCluster(4, config, 13, 1)
    const members = ['r0', 'r1', 'r2', 'r4']
    // r3 (which the change leaves out) hears nothing while the others change the group and go on in the new one.
    const cutR3: Cut<PbftMessage> = (from, to) => from === 'r3' || to === 'r3'
    expect(nodes.r1!.propose({ type: 'reconfigure', reconfiguration: reconfiguration(nodes, ['r0', 'r1', 'r2'], members) })).toBeNull()
    runUntil(nodes, () => inEpoch(nodes, members, 1), 400, cutR3)
    for (const id of members) expect(put(nodes[id]!, 'x', 1)).toBeNull()
    runUntil(nodes, () => members.every((id) => answered(nodes[id]!, 'x', 1)), 400, cutR3)
    expect(nodes.r3!.engine.status().epoch).toBe(0)
    // Healed: its status of epoch 0 is answered with the state and the link, which it checks against the group it knows.
    runUntil(nodes, () => nodes.r3!.engine.status().epoch === 1, 200)
    expect(nodes.r3!.engine.status()).toMatchObject({ epoch: 1, member: false, members })
    expect(nodes.r3!.events.some((event) => event.kind === 'stateTransfer')).toBe(true)
    expect(queryKey(nodes.r3!, 'x')).toBe('x@1')
    expectAgreement(nodes)
  })

  it('counts a reply certificate in the group of its epoch: replies of two epochs never add up', () => {
    const gateway = new Gateway()
    expect(gateway.propose({ client: 'c', timestamp: 1, operation: new Uint8Array(1) })).toBeNull()
    const result = Uint8Array.of(7)
    expect(gateway.vote('r1', 'c', 1, result, 2, 0)).toBeNull()
    expect(gateway.vote('r2', 'c', 1, result, 2, 1)).toBeNull()
    expect(gateway.vote('r3', 'c', 1, result, 2, 1)).toMatchObject({ client: 'c', timestamp: 1 })
  })
})
