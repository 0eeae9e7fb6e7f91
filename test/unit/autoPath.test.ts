/**
 * The auto path's answers (core/replica/autoPath.ts, strongPath.ts): a reply
 * is the truth. A write on the CRDT path is answered by that path alone,
 * whatever Raft says later; a Raft failure before the fallback sends it to
 * the CRDT; a write Raft may still commit is never answered failed.
 *
 * The parts are wired as the Replica wires them, around a real CRDT engine;
 * requests are placed on the route each case starts from (in a cluster the
 * CRDT acks a fallback in the same drive, so a late Raft answer cannot be
 * timed to fall between them).
 */
import { describe, expect, it } from 'vitest'
import { defaultCrdtConfig } from '../../core/crdt/config.ts'
import { CrdtEngine, type CrdtAck, type CrdtCommand, type CrdtEvent } from '../../core/crdt/engine.ts'
import type { CrdtMessage } from '../../core/crdt/messages.ts'
import { Rng } from '../../core/lib/prng.ts'
import { Answers } from '../../core/replica/answers.ts'
import { AutoPath } from '../../core/replica/autoPath.ts'
import type { ReplicaReply } from '../../core/replica/commands.ts'
import { defaultReplicaConfig } from '../../core/replica/config.ts'
import type { ReplicaContext } from '../../core/replica/context.ts'
import { EventualPath } from '../../core/replica/eventualPath.ts'
import { Forwarding } from '../../core/replica/forwarding.ts'
import type { ForwardResult } from '../../core/replica/messages.ts'
import { newReplicaMetrics } from '../../core/replica/metrics.ts'
import { registerValue } from '../../core/replica/registerValue.ts'
import { PendingRequests, type AutoRoute, type AutoWrite } from '../../core/replica/requests.ts'
import { StrongPath } from '../../core/replica/strongPath.ts'
import { HostKernel } from '../../host/kernel.ts'
import { SimStorage } from '../../sim/storage.ts'

const failedForward: ForwardResult = { kind: 'failed', code: 'notLeader', message: 'n2 does not lead the Raft group', leader: null }

function autoParts(crdtKeysMax = defaultCrdtConfig.keysMax) {
  let nowMs = 1_000_000
  const clock = { nowMs: () => nowMs }
  const replies: ReplicaReply[] = []
  const requests = new PendingRequests()
  const metrics = newReplicaMetrics()
  const answers = new Answers(requests, metrics, (reply) => replies.push(reply))
  const context: ReplicaContext = {
    id: 'n1',
    config: defaultReplicaConfig,
    clock,
    metrics,
    requests,
    answers,
    send: () => {},
    report: () => {},
    nextReadId: () => 1,
    publish: () => {},
  }
  const storage = new SimStorage()
  const crdt = new CrdtEngine({ id: 'n1', peers: ['n1', 'n2'], storage, rng: Rng.fromSeed(1), clock, config: { ...defaultCrdtConfig, keysMax: crdtKeysMax } })
  const forwarding = new Forwarding({ context, boot: 1, raft: null, raftVoters: () => ['n2'], inRaftGroup: () => false, recordWrite: () => {}, onAnswer: (request, result) => strong.handleForwardAnswer(request, result) })
  const eventual = new EventualPath(context, crdt)
  const auto = new AutoPath({ context, forwarding, eventual, homeMode: () => 'datacenter' })
  const strong = new StrongPath({ context, raft: null, crdt, forwarding, auto })
  const crdtHost = new HostKernel<CrdtCommand, CrdtMessage, CrdtAck, CrdtEvent>({
    engine: crdt,
    storage,
    transport: { send: () => {} },
    monotonic: clock,
    tickMs: defaultReplicaConfig.tickMs,
    // The paths propose to the engine themselves, with their own ids; the acks go to the eventual path.
    requests: { withRequestId: (command) => command, replyTo: () => null },
    events: { epoch: 'n1', retainedMax: 16 },
    onReady: (ready) => {
      for (const ack of ready.applied) eventual.handleApplied(ack)
    },
  })
  let requestId = 0
  return {
    replies,
    requests,
    auto,
    strong,
    crdt,
    advanceMs: (ms: number) => (nowMs += ms),
    /**
     * The kernel drives the CRDT engine after what the paths gave it (as the replica's Ready does):
     * persist and sync, then the acks go to the eventual path.
     */
    driveCrdt: () => crdtHost.input("the paths' operations", () => null),
    /** An auto write waiting on `route` (a CRDT route's id is the one its ack will carry). */
    waiting: (key: string, route: AutoRoute): AutoWrite => {
      const request: AutoWrite = { kind: 'autoWrite', requestId: ++requestId, deadlineMs: nowMs + defaultReplicaConfig.requestTimeoutMs, key, stamp: crdt.hlc.now(), registerValue: registerValue(`w${requestId}`), mode: 'datacenter', route }
      requests.open(request)
      return request
    },
  }
}

describe('the auto path answers the truth', () => {
  it('a write on the CRDT path is not answered failed by a late failed forward reply; the CRDT ack answers it', () => {
    const parts = autoParts()
    const request = parts.waiting('edge/a', { via: 'raft', deadlineMs: 0 })
    expect(parts.auto.checkRaftDeadline(request, 1_000_000)).toBe(true)
    // The fallback joined the write into the register: it goes ahead whatever Raft says now.
    expect(parts.crdt.read('edge/a')).toBe(request.registerValue)
    // The leader's refusal of the forward arrives after the fallback, before the CRDT ack.
    parts.strong.handleForwardAnswer(parts.requests.get(request.requestId)!, failedForward)
    expect(parts.replies).toEqual([])
    parts.driveCrdt()
    expect(parts.replies).toHaveLength(1)
    expect(parts.replies[0]).toMatchObject({ ok: true, path: 'crdt', auto: { reason: 'deadline' } })
  })

  it('a write on the CRDT path is not answered failed when the log refuses its entry', () => {
    const parts = autoParts()
    const request = parts.waiting('edge/b', { via: 'raft', deadlineMs: 0 })
    parts.auto.checkRaftDeadline(request, 1_000_000)
    parts.strong.handleForwardAnswer(parts.requests.get(request.requestId)!, { kind: 'written', index: 7, reply: { outcome: 'refused', code: 'expired', message: 'too old' } })
    expect(parts.replies).toEqual([])
    parts.driveCrdt()
    expect(parts.replies).toMatchObject([{ ok: true, path: 'crdt' }])
  })

  it('a failed forward or a refused entry before the fallback sends the write to the CRDT path (raftUnavailable), not to a failure', () => {
    const parts = autoParts()
    const forwarded = parts.waiting('edge/c', { via: 'raft', deadlineMs: 2_000_000 })
    parts.strong.handleForwardAnswer(forwarded, failedForward)
    const logged = parts.waiting('edge/d', { via: 'raft', deadlineMs: 2_000_000 })
    parts.strong.handleForwardAnswer(logged, { kind: 'written', index: 8, reply: { outcome: 'refused', code: 'tooManyOrigins', message: 'originsMax=64' } })
    expect(parts.replies).toEqual([])
    parts.driveCrdt()
    expect(parts.replies).toMatchObject([
      { requestId: forwarded.requestId, ok: true, path: 'crdt', auto: { reason: 'raftUnavailable' } },
      { requestId: logged.requestId, ok: true, path: 'crdt', auto: { reason: 'raftUnavailable' } },
    ])
    expect(parts.crdt.read('edge/c')).toBe(forwarded.registerValue)
  })

  it('a write Raft may still commit is not answered failed when the CRDT refuses its fallback: Raft answers it', () => {
    const parts = autoParts(1)
    parts.waiting('edge/full', { via: 'raft', deadlineMs: 0 })
    parts.auto.checkRaftDeadline(parts.requests.get(1)! as AutoWrite, 1_000_000)
    parts.driveCrdt()
    expect(parts.replies).toMatchObject([{ ok: true, path: 'crdt' }])
    // The store is full (keysMax 1): the deadline's fallback of a new key is refused tooManyKeys, while the entry is still in Raft.
    const request = parts.waiting('edge/new', { via: 'raft', deadlineMs: 0 })
    parts.auto.checkRaftDeadline(request, 1_000_000)
    parts.driveCrdt()
    expect(parts.replies).toHaveLength(1)
    expect(parts.requests.get(request.requestId)?.kind).toBe('autoWrite')
    // Later ticks do not try again and again; the commit answers it.
    expect(parts.auto.checkRaftDeadline(parts.requests.get(request.requestId) as AutoWrite, 1_500_000)).toBe(false)
    parts.strong.handleForwardAnswer(parts.requests.get(request.requestId)!, { kind: 'written', index: 9, reply: { outcome: 'applied', version: 3 } })
    expect(parts.replies[1]).toMatchObject({ requestId: request.requestId, ok: true, path: 'raft', position: { kind: 'raft', index: 9, version: 3 } })
  })

  it('a write neither Raft nor the CRDT took is answered with the CRDT refusal', () => {
    const parts = autoParts(1)
    parts.waiting('edge/full', { via: 'raft', deadlineMs: 0 })
    parts.auto.checkRaftDeadline(parts.requests.get(1)! as AutoWrite, 1_000_000)
    parts.driveCrdt()
    const request = parts.waiting('edge/new', { via: 'raft', deadlineMs: 2_000_000 })
    parts.strong.handleForwardAnswer(request, failedForward)
    expect(parts.replies[1]).toMatchObject({ requestId: request.requestId, ok: false, code: 'tooManyKeys' })
    expect(parts.crdt.read('edge/new')).toBeUndefined()
  })
})
