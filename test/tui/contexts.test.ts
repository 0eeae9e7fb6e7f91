/**
 * Several clusters at once (k9s contexts): the context view lists each one
 * with its cluster id, endpoint, connection and nodes, follows them as they
 * change in the background, and Enter or `:ctx NAME` switches the screens
 * to another; against recorded snapshots, through the whole app.
 */
import { cleanup } from 'ink-testing-library'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ClusterModel } from '../../tui/data/clusterModel.ts'
import { ContextSet } from '../../tui/data/contexts.ts'
import { recordCluster, type Recording } from './support/recordedCluster.ts'
import { entryOf, recordedSources } from './support/recordedSource.ts'
import { keys, press, renderApp, settle } from './support/ink.ts'

let recording: Recording

beforeAll(() => {
  recording = recordCluster(1)
})

afterEach(() => cleanup())

const urls = (base: number) => [1, 2, 3, 4].map((index) => `http://127.0.0.1:${base + index}`)

function clusters() {
  const upSources = recordedSources(recording)
  const prodSources = recordedSources(recording, [false, false, false, false])
  const up = new ClusterModel({ sources: upSources, publishIntervalMs: 0 })
  const prod = new ClusterModel({ sources: prodSources, publishIntervalMs: 0 })
  const contexts = new ContextSet([
    { spec: { name: 'up', clusterId: 'local-1a2b3c4d', urls: urls(7700) }, model: up },
    { spec: { name: 'prod', clusterId: null, urls: urls(9700) }, model: prod },
  ])
  return { contexts, up, prod, prodSources }
}

describe('tui contexts', () => {
  it('lists every cluster with its id, endpoint, connection and nodes; Enter and :ctx NAME switch', async () => {
    const { contexts, up, prodSources } = clusters()
    const { lastFrame, stdin } = renderApp(up, { contexts })
    await settle()
    expect(lastFrame()).toContain('dwcp tui · ctx up · 4 nodes · Overview')

    await press(stdin, ':', 'c', 't', 'x', keys.enter)
    const view = lastFrame()!
    expect(view).toContain('· Contexts')
    expect(view).toContain('2 contexts · Enter or :ctx NAME switches')
    expect(view).toMatch(/^\*\s+up\s+local-1a2b3c4d\s+connected\s+4\/4\s+4\s+4\s+http:\/\/127\.0\.0\.1:7701 \+3/m)
    expect(view).toMatch(/^\s+prod\s+-\s+disconnected\s+0\/4\s+4\s+0\s+http:\/\/127\.0\.0\.1:9701 \+3/m)

    // A cluster in the background comes back: its row follows.
    const source = prodSources[0]!
    source.set({ ...source.getSnapshot(), connection: { kind: 'live', sinceMs: 0 }, nodes: [entryOf(recording.snapshots[0]!, true)] })
    await settle()
    expect(lastFrame()).toMatch(/^\s+prod\s+-\s+partly connected\s+1\/4\s+4\s+1\s/m)

    await press(stdin, 'j', keys.enter)
    expect(lastFrame()).toContain('dwcp tui · ctx prod · 4 nodes · Overview')
    expect(lastFrame()).toContain('context prod')
    expect(lastFrame()).toMatch(/^n2\s+\S+\s+down/m)
    expect(contexts.getSnapshot().current).toBe('prod')

    await press(stdin, ':', 'c', 't', 'x', ' ', 'u', 'p', keys.enter)
    expect(lastFrame()).toContain('dwcp tui · ctx up · 4 nodes · Overview')
    expect(lastFrame()).toMatch(/^n2\s+\S+\s+(ok|degraded)/m)

    await press(stdin, ':', 'c', 't', 'x', ' ', 'x', keys.enter)
    expect(lastFrame()).toContain('no context x: up, prod')
    await press(stdin, '7')
    expect(lastFrame()).toMatch(/^\*\s+up\s/m)
    contexts.close()
  })

  it('one cluster: the view shows it and says how to have more; refuses two contexts of one name', async () => {
    const { up } = clusters()
    const { lastFrame, stdin } = renderApp(up, { screen: 'contexts' })
    await settle()
    expect(lastFrame()).toContain('one cluster here: start with several URLs, --context NAME=URL,… or a running dwcp up for more')
    expect(lastFrame()).toMatch(/^\*\s+cluster\s+-\s+connected\s+4\/4\s+4\s+4\s+http:\/\/127\.0\.0\.1:7701 \+3/m)
    await press(stdin, keys.enter)
    expect(lastFrame()).toContain('one cluster here')
    const model = new ClusterModel({ sources: [], publishIntervalMs: 0 })
    expect(
      () =>
        new ContextSet([
          { spec: { name: 'a', clusterId: null, urls: [] }, model },
          { spec: { name: 'a', clusterId: null, urls: [] }, model },
        ]),
    ).toThrow('two contexts named a')
    up.close()
  })
})
