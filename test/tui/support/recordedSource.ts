/** A source that holds what a test gives it (recorded snapshots), and records what the model asks of it. */
import { clusterEvent } from '../../../tui/data/clusterEvent.ts'
import type { ClusterSource, KeyReading } from '../../../tui/data/clusterSource.ts'
import { Store } from '../../../tui/data/source.ts'
import type { NodeEntry, SourceState } from '../../../tui/data/sourceState.ts'
import type { HostSnapshot } from '../../../host/replicaHost.ts'
import type { Recording } from './recordedCluster.ts'

export class RecordedSource implements ClusterSource {
  private readonly store: Store<SourceState>
  readonly focused: string[][] = []
  readonly keyReads: { node: string; key: string }[] = []
  closed = false

  constructor(state: SourceState) {
    this.store = new Store(state)
  }

  getSnapshot = () => this.store.getSnapshot()
  subscribe = (listener: () => void) => this.store.subscribe(listener)

  set(state: SourceState): void {
    this.store.set(state)
  }

  focus(nodeIds: readonly string[]): void {
    this.focused.push([...nodeIds])
  }

  hasNode(nodeId: string): boolean {
    return this.getSnapshot().nodes.some((node) => node.id === nodeId)
  }

  readKey(nodeId: string, key: string): Promise<KeyReading> {
    this.keyReads.push({ node: nodeId, key })
    return Promise.resolve({ ok: true, value: `${key}@${nodeId}` })
  }

  close(): void {
    this.closed = true
  }
}

export function entryOf(snapshot: HostSnapshot, up = true): NodeEntry {
  return { id: snapshot.node.id, region: snapshot.node.region, up, snapshot: { kind: 'replica', replica: snapshot }, snapshotAtMs: 1_000, url: `http://127.0.0.1:${7700 + Number(snapshot.node.id.slice(1))}` }
}

/** One source per recorded node, as `dwcp tui URL…` has: each with its node's events. */
export function recordedSources(recording: Recording, up: readonly boolean[] = recording.snapshots.map(() => true)): RecordedSource[] {
  return recording.snapshots.map((snapshot, index) => {
    const events = recording.feeds[index]!.flatMap((item) => (item.kind === 'event' ? [clusterEvent(snapshot.node.id, item.seq, 1_000 + item.seq, item.event)] : []))
    return new RecordedSource({
      label: entryOf(snapshot).url!,
      connection: up[index] ? { kind: 'live', sinceMs: 0 } : { kind: 'disconnected', attempt: 2, retryAtMs: Date.now() + 3_000, reason: 'connection refused' },
      nodes: [entryOf(snapshot, up[index])],
      events,
      eventsTotal: events.length,
      eventsDropped: 0,
      sim: null,
    })
  })
}
