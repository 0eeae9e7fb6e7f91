/**
 * Several clusters at once, k9s-style contexts: the cluster `dwcp up` runs,
 * the node URLs given on the command line, and named groups of URLs
 * (`--context NAME=URL,URL`). Each context has its own cluster model, and
 * every one stays attached, so the context view shows how each stands
 * (connected or not, how many nodes) and switching is instant. Publishes a
 * new snapshot only when the current context or a row changes: a busy
 * cluster in the background costs the screen nothing.
 */
import type { ClusterModel, ClusterSnapshot } from './clusterModel.ts'
import { Store, type Source } from './source.ts'

export const contextLimits = {
  /** Contexts one UI holds (each keeps its nodes' feeds open). */
  contextsMax: 16,
} as const

export interface ContextSpec {
  /** What `:ctx NAME` switches to. */
  readonly name: string
  /** The cluster's id when known (a `dwcp up` data dir's cluster.json); null: URLs given by hand. */
  readonly clusterId: string | null
  readonly urls: readonly string[]
}

export type ContextState = 'connected' | 'partly connected' | 'connecting' | 'disconnected'

export interface ContextRow {
  readonly name: string
  readonly clusterId: string | null
  /** The first node's URL, and how many there are. */
  readonly endpoint: string
  readonly endpoints: number
  readonly state: ContextState
  /** Sources whose feed is live, of all. */
  readonly live: number
  /** Nodes reported (a node not heard from yet counts by its address), and how many are up. */
  readonly nodes: number
  readonly up: number
  readonly current: boolean
}

export interface ContextsSnapshot {
  readonly current: string
  readonly model: ClusterModel
  readonly rows: readonly ContextRow[]
}

/** What the app needs of the contexts: how they stand, and to switch. */
export interface ContextSwitch extends Source<ContextsSnapshot> {
  switchTo(name: string): boolean
}

export function contextRow(spec: ContextSpec, snapshot: ClusterSnapshot, current: boolean): ContextRow {
  const live = snapshot.sources.filter((source) => source.connection.kind === 'live').length
  const tried = snapshot.sources.some((source) => source.connection.kind === 'disconnected' || source.connection.kind === 'closed')
  const state: ContextState = live === snapshot.sources.length && live > 0 ? 'connected' : live > 0 ? 'partly connected' : tried ? 'disconnected' : 'connecting'
  return {
    name: spec.name,
    clusterId: spec.clusterId,
    endpoint: spec.urls[0] ?? '-',
    endpoints: spec.urls.length,
    state,
    live,
    nodes: snapshot.nodes.length,
    up: snapshot.nodes.filter((node) => node.up).length,
    current,
  }
}

function sameRows(a: readonly ContextRow[], b: readonly ContextRow[]): boolean {
  if (a.length !== b.length) return false
  return a.every((row, index) => {
    const other = b[index]!
    return row.state === other.state && row.live === other.live && row.nodes === other.nodes && row.up === other.up && row.current === other.current
  })
}

export class ContextSet implements ContextSwitch {
  private readonly contexts: readonly { readonly spec: ContextSpec; readonly model: ClusterModel }[]
  private readonly store: Store<ContextsSnapshot>
  private readonly unsubscribes: (() => void)[]
  private currentIndex = 0

  constructor(contexts: readonly { readonly spec: ContextSpec; readonly model: ClusterModel }[]) {
    if (contexts.length === 0) throw new RangeError('no contexts: give node URLs, a data dir of dwcp up, or --context NAME=URL')
    if (contexts.length > contextLimits.contextsMax) throw new RangeError(`more than contextsMax=${contextLimits.contextsMax} contexts`)
    const names = new Set<string>()
    for (const { spec } of contexts) {
      if (names.has(spec.name)) throw new RangeError(`two contexts named ${spec.name}`)
      names.add(spec.name)
    }
    this.contexts = contexts
    this.store = new Store(this.build())
    this.unsubscribes = contexts.map(({ model }) => model.subscribe(() => this.changed()))
  }

  getSnapshot = (): ContextsSnapshot => this.store.getSnapshot()
  subscribe = (listener: () => void): (() => void) => this.store.subscribe(listener)

  get models(): readonly ClusterModel[] {
    return this.contexts.map(({ model }) => model)
  }

  /** Makes `name` the context on screen; false when there is none of that name. */
  switchTo(name: string): boolean {
    const index = this.contexts.findIndex(({ spec }) => spec.name === name)
    if (index === -1) return false
    if (index !== this.currentIndex) {
      this.currentIndex = index
      this.store.set(this.build())
    }
    return true
  }

  close(): void {
    for (const unsubscribe of this.unsubscribes) unsubscribe()
    for (const { model } of this.contexts) model.close()
  }

  private changed(): void {
    const next = this.build()
    if (!sameRows(next.rows, this.store.getSnapshot().rows)) this.store.set(next)
  }

  private build(): ContextsSnapshot {
    const current = this.contexts[this.currentIndex]!
    return {
      current: current.spec.name,
      model: current.model,
      rows: this.contexts.map(({ spec, model }, index) => contextRow(spec, model.getSnapshot(), index === this.currentIndex)),
    }
  }
}
