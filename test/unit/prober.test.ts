/**
 * The prober: probes once per interval (round-robin beyond a bound), times the
 * answers, counts silence as loss after the timeout, refuses answers that match
 * no probe, checks its own forecast, and decides link and group modes, a step
 * from 1 ms to 80 ms within 3 probe intervals. Driven by a plain event loop in
 * virtual time: every time below is a number of ms.
 */
import { describe, expect, it } from 'vitest'
import type { ModeChangedEvent } from '../../core/adaptive/modeEvents.ts'
import { decodeProbeMessage, describeProbeMessage, encodeProbeMessage, probeMessageTypes, type ProbeMessage } from '../../core/adaptive/probeMessages.ts'
import { Prober, type ProbeOut } from '../../core/adaptive/prober.ts'
import { defaultProberConfig, type ProberConfig } from '../../core/adaptive/proberConfig.ts'
import { defaultModeDetectorConfig } from '../../core/adaptive/modeConfig.ts'

const probeIntervalMs = defaultProberConfig.probeIntervalMs
const probeTimeoutMs = defaultProberConfig.probeTimeoutMs

/** Round trip of a probe to `peer` sent at `sentAtMs`, or null when the peer does not answer it. */
type RttMsOf = (peer: string, sentAtMs: number) => number | null

interface Delivery {
  readonly atMs: number
  readonly order: number
  readonly from: string
  readonly to: string
  readonly message: ProbeMessage
}

interface Loop {
  readonly changes: ModeChangedEvent[]
  readonly rounds: { readonly atMs: number; readonly probes: readonly ProbeOut[] }[]
  runUntil(endMs: number): void
  /** Time of the last event processed. */
  nowMs(): number
}

/**
 * A prober, a responder (itself a Prober) per peer, and a network that
 * delivers each probe after half its round trip and the answer after the
 * rest. Ticks every `tickMs`; events run in time order, deliveries before a
 * tick at the same time. Collects every mode change, from answers and ticks.
 */
function loopOf(prober: Prober, rttMsOf: RttMsOf, tickMs = 10): Loop {
  const responders = new Map(prober.peers.map((peer) => [peer, new Prober({ id: peer, peers: [prober.id] })]))
  const queue: Delivery[] = []
  const changes: ModeChangedEvent[] = []
  const rounds: { atMs: number; probes: readonly ProbeOut[] }[] = []
  let order = 0
  let nextTickMs = 0
  let nowMs = 0
  const schedule = (atMs: number, from: string, to: string, message: ProbeMessage): void => {
    queue.push({ atMs, order: order++, from, to, message })
  }
  const nextDelivery = (): number => {
    let best = -1
    for (let i = 0; i < queue.length; i++) {
      const d = queue[i]!
      const b = best < 0 ? undefined : queue[best]!
      if (b === undefined || d.atMs < b.atMs || (d.atMs === b.atMs && d.order < b.order)) best = i
    }
    return best
  }
  return {
    changes,
    rounds,
    nowMs: () => nowMs,
    runUntil(endMs: number): void {
      for (;;) {
        const index = nextDelivery()
        const delivery = index < 0 ? undefined : queue[index]
        if (delivery !== undefined && delivery.atMs <= nextTickMs && delivery.atMs <= endMs) {
          queue.splice(index, 1)
          nowMs = delivery.atMs
          if (delivery.to === prober.id) {
            const result = prober.handleMessage(delivery.from, delivery.message, nowMs)
            expect(result.refusal).toBeNull()
            changes.push(...result.changes)
          } else {
            const result = responders.get(delivery.to)!.handleMessage(delivery.from, delivery.message, nowMs)
            expect(result.refusal).toBeNull()
            const rttMs = rttMsOf(delivery.to, delivery.message.sentAtMs)!
            schedule(delivery.message.sentAtMs + rttMs, delivery.to, prober.id, result.reply!.message)
          }
          continue
        }
        if (nextTickMs > endMs) return
        nowMs = nextTickMs
        const probes = prober.tick(nowMs)
        changes.push(...prober.takeChanges())
        if (probes.length > 0) rounds.push({ atMs: nowMs, probes })
        for (const probe of probes) {
          const rttMs = rttMsOf(probe.to, probe.message.sentAtMs)
          if (rttMs !== null) schedule(probe.message.sentAtMs + rttMs / 2, prober.id, probe.to, probe.message)
        }
        nextTickMs += tickMs
      }
    },
  }
}

function proberOf(peers: readonly string[], config: Partial<ProberConfig> = {}): Prober {
  return new Prober({ id: 'self', peers, config: { ...defaultProberConfig, ...config } })
}

describe('probing', () => {
  it('probes every peer once per interval, however often it ticks, and leaves itself out', () => {
    const prober = proberOf(['self', 'a', 'b'])
    expect(prober.peers).toEqual(['a', 'b'])
    const loop = loopOf(prober, () => 2, 1)
    loop.runUntil(1000)
    expect(loop.rounds.map((round) => round.atMs)).toEqual(Array.from({ length: 11 }, (_, i) => i * probeIntervalMs))
    for (const round of loop.rounds) expect(round.probes.map((probe) => probe.to)).toEqual(['a', 'b'])
    expect(prober.metrics.probesSent).toBe(22)
  })

  it('skips intervals a late tick missed instead of sending them in a burst, and stays on its grid', () => {
    const prober = proberOf(['a'])
    expect(prober.tick(0)).toHaveLength(1)
    expect(prober.tick(50)).toHaveLength(0)
    expect(prober.tick(430)).toHaveLength(1)
    expect(prober.tick(499)).toHaveLength(0)
    expect(prober.tick(500)).toHaveLength(1)
  })

  it('answers a probe by echoing it, from any valid node', () => {
    const prober = proberOf(['a'])
    const result = prober.handleMessage('stranger', { type: 'probe', seq: 7, sentAtMs: 1234 }, 5)
    expect(result).toEqual({ reply: { to: 'stranger', message: { type: 'probeAck', seq: 7, sentAtMs: 1234 } }, changes: [], refusal: null })
  })

  it('bounds the probes of one interval and takes peers in turn beyond it', () => {
    const peers = Array.from({ length: 200 }, (_, i) => `p${i}`)
    const prober = proberOf(peers, { peersPerIntervalMax: 16 })
    const sent = new Map<string, number>()
    for (let round = 0; round < 25; round++) {
      const probes = prober.tick(round * probeIntervalMs)
      expect(probes).toHaveLength(16)
      expect(new Set(probes.map((probe) => probe.to)).size).toBe(16)
      for (const probe of probes) sent.set(probe.to, (sent.get(probe.to) ?? 0) + 1)
    }
    // 25 rounds of 16 are 400 probes: every one of the 200 peers exactly twice.
    expect(sent.size).toBe(200)
    expect(new Set(sent.values())).toEqual(new Set([2]))
  })

  it('names the setting that is out of range', () => {
    const bad: [Partial<ProberConfig>, string][] = [
      [{ probeIntervalMs: 0 }, 'probeIntervalMs'],
      [{ probeIntervalMs: Number.NaN }, 'probeIntervalMs'],
      [{ probeTimeoutMs: 0 }, 'probeTimeoutMs'],
      [{ probeTimeoutMs: 60_001 }, 'probeTimeoutMs'],
      [{ outstandingProbesMax: 0 }, 'outstandingProbesMax'],
      [{ outstandingProbesMax: 1.5 }, 'outstandingProbesMax'],
      [{ peersPerIntervalMax: 0 }, 'peersPerIntervalMax'],
      [{ peersPerIntervalMax: 1e9 }, 'peersPerIntervalMax'],
    ]
    for (const [config, field] of bad) {
      expect(() => proberOf(['a'], config)).toThrow(RangeError)
      expect(() => proberOf(['a'], config)).toThrow(field)
    }
    expect(() => proberOf(['a', 'a'])).toThrow(/twice/)
    expect(() => proberOf(['bad id'])).toThrow(/invalid node id/)
    expect(() => new Prober({ id: '', peers: [] })).toThrow(/prober id/)
  })
})

describe('modes', () => {
  it('moves a link from datacenter to internet within 3 probe intervals of a 1 → 80 ms step', () => {
    const stepAtMs = 3000 // on the probe grid: the probe sent at 3000 is the first to see 80 ms
    const prober = proberOf(['a'])
    const loop = loopOf(prober, (_, sentAtMs) => (sentAtMs < stepAtMs ? 1 : 80))
    loop.runUntil(stepAtMs - 1)
    expect(prober.linkMode('a')).toBe('datacenter')
    expect(loop.changes.map((c) => `${c.from}>${c.to}`)).toEqual(['hybrid>datacenter'])
    loop.runUntil(stepAtMs + 3 * probeIntervalMs)
    expect(prober.linkMode('a')).toBe('internet')
    const change = loop.changes[1]!
    expect(change).toMatchObject({ kind: 'modeChanged', scope: 'link', id: 'a', from: 'datacenter', to: 'internet', reason: 'detected' })
    expect(change.atMs).toBeGreaterThan(stepAtMs)
    expect(change.atMs - stepAtMs).toBeLessThanOrEqual(3 * probeIntervalMs)
    // The event carries the measurements that confirmed it, each of an 80 ms median.
    expect(change.measurements.map((m) => m.measurement.rttMsP50)).toEqual([80, 80])
    expect(prober.metrics.modeChanges).toBe(2)
    expect(prober.metrics.probesLost).toBe(0)
  })

  it('decides a step off the probe grid by the third probe after it', () => {
    for (let offsetMs = 0; offsetMs < probeIntervalMs; offsetMs += 10) {
      const stepAtMs = 3000 + offsetMs
      const prober = proberOf(['a'])
      const loop = loopOf(prober, (_, sentAtMs) => (sentAtMs < stepAtMs ? 1 : 80))
      loop.runUntil(stepAtMs + 5 * probeIntervalMs)
      const change = loop.changes.find((c) => c.to === 'internet')!
      const firstProbeAfterMs = Math.ceil(stepAtMs / probeIntervalMs) * probeIntervalMs
      // The third probe after the step is sent two intervals after the first and answered 80 ms later.
      expect(change.atMs).toBeLessThanOrEqual(firstProbeAfterMs + 2 * probeIntervalMs + 80)
    }
  })

  it('keeps a group in the mode of the link its quorum needs, and reports it after the link', () => {
    const peers = ['a', 'b', 'c']
    const stepAtMs = 3000
    const slow = new Set(['a'])
    const prober = proberOf(peers)
    const loop = loopOf(prober, (peer, sentAtMs) => (sentAtMs >= stepAtMs && slow.has(peer) ? 80 : 1))
    expect(prober.setGroup('home', peers, true, 0)).toEqual({ ok: true, value: [] })
    loop.runUntil(stepAtMs - 1)
    expect(prober.groupMode('home')).toBe('datacenter')
    // One slow link of three: this node and the two fast links are still a quorum.
    loop.runUntil(stepAtMs + 5 * probeIntervalMs)
    expect(prober.linkMode('a')).toBe('internet')
    expect(prober.groupMode('home')).toBe('datacenter')
    // A second slow link: every quorum now needs one.
    slow.add('b')
    const before = loop.changes.length
    loop.runUntil(stepAtMs + 10 * probeIntervalMs)
    expect(prober.groupMode('home')).toBe('internet')
    const later = loop.changes.slice(before)
    expect(later.map((c) => `${c.scope}:${c.id}:${c.to}`)).toEqual(['link:b:internet', 'group:home:internet'])
    expect(prober.snapshot().groups).toMatchObject([{ id: 'home', mode: 'internet' }])
  })

  it('passes overrides through and refuses groups of unknown peers', () => {
    const prober = proberOf(['a', 'b'])
    const set = prober.setLinkOverride('a', 'internet', 10)
    expect(set.ok && set.value.map((c) => c.reason)).toEqual(['override'])
    expect(prober.linkMode('a')).toBe('internet')
    const group = prober.setGroup('g', ['a', 'zz'], false, 10)
    expect(!group.ok && group.error.code).toBe('unknownLink')
    expect(prober.setGroup('g', ['a', 'b'], false, 20).ok).toBe(true)
    const groupSet = prober.setGroupOverride('g', 'datacenter', 30)
    expect(groupSet.ok && groupSet.value.map((c) => c.scope)).toEqual(['group'])
    expect(prober.groupMode('g')).toBe('datacenter')
    const back = prober.setLinkOverride('a', null, 5)
    expect(!back.ok && back.error.code).toBe('timeWentBack')
  })
})

describe('loss', () => {
  it('counts unanswered probes lost after probeTimeoutMs, raises the loss rate, and leaves datacenter once the loss interval clears 1.2%, internet once it clears 6%', () => {
    // Enough answers first that the loss window holds lossSamplesMin probes when losses start to count.
    const silentFromMs = 12_000
    const prober = proberOf(['a'])
    const loop = loopOf(prober, (_, sentAtMs) => (sentAtMs < silentFromMs ? 1 : null))
    loop.runUntil(silentFromMs - 1)
    expect(prober.linkMode('a')).toBe('datacenter')
    const answered = prober.metrics.acksReceived
    expect(answered).toBeGreaterThanOrEqual(defaultModeDetectorConfig.lossSamplesMin)
    loop.runUntil(silentFromMs + probeTimeoutMs - 1)
    expect(prober.metrics.probesLost).toBe(0)
    expect(prober.estimate('a')!.lossRate).toBe(0)
    loop.runUntil(silentFromMs + probeTimeoutMs)
    expect(prober.metrics.probesLost).toBe(1)
    const early = prober.estimate('a')!.lossRate!
    expect(early).toBeCloseTo(1 / (answered + 1))
    // One lost probe in a hundred is no evidence of loss above 1%.
    expect(prober.linkMode('a')).toBe('datacenter')
    loop.runUntil(silentFromMs + probeTimeoutMs + 10 * probeIntervalMs)
    expect(prober.metrics.probesLost).toBe(11)
    expect(prober.estimate('a')!.lossRate!).toBeCloseTo(11 / (answered + 11))
    // 11 of 131: the lower bound (one way) is past 1.2%: not datacenter, though the round trip is; the change came out of a tick.
    expect(prober.linkMode('a')).toBe('hybrid')
    expect(loop.changes.at(-1)).toMatchObject({ id: 'a', from: 'datacenter', to: 'hybrid', lossLevel: 'elevated' })
    loop.runUntil(silentFromMs + probeTimeoutMs + 60 * probeIntervalMs)
    // Past 6% one way with confidence: internet whatever the round trip.
    expect(prober.linkMode('a')).toBe('internet')
    expect(loop.changes.at(-1)).toMatchObject({ id: 'a', from: 'hybrid', to: 'internet', lossLevel: 'high' })
    expect(prober.metrics.acksReceived).toBe(answered)
  })

  it('counts the oldest probe lost when a full outstanding map needs room', () => {
    const prober = proberOf(['a'], { outstandingProbesMax: 4 })
    for (let round = 0; round < 4; round++) prober.tick(round * probeIntervalMs)
    expect(prober.metrics.probesLost).toBe(0)
    expect(prober.snapshot().links[0]!.outstandingProbes).toBe(4)
    const fifth = prober.tick(4 * probeIntervalMs)
    expect(fifth).toHaveLength(1)
    expect(prober.metrics.probesLost).toBe(1)
    expect(prober.snapshot().links[0]!.outstandingProbes).toBe(4)
    // The evicted probe (seq 0) can no longer be answered.
    expect(prober.handleMessage('a', { type: 'probeAck', seq: 0, sentAtMs: 0 }, 410).refusal?.code).toBe('unknownProbe')
  })

  it('takes an answer later than the timeout as the loss it was already counted as', () => {
    const prober = proberOf(['a'])
    const [probe] = prober.tick(0)
    const late = prober.handleMessage('a', { ...probe!.message, type: 'probeAck' }, probeTimeoutMs + 5)
    expect(late.refusal?.code).toBe('unknownProbe')
    expect(prober.metrics.probesLost).toBe(1)
    expect(prober.estimate('a')).toMatchObject({ samples: 1, lossRate: 1, rttMsLast: null })
  })
})

describe('refusals', () => {
  it('refuses answers that match no probe and changes no estimate', () => {
    const prober = proberOf(['a'])
    const loop = loopOf(prober, () => 5)
    loop.runUntil(1000)
    const [probe] = prober.tick(1100)
    const before = prober.estimate('a')
    const nowMs = 1102
    const cases: [string, ProbeMessage, string][] = [
      ['a', { type: 'probeAck', seq: 999_999, sentAtMs: 1100 }, 'unknownProbe'],
      ['a', { type: 'probeAck', seq: probe!.message.seq, sentAtMs: 1099 }, 'forgedTime'],
      ['zz', { type: 'probeAck', seq: probe!.message.seq, sentAtMs: 1100 }, 'unknownPeer'],
      ['a', { type: 'probeAck', seq: -1, sentAtMs: 1100 }, 'invalidMessage'],
      ['a', { type: 'probeAck', seq: 1.5, sentAtMs: 1100 }, 'invalidMessage'],
      ['a', { type: 'nope' as 'probe', seq: 1, sentAtMs: 1100 }, 'invalidMessage'],
    ]
    for (const [from, message, code] of cases) {
      const result = prober.handleMessage(from, message, nowMs)
      expect(result.refusal?.code).toBe(code)
      expect(result.reply).toBeNull()
      expect(result.changes).toEqual([])
    }
    expect(prober.metrics.refused).toBe(cases.length)
    expect(prober.estimate('a')).toEqual(before)
    // The forged answer did not consume the probe: the true one is still taken, once.
    const ack = { ...probe!.message, type: 'probeAck' as const }
    expect(prober.handleMessage('a', ack, 1105).refusal).toBeNull()
    expect(prober.estimate('a')!.rttMsLast).toBe(5)
    expect(prober.handleMessage('a', ack, 1106).refusal?.code).toBe('unknownProbe')
    expect(prober.handleMessage('a', ack, 1000).refusal?.code).toBe('timeWentBack')
    expect(prober.metrics.refused).toBe(cases.length + 2)
  })

  it('measures from the exact send time it kept while the wire carries whole ms', () => {
    const prober = proberOf(['a'])
    const [probe] = prober.tick(10.25)
    expect(probe!.message.sentAtMs).toBe(10)
    expect(prober.handleMessage('a', { ...probe!.message, type: 'probeAck' }, 11).refusal).toBeNull()
    expect(prober.estimate('a')!.rttMsLast).toBe(0.75)
  })

  it('refuses a transfer to an unknown peer and passes known ones to the estimator', () => {
    const prober = proberOf(['a'])
    expect(prober.recordTransfer('zz', 1000, 1)?.code).toBe('unknownPeer')
    expect(prober.recordTransfer('a', 0, 1)?.code).toBe('invalidBytes')
    expect(prober.recordTransfer('a', 1_250_000, 1)).toBeNull()
    expect(prober.estimate('a')!.bandwidthBitsPerSecond).toBe(10e9)
  })
})

describe('forecast accuracy', () => {
  it('reports a small error for a constant round trip, skipping the first answer and 0 ms', () => {
    const prober = proberOf(['a', 'b'])
    const loop = loopOf(prober, (peer) => (peer === 'a' ? 20 : 30))
    loop.runUntil(5050)
    const stats = prober.forecastStats()
    // Probes at 0, 100, ..., 5000: 51 answers per peer; the first of each had no forecast before it.
    expect(stats.samples).toBe(2 * 50)
    expect(stats.mape).not.toBeNull()
    expect(stats.mape!).toBeLessThan(0.05)
    expect(prober.snapshot().forecast).toEqual(stats)
    expect(prober.snapshot().links.map((link) => link.forecast.samples)).toEqual([50, 50])

    const zero = proberOf(['a'])
    for (let round = 0; round < 3; round++) {
      const [probe] = zero.tick(round * probeIntervalMs)
      zero.handleMessage('a', { ...probe!.message, type: 'probeAck' }, round * probeIntervalMs)
    }
    expect(zero.forecastStats()).toEqual({ samples: 0, mape: null })
  })

  it('reports a larger error when the round trip jumps about', () => {
    const prober = proberOf(['a'])
    const loop = loopOf(prober, (_, sentAtMs) => (Math.floor(sentAtMs / probeIntervalMs) % 2 === 0 ? 10 : 40))
    loop.runUntil(5000)
    expect(prober.forecastStats().mape!).toBeGreaterThan(0.3)
  })
})

describe('snapshot and determinism', () => {
  it('shows each link with its estimate and mode, and two runs are the same', () => {
    const run = (): unknown => {
      const prober = proberOf(['a', 'b'])
      const loop = loopOf(prober, (peer, sentAtMs) => (peer === 'a' ? 1 : sentAtMs < 2000 ? 1 : 80))
      loop.runUntil(4000)
      return { snapshot: prober.snapshot(), changes: loop.changes }
    }
    const first = run() as { snapshot: ReturnType<Prober['snapshot']> }
    expect(first.snapshot.links.map((link) => [link.peer, link.mode])).toEqual([
      ['a', 'datacenter'],
      ['b', 'internet'],
    ])
    expect(first.snapshot.links[1]!.estimate!.rttMsLast).toBe(80)
    expect(run()).toEqual(first)
  })
})

describe('probe messages', () => {
  it('round-trip through the codec and refuse what they do not define', () => {
    for (const message of [
      { type: 'probe', seq: 0, sentAtMs: 0 },
      { type: 'probeAck', seq: Number.MAX_SAFE_INTEGER, sentAtMs: 1_700_000_000_000 },
    ] as const) {
      const body = encodeProbeMessage(message)
      expect(decodeProbeMessage(body, probeMessageTypes[message.type])).toEqual({ ok: true, value: message })
    }
    expect(probeMessageTypes).toEqual({ probe: 0, probeAck: 1 })
    const body = encodeProbeMessage({ type: 'probe', seq: 3, sentAtMs: 9 })
    expect(decodeProbeMessage(body, 2)).toMatchObject({ ok: false, error: { code: 'unknownType' } })
    expect(decodeProbeMessage(body.subarray(0, 1), 0)).toMatchObject({ ok: false, error: { code: 'truncated' } })
    expect(decodeProbeMessage(new Uint8Array([...body, 0]), 0)).toMatchObject({ ok: false, error: { code: 'trailingBytes' } })
    expect(() => encodeProbeMessage({ type: 'probe', seq: 1.5, sentAtMs: 0 })).toThrow(/seq/)
    expect(describeProbeMessage({ type: 'probeAck', seq: 4, sentAtMs: 12 })).toBe('probeAck #4 sent@12ms')
  })
})
