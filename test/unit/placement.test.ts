/**
 * Placement: a namespace's home follows where its writes come from, but only
 * with enough writes, a clear majority, after old writes leave the window and
 * not faster than the cooldown; the Raft leader follows the writes to a voter
 * of their region; limits and bad input are refused with codes.
 */
import { describe, expect, it } from 'vitest'
import { Placement, type HomeProposal, type LeaderTransfer } from '../../core/replica/placement.ts'
import { defaultPlacementConfig, placementLimits, validatePlacementConfig, type PlacementConfig } from '../../core/replica/placementConfig.ts'
import type { Refusal } from '../../core/ready.ts'

/** Records `count` writes from `region`, `stepMs` apart from `startMs`; returns the time after the last. */
function writes(placement: Placement, namespace: string, region: string, count: number, startMs: number, stepMs = 1): number {
  for (let i = 0; i < count; i++) expect(placement.recordWrite(namespace, region, startMs + i * stepMs)).toBeNull()
  return startMs + count * stepMs
}

function isTransfer(result: LeaderTransfer | Refusal | null): result is LeaderTransfer {
  return result !== null && 'kind' in result
}

describe('proposeHome', () => {
  it('proposes the region 80% of writes come from, with a reason naming the counts', () => {
    const placement = new Placement()
    writes(placement, 'cfg', 'us', 40, 0)
    writes(placement, 'cfg', 'eu', 6, 100)
    writes(placement, 'cfg', 'ap', 4, 200)
    expect(placement.writesByRegion('cfg', 300)).toEqual({ ap: 4, eu: 6, us: 40 })
    const proposal = placement.proposeHome('cfg', 'eu', 300)
    expect(proposal).toEqual<HomeProposal>({
      kind: 'homeProposed',
      namespace: 'cfg',
      from: 'eu',
      to: 'us',
      atMs: 300,
      writesByRegion: { ap: 4, eu: 6, us: 40 },
      share: 0.8,
      reason: '80% of 50 writes in the last 10 s came from us (ap 4, eu 6, us 40); home moves from eu to us',
    })
  })

  it('names a first home when there was none', () => {
    const placement = new Placement()
    writes(placement, 'ns', 'eu', 20, 0)
    const proposal = placement.proposeHome('ns', null, 50)
    expect(proposal?.to).toBe('eu')
    expect(proposal?.from).toBeNull()
    expect(proposal?.reason).toBe('100% of 20 writes in the last 10 s came from eu (eu 20); eu becomes the home')
  })

  it('is null when the region already is the home', () => {
    const placement = new Placement()
    writes(placement, 'ns', 'us', 50, 0)
    expect(placement.proposeHome('ns', 'us', 100)).toBeNull()
  })

  it('never proposes over many 50/50 alternations, nor near 50% (no flapping)', () => {
    const placement = new Placement({ ...defaultPlacementConfig, cooldownMs: 0 })
    let home = 'eu'
    const proposals: HomeProposal[] = []
    // 4000 writes alternating eu/us over 40 s, with a proposal asked after each.
    for (let i = 0; i < 4000; i++) {
      expect(placement.recordWrite('ns', i % 2 === 0 ? 'eu' : 'us', i * 10)).toBeNull()
      const proposal = placement.proposeHome('ns', home, i * 10)
      if (proposal !== null) {
        proposals.push(proposal)
        home = proposal.to
      }
    }
    expect(proposals).toEqual([])
    // Runs of 11 us then 9 eu (55%/45% at most, swinging): still below shareMin.
    for (let i = 0; i < 4000; i++) {
      const atMs = 40_000 + i * 10
      expect(placement.recordWrite('ns', i % 20 < 11 ? 'us' : 'eu', atMs)).toBeNull()
      const proposal = placement.proposeHome('ns', home, atMs)
      if (proposal !== null) proposals.push(proposal)
    }
    expect(proposals).toEqual([])
  })

  it('waits for writesMin writes in the window', () => {
    const placement = new Placement()
    writes(placement, 'ns', 'us', 19, 0)
    expect(placement.proposeHome('ns', 'eu', 100)).toBeNull()
    expect(placement.recordWrite('ns', 'us', 100)).toBeNull()
    expect(placement.proposeHome('ns', 'eu', 100)?.to).toBe('us')
  })

  it('forgets writes after the window: the home moves after the sources move, only once the window has passed', () => {
    const placement = new Placement()
    // 50 writes from eu in the first second: eu is the home.
    writes(placement, 'ns', 'eu', 50, 0, 10)
    expect(placement.proposeHome('ns', null, 500)?.to).toBe('eu')
    // From 2 s on writes come from us, 3 per second.
    let home = 'eu'
    const proposals: HomeProposal[] = []
    for (let atMs = 2000; atMs < 20_000; atMs += 333) {
      expect(placement.recordWrite('ns', 'us', atMs)).toBeNull()
      const proposal = placement.proposeHome('ns', home, atMs)
      if (proposal !== null) {
        proposals.push(proposal)
        home = proposal.to
      }
    }
    expect(proposals).toHaveLength(1)
    const moved = proposals[0]!
    expect(moved.to).toBe('us')
    // Not before eu's writes have left the window (they are 0..490 ms; forgotten at 10 s).
    // At 9 992 ms us had 25 of 75 writes; the first us write after 10 s is at 10 325 ms.
    expect(moved.atMs).toBe(10_325)
    expect(moved.writesByRegion).toEqual({ us: 26 })
  })

  it('keeps a write at least 0.9 and at most 1 window', () => {
    const placement = new Placement()
    expect(placement.recordWrite('ns', 'eu', 500)).toBeNull()
    expect(placement.writesByRegion('ns', 9_999)).toEqual({ eu: 1 })
    expect(placement.writesByRegion('ns', 10_000)).toEqual({})
    expect(placement.writesByRegion('ns', 10_500)).toEqual({})
  })

  it('respects the cooldown between two proposals for a namespace', () => {
    const placement = new Placement()
    writes(placement, 'ns', 'us', 30, 0)
    expect(placement.proposeHome('ns', 'eu', 100)?.to).toBe('us')
    // The caller did not move the home: asked again, nothing until 5 s after the last proposal.
    expect(placement.proposeHome('ns', 'eu', 101)).toBeNull()
    expect(placement.proposeHome('ns', 'eu', 5_099)).toBeNull()
    expect(placement.proposeHome('ns', 'eu', 5_100)?.atMs).toBe(5_100)
    // Another namespace has its own cooldown.
    writes(placement, 'other', 'ap', 20, 5_200)
    expect(placement.proposeHome('other', null, 5_300)?.to).toBe('ap')
  })

  it('gives the same proposals for the same inputs whatever the order regions first appear in', () => {
    const a = new Placement()
    const b = new Placement()
    writes(a, 'ns', 'eu', 2, 0)
    writes(a, 'ns', 'us', 30, 10)
    writes(b, 'ns', 'us', 30, 0)
    writes(b, 'ns', 'eu', 2, 40)
    expect(Object.keys(a.writesByRegion('ns', 100))).toEqual(['eu', 'us'])
    expect(a.proposeHome('ns', 'eu', 100)).toEqual(b.proposeHome('ns', 'eu', 100))
  })
})

describe('leaderTarget', () => {
  const votersByRegion = { ap: ['n9'], eu: ['n2', 'n1'], us: ['n7', 'n4', 'n5'] }

  it('picks the lowest voter id in the write-heavy region, with a reason', () => {
    const placement = new Placement()
    expect(placement.recordLatency('us', 80)).toBeNull()
    const result = placement.leaderTarget({ leaderRegion: 'eu', votersByRegion, homeWrites: { eu: 10, us: 40 }, nowMs: 0 })
    expect(result).toEqual<LeaderTransfer>({
      kind: 'leaderTransfer',
      from: 'eu',
      to: 'n4',
      toRegion: 'us',
      atMs: 0,
      writesByRegion: { eu: 10, us: 40 },
      share: 0.8,
      reason: '80% of 50 writes came from us (eu 10, us 40), ~80 ms from here; leadership moves from eu to n4 (lowest voter id in us)',
    })
  })

  it('uses the tracked writes over every namespace when none are given', () => {
    const placement = new Placement()
    writes(placement, 'a', 'us', 15, 0)
    writes(placement, 'b', 'us', 15, 15)
    writes(placement, 'b', 'eu', 5, 30)
    expect(placement.totalWritesByRegion(100)).toEqual({ eu: 5, us: 30 })
    const result = placement.leaderTarget({ leaderRegion: 'eu', votersByRegion, nowMs: 100 })
    expect(isTransfer(result) && result.to).toBe('n4')
    expect(isTransfer(result) && result.reason).toContain('86% of 35 writes in the last 10 s came from us (eu 5, us 30)')
  })

  it('is null when the leader already is in that region, or that region has no voter', () => {
    const placement = new Placement()
    expect(placement.leaderTarget({ leaderRegion: 'us', votersByRegion, homeWrites: { eu: 10, us: 40 }, nowMs: 0 })).toBeNull()
    expect(placement.leaderTarget({ leaderRegion: 'eu', votersByRegion: { eu: ['n1'], us: [] }, homeWrites: { eu: 10, us: 40 }, nowMs: 0 })).toBeNull()
    expect(placement.leaderTarget({ leaderRegion: 'eu', votersByRegion: { eu: ['n1'] }, homeWrites: { eu: 10, us: 40 }, nowMs: 0 })).toBeNull()
  })

  it('is null below writesMin or shareMin, and within the cooldown of the last transfer', () => {
    const placement = new Placement()
    expect(placement.leaderTarget({ leaderRegion: 'eu', votersByRegion, homeWrites: { us: 19 }, nowMs: 0 })).toBeNull()
    expect(placement.leaderTarget({ leaderRegion: 'eu', votersByRegion, homeWrites: { eu: 45, us: 55 }, nowMs: 0 })).toBeNull()
    expect(isTransfer(placement.leaderTarget({ leaderRegion: 'eu', votersByRegion, homeWrites: { us: 20 }, nowMs: 0 }))).toBe(true)
    expect(placement.leaderTarget({ leaderRegion: 'us', votersByRegion, homeWrites: { ap: 20 }, nowMs: 4_999 })).toBeNull()
    const next = placement.leaderTarget({ leaderRegion: 'us', votersByRegion, homeWrites: { ap: 20 }, nowMs: 5_000 })
    expect(isTransfer(next) && next.to).toBe('n9')
  })

  it('refuses write counts that are not counts', () => {
    const placement = new Placement()
    expect(placement.leaderTarget({ leaderRegion: 'eu', votersByRegion, homeWrites: { us: -1 }, nowMs: 0 })).toMatchObject({ code: 'invalidWrites' })
    expect(placement.leaderTarget({ leaderRegion: 'eu', votersByRegion, homeWrites: { us: 1.5 }, nowMs: 0 })).toMatchObject({ code: 'invalidWrites' })
    expect(placement.leaderTarget({ leaderRegion: 'eu', votersByRegion, homeWrites: { 'u/s': 30 }, nowMs: 0 })).toMatchObject({ code: 'invalidId' })
  })
})

describe('limits and refusals', () => {
  it('refuses namespaces beyond namespacesMax, until old ones leave the window', () => {
    const placement = new Placement()
    for (let i = 0; i < placementLimits.namespacesMax; i++) expect(placement.recordWrite(`ns${i}`, 'eu', 0)).toBeNull()
    expect(placement.recordWrite('one-more', 'eu', 1)).toMatchObject({ code: 'tooManyNamespaces' })
    // A known namespace still records.
    expect(placement.recordWrite('ns0', 'eu', 1)).toBeNull()
    // Once the window has passed, idle namespaces are dropped to make room.
    expect(placement.recordWrite('one-more', 'eu', 10_000)).toBeNull()
    expect(placement.writesByRegion('ns5', 10_000)).toEqual({})
  })

  it('refuses regions beyond regionsMax, from writes and latencies', () => {
    const placement = new Placement()
    for (let i = 0; i < placementLimits.regionsMax; i++) expect(placement.recordWrite('ns', `r${i}`, 0)).toBeNull()
    expect(placement.recordWrite('ns', 'r-extra', 0)).toMatchObject({ code: 'tooManyRegions' })
    expect(placement.recordLatency('r-extra', 10)).toMatchObject({ code: 'tooManyRegions' })
    expect(placement.recordLatency('r0', 10)).toBeNull()
    expect(placement.leaderTarget({ leaderRegion: 'r0', votersByRegion: {}, homeWrites: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`x${i}`, 1])), nowMs: 0 })).toMatchObject({ code: 'tooManyRegions' })
  })

  it('refuses time that goes back, bad ids, bad times and bad round trips', () => {
    const placement = new Placement()
    expect(placement.recordWrite('ns', 'eu', 1_000)).toBeNull()
    expect(placement.recordWrite('other', 'eu', 999)).toMatchObject({ code: 'timeWentBack' })
    expect(placement.recordWrite('ns', 'eu', Number.NaN)).toMatchObject({ code: 'invalidTime' })
    expect(placement.recordWrite('a/b', 'eu', 1_000)).toMatchObject({ code: 'invalidId' })
    expect(placement.recordWrite('ns', '', 1_000)).toMatchObject({ code: 'invalidId' })
    expect(placement.recordLatency('eu', -1)).toMatchObject({ code: 'invalidRtt' })
    expect(placement.recordLatency('eu', Number.POSITIVE_INFINITY)).toMatchObject({ code: 'invalidRtt' })
    // Refused writes were not counted.
    expect(placement.writesByRegion('ns', 1_000)).toEqual({ eu: 1 })
  })

  it('smooths round trips: one slow probe moves the estimate by 1/8', () => {
    const placement = new Placement()
    expect(placement.rttMs('eu')).toBeNull()
    placement.recordLatency('eu', 80)
    placement.recordLatency('eu', 160)
    expect(placement.rttMs('eu')).toBe(90)
  })
})

describe('config validation', () => {
  it('accepts the defaults', () => {
    expect(() => validatePlacementConfig(defaultPlacementConfig)).not.toThrow()
  })

  const bad: readonly [keyof PlacementConfig, number][] = [
    ['windowMs', 0],
    ['windowMs', 9],
    ['windowMs', 1.5e3 + 0.5],
    ['windowMs', Number.NaN],
    ['writesMin', 0],
    ['writesMin', 2.5],
    ['shareMin', 0.5],
    ['shareMin', 0.4],
    ['shareMin', 1.1],
    ['shareMin', Number.NaN],
    ['cooldownMs', -1],
    ['cooldownMs', Number.POSITIVE_INFINITY],
  ]
  for (const [field, value] of bad) {
    it(`refuses ${field} = ${value} with a RangeError naming it`, () => {
      const config = { ...defaultPlacementConfig, [field]: value }
      expect(() => validatePlacementConfig(config)).toThrow(RangeError)
      expect(() => validatePlacementConfig(config)).toThrow(field)
      expect(() => new Placement(config)).toThrow(field)
    })
  }
})
