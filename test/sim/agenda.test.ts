import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Agenda, type AgendaEvent } from '../../sim/agenda.ts'

describe('Agenda', () => {
  it('hands out events by time, ties in insertion order, whatever the schedule', () => {
    // Times span the wheel's buckets, its horizon and the overflow heap; pushes also happen while draining.
    const time = fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 5_000_000 }))
    fc.assert(
      fc.property(fc.array(time, { maxLength: 300 }), fc.array(fc.tuple(fc.nat(50), time), { maxLength: 100 }), (initial, later) => {
        const agenda = new Agenda<number>(10_000)
        const expected: { atUs: number; id: number }[] = []
        let id = 0
        for (const atUs of initial) {
          agenda.push(atUs, 0, 0, 0, 0, id)
          expected.push({ atUs, id: id++ })
        }
        const event: AgendaEvent<number> = { atUs: 0, kind: 0, node: 0, from: 0, order: 0, payload: null }
        const seen: { atUs: number; id: number }[] = []
        let pops = 0
        while (agenda.pop(event)) {
          seen.push({ atUs: event.atUs, id: event.payload! })
          for (const [afterPops, delayUs] of later) {
            if (afterPops === pops) {
              agenda.push(event.atUs + delayUs, 0, 0, 0, 0, id)
              expected.push({ atUs: event.atUs + delayUs, id: id++ })
            }
          }
          pops++
        }
        expect(seen).toEqual([...expected].sort((a, b) => a.atUs - b.atUs || a.id - b.id))
        expect(agenda.length).toBe(0)
      }),
      { numRuns: 300 },
    )
  })

  it('refuses pushes beyond eventsMax', () => {
    const agenda = new Agenda<null>(2)
    expect(agenda.push(1, 0, 0, 0, 0, null)).toBe(true)
    expect(agenda.push(2, 0, 0, 0, 0, null)).toBe(true)
    expect(agenda.push(3, 0, 0, 0, 0, null)).toBe(false)
    expect(agenda.length).toBe(2)
  })
})
