import { describe, expect, it } from 'vitest'
import { PeerOutbox, peerOutboxLimits, type PeerDelivery } from '../../durable-objects/peerOutbox.ts'

/** A peer whose calls wait until the test settles them. */
function heldPeer() {
  const calls: { from: string; frames: Uint8Array[]; settle: (ok: boolean) => void }[] = []
  const peer: PeerDelivery = {
    deliver: (from, frames) => new Promise((resolve, reject) => calls.push({ from, frames, settle: (ok) => (ok ? resolve(undefined) : reject(new Error('peer gone'))) })),
  }
  return { peer, calls }
}

const frame = (length = 1) => new Uint8Array(length)
const microtasks = () => new Promise((resolve) => setTimeout(resolve, 0))

describe('PeerOutbox', () => {
  it('sends the frames of one synchronous turn as one call per peer', async () => {
    const a = heldPeer()
    const b = heldPeer()
    const outbox = new PeerOutbox({ self: 'region-x', connect: (peer) => (peer === 'a' ? a.peer : peer === 'b' ? b.peer : null) })
    outbox.add('a', frame())
    outbox.add('b', frame())
    outbox.add('a', frame())
    expect(a.calls).toHaveLength(0)
    await microtasks()
    expect(a.calls.map((call) => [call.from, call.frames.length])).toEqual([['region-x', 2]])
    expect(b.calls.map((call) => call.frames.length)).toEqual([1])
    a.calls[0]!.settle(true)
    b.calls[0]!.settle(true)
    await outbox.settled()
    expect(outbox.metrics).toMatchObject({ deliveries: 2, framesSent: 3, deliveriesFailed: 0 })
  })

  it('steps the frames a peer answers a call with, and ignores an answer that is not frames', async () => {
    const answers: [string, number[]][] = []
    const replies: unknown[] = [{ answer: [Uint8Array.of(7), Uint8Array.of(8, 9)] }, { answer: 'garbage' }, { answer: [Uint8Array.of(1), 'no'] }, undefined]
    const peer: PeerDelivery = { deliver: async () => replies.shift() }
    const outbox = new PeerOutbox({ self: 'x', connect: () => peer, onAnswer: (from, frames) => answers.push([from, frames.map((f) => f.length)]) })
    for (let call = 0; call < 4; call++) {
      outbox.add('a', frame())
      outbox.flush()
    }
    await outbox.settled()
    expect(answers).toEqual([['a', [1, 2]]])
    expect(outbox.metrics.framesAnswered).toBe(2)
  })

  it('hands the frames waiting for a peer to the answer of its call (take), one call’s worth', () => {
    const outbox = new PeerOutbox({ self: 'x', connect: () => null })
    expect(outbox.take('a')).toEqual([])
    for (let index = 0; index < peerOutboxLimits.framesPerDeliveryMax + 2; index++) outbox.add('a', frame())
    expect(outbox.take('a')).toHaveLength(peerOutboxLimits.framesPerDeliveryMax)
    expect(outbox.take('a')).toHaveLength(2)
    expect(outbox.take('a')).toEqual([])
  })

  it('splits a turn past the per-call limits', async () => {
    const a = heldPeer()
    const outbox = new PeerOutbox({ self: 'x', connect: () => a.peer })
    for (let index = 0; index < peerOutboxLimits.framesPerDeliveryMax + 1; index++) outbox.add('a', frame())
    outbox.flush()
    expect(a.calls.map((call) => call.frames.length)).toEqual([peerOutboxLimits.framesPerDeliveryMax, 1])
    const big = peerOutboxLimits.bytesPerDeliveryMax / 2 + 1
    outbox.add('a', frame(big))
    outbox.add('a', frame(big))
    outbox.flush()
    expect(a.calls.slice(2).map((call) => call.frames.length)).toEqual([1, 1])
  })

  it('drops a batch when a peer has too many calls unanswered, and reconnects after a failed call', async () => {
    const first = heldPeer()
    const second = heldPeer()
    let connects = 0
    const outbox = new PeerOutbox({ self: 'x', connect: () => (++connects === 1 ? first.peer : second.peer) })
    for (let index = 0; index < peerOutboxLimits.deliveriesInFlightMax + 2; index++) {
      outbox.add('a', frame())
      outbox.flush()
    }
    expect(first.calls).toHaveLength(peerOutboxLimits.deliveriesInFlightMax)
    expect(outbox.metrics).toMatchObject({ batchesDropped: 2, framesDropped: 2 })
    first.calls[0]!.settle(false)
    for (const call of first.calls.slice(1)) call.settle(true)
    await outbox.settled()
    expect(outbox.metrics.deliveriesFailed).toBe(1)
    outbox.add('a', frame())
    outbox.flush()
    expect(connects).toBe(2)
    expect(second.calls).toHaveLength(1)
  })

  it('counts frames for a member it cannot reach, and bounds what one turn queues', () => {
    const outbox = new PeerOutbox({ self: 'x', connect: () => null })
    outbox.add('node-7', frame())
    outbox.flush()
    expect(outbox.metrics.framesUnroutable).toBe(1)
    for (let index = 0; index < peerOutboxLimits.framesQueuedPerPeerMax + 3; index++) outbox.add('node-7', frame())
    expect(outbox.metrics.framesDropped).toBe(3)
  })
})
