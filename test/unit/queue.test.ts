import { describe, expect, it } from 'vitest'
import { BoundedQueue } from '../../core/lib/queue.ts'

describe('BoundedQueue', () => {
  it('is first in, first out across wrap-around', () => {
    const queue = new BoundedQueue<number>(3)
    const out: number[] = []
    for (let i = 0; i < 10; i++) {
      expect(queue.push(i)).toBe(true)
      if (queue.length === 2) out.push(queue.shift()!)
    }
    out.push(...queue.drain())
    expect(out).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(queue.length).toBe(0)
  })

  it('refuses a push when full and changes nothing', () => {
    const queue = new BoundedQueue<string>(2)
    expect(queue.push('a')).toBe(true)
    expect(queue.push('b')).toBe(true)
    expect(queue.isFull()).toBe(true)
    expect(queue.push('c')).toBe(false)
    expect(queue.drain()).toEqual(['a', 'b'])
  })

  it('refuses a capacity outside its limits', () => {
    expect(() => new BoundedQueue(0)).toThrow(/capacity/)
    expect(() => new BoundedQueue(1.5)).toThrow(/capacity/)
  })
})
