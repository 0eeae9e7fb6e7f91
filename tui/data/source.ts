/**
 * The contract between the data layer and the screens: React's
 * useSyncExternalStore. `getSnapshot` returns the same object until something
 * changed (screens compare by identity); `subscribe` registers a listener
 * called after each change and returns its removal. Plain TypeScript: no
 * React here, so the data layer is tested and benchmarked on its own.
 */
export interface Source<T> {
  getSnapshot(): T
  subscribe(listener: () => void): () => void
}

/** A Source holding one immutable value: `set` replaces it and tells the listeners. */
export class Store<T> implements Source<T> {
  private value: T
  private readonly listeners = new Set<() => void>()

  constructor(initial: T) {
    this.value = initial
  }

  getSnapshot = (): T => this.value

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  set(value: T): void {
    if (Object.is(value, this.value)) return
    this.value = value
    for (const listener of [...this.listeners]) listener()
  }

  get listenerCount(): number {
    return this.listeners.size
  }
}
