/**
 * The cluster model over several sources: what it merges (nodes in order,
 * events by time), how often it publishes (a bounded number of frames however
 * busy the sources are), where the focus goes, and what it remembers (when a
 * member was last alive, how long divergence lasted).
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { ClusterModel } from '../../tui/data/clusterModel.ts'
import { noteEvent } from '../../tui/data/clusterEvent.ts'
import { historyLimits } from '../../tui/data/history.ts'
import type { SourceState } from '../../tui/data/sourceState.ts'
import { ManualTimers } from '../../tui/data/timers.ts'
import { recordCluster, type Recording } from './support/recordedCluster.ts'
import { entryOf, RecordedSource, recordedSources } from './support/recordedSource.ts'

let recording: Recording
beforeAll(() => {
  recording = recordCluster(1)
})

function stateWith(source: RecordedSource, change: Partial<SourceState>): SourceState {
  return { ...source.getSnapshot(), ...change }
}

describe('tui cluster model', () => {
  it('merges the sources: nodes in order, events by time', () => {
    const sources = recordedSources(recording)
    const model = new ClusterModel({ sources, publishIntervalMs: 0 })
    const snapshot = model.getSnapshot()
    expect(snapshot.nodes.map((node) => node.id)).toEqual(['n1', 'n2', 'n3', 'n4'])
    expect(snapshot.events).toHaveLength(sources.reduce((sum, source) => sum + source.getSnapshot().events.length, 0))
    expect(snapshot.events.every((event, index) => index === 0 || event.atMs >= snapshot.events[index - 1]!.atMs)).toBe(true)
    expect(snapshot.faultsAvailable).toBe(false)
    model.close()
    expect(sources.every((source) => source.closed)).toBe(true)
  })

  it('publishes at most once per interval however often the sources change', () => {
    const timers = new ManualTimers()
    const sources = recordedSources(recording)
    const model = new ClusterModel({ sources, timers, publishIntervalMs: 50 })
    const publications: number[] = []
    model.subscribe(() => publications.push(model.getSnapshot().version))
    timers.advance(100)
    for (let change = 0; change < 20; change++) {
      sources[0]!.set(stateWith(sources[0]!, { eventsTotal: 1_000 + change }))
      timers.advance(5)
    }
    timers.advance(100)
    // 100 ms of changes: the first at once, then one per 50 ms.
    expect(publications.length).toBeGreaterThanOrEqual(2)
    expect(publications.length).toBeLessThanOrEqual(3)
    expect(model.getSnapshot().sources[0]!.eventsTotal).toBe(1_019)
    model.close()
  })

  it('sends the focus to the source that holds the node', () => {
    const sources = recordedSources(recording)
    const model = new ClusterModel({ sources, publishIntervalMs: 0 })
    expect(model.getSnapshot().focus).toBe('n1')
    model.focus('n3')
    expect(sources.map((source) => source.focused[source.focused.length - 1])).toEqual([[], [], ['n3'], []])
    expect(model.getSnapshot().focus).toBe('n3')
    model.close()
  })

  it('remembers when each member was last reported alive', () => {
    const timers = new ManualTimers()
    const source = new RecordedSource({ label: 'test', connection: { kind: 'live', sinceMs: 0 }, nodes: recording.snapshots.map((snapshot) => entryOf(snapshot)), events: [], eventsTotal: 0, eventsDropped: 0, sim: null })
    const model = new ClusterModel({ sources: [source], timers, publishIntervalMs: 0 })
    const first = timers.wallMs()
    expect(model.getSnapshot().lastAlive.get('n2')).toBe(first)
    timers.advance(5_000)
    source.set(stateWith(source, { eventsTotal: 1 }))
    expect(model.getSnapshot().lastAlive.get('n2')).toBe(first + 5_000)
    timers.advance(5_000)
    // Only n2 is up: it reports the others alive, and itself, which does not count (a node cut off still sees itself).
    source.set(stateWith(source, { nodes: source.getSnapshot().nodes.map((node) => ({ ...node, up: node.id === 'n2' })) }))
    expect(model.getSnapshot().lastAlive.get('n2')).toBe(first + 5_000)
    expect(model.getSnapshot().lastAlive.get('n1')).toBe(first + 10_000)
    model.close()
  })

  it('samples divergence over time and measures how long it took to converge', () => {
    const timers = new ManualTimers()
    const [n1, n2, early] = recording.snapshots
    const source = new RecordedSource({
      label: 'test',
      connection: { kind: 'live', sinceMs: 0 },
      nodes: [entryOf(n1!), entryOf(n2!), entryOf(early!)],
      events: [noteEvent('n1', 0, 'tui', 'x', 'x')],
      eventsTotal: 1,
      eventsDropped: 0,
      sim: null,
    })
    const model = new ClusterModel({ sources: [source], timers, publishIntervalMs: 0 })
    const start = model.getSnapshot().history
    expect(start.samples).toHaveLength(1)
    expect(start.samples[0]!.divergentKeys).toBeGreaterThan(0)
    expect(start.divergentSinceMs).toBe(timers.wallMs())
    timers.advance(historyLimits.sampleIntervalMs * 2.5)
    // n3 caught up: its store is n1's.
    source.set(stateWith(source, { nodes: [entryOf(n1!), entryOf(n2!), { ...entryOf(n1!), id: 'n3' }] }))
    const after = model.getSnapshot().history
    expect(after.samples.map((sample) => sample.divergentKeys > 0)).toEqual([true, false])
    expect(after.convergeMs).toEqual([historyLimits.sampleIntervalMs * 2.5])
    expect(after.divergentSinceMs).toBeNull()
    model.close()
  })
})
