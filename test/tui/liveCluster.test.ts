/**
 * End to end on real nodes (NodeRuntime: SQLite data dirs, peer links over
 * WebSocket, the dev fault switch; the API on one port each, as `dwcp node
 * --dev` runs them): the UI attached to all three kills a node with the
 * hotkey and shows it go suspect, then dead, then back after the restart
 * hotkey; then partitions it (P: cut off both ways), shows it dead to the
 * others and them gone to it, heals (H) and shows everyone alive again. Gossip runs with its LAN timings so that detection takes seconds.
 * Waits poll and give up after waitMsMax.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cleanup } from 'ink-testing-library'
import { afterEach, describe, expect, it } from 'vitest'
import { defaultGossipConfig } from '../../core/gossip/config.ts'
import type { HttpServer } from '../../node/httpServer.ts'
import { ClusterModel } from '../../tui/data/clusterModel.ts'
import { LiveFaults } from '../../tui/data/live/liveFaults.ts'
import { LiveNodeSource } from '../../tui/data/live/liveNodeSource.ts'
import { membersOf } from '../../tui/data/nodeSnapshot.ts'
import { waitFor } from '../support/loopback.ts'
import { startServedCluster } from '../support/servedCluster.ts'
import { press, renderApp } from './support/ink.ts'

const waitMsMax = 90_000
const stops: (() => Promise<void> | void)[] = []
afterEach(async () => {
  cleanup()
  for (const stop of stops.splice(0).reverse()) await stop()
})

async function startCluster(root: string, ids: readonly string[]): Promise<HttpServer[]> {
  const nodes = await startServedCluster({ root, ids, clusterId: 'tui-e2e', tokens: { write: 'w', read: null }, replicaConfig: { gossip: defaultGossipConfig }, stops })
  return nodes.map((node) => node.server)
}

describe('tui on a live --dev cluster', () => {
  it('kills a node with the hotkey and shows it suspect, dead, and back after the restart hotkey; partitions it and shows it cut off, then heals', { timeout: 420_000 }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'dwcp-tui-e2e-'))
    stops.push(() => rmSync(root, { recursive: true, force: true }))
    const servers = await startCluster(root, ['n1', 'n2', 'n3'])
    const sources = servers.map((server) => new LiveNodeSource({ url: server.url, token: 'w' }))
    const model = new ClusterModel({ sources, faults: new LiveFaults(sources) })
    stops.push(() => model.close())
    const stateOfN3 = () => membersOf(model.getSnapshot().nodes.find((node) => node.id === 'n1')?.snapshot ?? null)?.find((member) => member.id === 'n3')?.state
    await waitFor('three live nodes that see each other alive', () => model.getSnapshot().nodes.every((node) => node.up && node.id.startsWith('n')) && stateOfN3() === 'alive', waitMsMax)

    const view = renderApp(model, { screen: 'members' })
    // Members of n1: n1, n2, n3 by id; the third row is n3.
    await press(view.stdin, 'j', 'j', 'K')
    await waitFor('n3 paused', () => (view.lastFrame() ?? '').includes('paused n3'), waitMsMax)
    const seen: string[] = []
    await waitFor(
      'n3 suspect, then dead, as n1 sees it',
      () => {
        const state = stateOfN3()
        if (state !== undefined && seen[seen.length - 1] !== state) seen.push(state)
        return state === 'dead'
      },
      waitMsMax,
    )
    expect(seen).toContain('suspect')
    await waitFor('the Members view showing n3 dead', () => /^n3\s+dead/m.test(view.lastFrame() ?? ''), waitMsMax)

    await press(view.stdin, 'R')
    await waitFor('n3 alive again', () => stateOfN3() === 'alive', waitMsMax)
    await waitFor('the Members view showing n3 alive', () => /^n3\s+alive/m.test(view.lastFrame() ?? ''), waitMsMax)

    // The same node partitioned with P: cut off both ways, so n1 sees it go and it sees n1 go; H heals.
    const n3Sees = (id: string) => membersOf(model.getSnapshot().nodes.find((node) => node.id === 'n3')?.snapshot ?? null)?.find((member) => member.id === id)?.state
    await press(view.stdin, 'P')
    await waitFor('n3 partitioned', () => (view.lastFrame() ?? '').includes('partitioned n3 from n1, n2'), waitMsMax)
    const cutOff: string[] = []
    await waitFor(
      'n3 suspect, then dead, as n1 sees it, and n1 gone as n3 sees it',
      () => {
        const state = stateOfN3()
        if (state !== undefined && cutOff[cutOff.length - 1] !== state) cutOff.push(state)
        return state === 'dead' && n3Sees('n1') !== 'alive'
      },
      waitMsMax,
    )
    expect(cutOff).toContain('suspect')
    await waitFor('the Members view showing n3 dead again', () => /^n3\s+dead/m.test(view.lastFrame() ?? ''), waitMsMax)
    await press(view.stdin, '1')
    await waitFor('the Overview showing n1 degraded', () => /^n1\s+\S+\s+degraded/m.test(view.lastFrame() ?? ''), waitMsMax)

    await press(view.stdin, 'H')
    await waitFor('the heal done', () => (view.lastFrame() ?? '').includes('healed 3 nodes'), waitMsMax)
    await waitFor('n3 and n1 alive to each other again', () => stateOfN3() === 'alive' && n3Sees('n1') === 'alive', waitMsMax)
    await waitFor('the Overview showing every node ok', () => ['n1', 'n2', 'n3'].every((id) => new RegExp(`^${id}\\s+\\S+\\s+ok`, 'm').test(view.lastFrame() ?? '')), waitMsMax)
    await press(view.stdin, '2')
    await waitFor('the Members view showing n3 alive after the heal', () => /^n3\s+alive/m.test(view.lastFrame() ?? ''), waitMsMax)
  })
})
