/** The contexts (clusters) and which one is on screen, re-rendering when one changes; null without contexts. */
import { useSyncExternalStore } from 'react'
import type { ContextsSnapshot, ContextSwitch } from '../data/contexts.ts'

const none = {
  subscribe: () => () => {},
  getSnapshot: (): null => null,
}

export function useContexts(contexts: ContextSwitch | null): ContextsSnapshot | null {
  const source = contexts ?? none
  return useSyncExternalStore(source.subscribe, source.getSnapshot, source.getSnapshot)
}
