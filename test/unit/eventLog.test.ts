import { describe, expect, it } from 'vitest'
import type { Refusal } from '../../core/ready.ts'
import { EventLog, type Subscription } from '../../host/eventLog.ts'

function subscribed<E>(result: Subscription<E> | Refusal): Subscription<E> {
  if ('code' in result) throw new Error(`refused: ${result.code}: ${result.message}`)
  return result
}

describe('event log', () => {
  it('tells a viewer that resumes too late which events it missed, then sends the kept ones', () => {
    const log = new EventLog<string>({ epoch: 'a', retainedMax: 3 })
    for (const event of ['e1', 'e2', 'e3', 'e4', 'e5']) log.append(event)
    const late = subscribed(log.subscribe({ epoch: 'a', seq: 1 }))
    expect(late.take(10)).toEqual([
      { kind: 'gap', reason: 'dropped', fromSeq: 2, toSeq: 2 },
      { kind: 'event', seq: 3, event: 'e3' },
      { kind: 'event', seq: 4, event: 'e4' },
      { kind: 'event', seq: 5, event: 'e5' },
    ])
    const current = subscribed(log.subscribe({ epoch: 'a', seq: 5 }))
    expect(current.take(10)).toEqual([])
    log.append('e6')
    expect(current.take(10)).toEqual([{ kind: 'event', seq: 6, event: 'e6' }])
  })

  it('cuts off a viewer that does not read, tells it why, and keeps serving the others', () => {
    const log = new EventLog<number>({ epoch: 'a', subscriberBufferMax: 4 })
    const slow = subscribed(log.subscribe(null))
    const fast = subscribed(log.subscribe(null))
    let cues = 0
    fast.onAvailable = () => cues++
    for (let event = 1; event <= 10; event++) {
      log.append(event)
      fast.take(10)
    }
    expect(cues).toBe(10)
    expect(slow.closed).toBe(true)
    const items = slow.take(100)
    expect(items).toHaveLength(5)
    expect(items.at(-1)).toMatchObject({ kind: 'cutOff', reason: 'slowSubscriber' })
    expect(log.status()).toMatchObject({ subscribers: 1, subscribersCutOff: 1, lastSeq: 10 })
  })

  it('limits subscribers and refuses numbers that cannot be resumed', () => {
    const log = new EventLog<number>({ epoch: 'a', subscribersMax: 1 })
    const only = subscribed(log.subscribe(null))
    expect(log.subscribe(null)).toMatchObject({ code: 'overloaded' })
    only.close()
    expect(only.take(5)).toEqual([{ kind: 'cutOff', reason: 'closed', message: 'subscription closed' }])
    expect(log.subscribe({ epoch: 'a', seq: -1 })).toMatchObject({ code: 'invalidSeq' })
    expect(log.subscribe({ epoch: 'a', seq: 1 })).toMatchObject({ code: 'invalidSeq' })
  })
})
