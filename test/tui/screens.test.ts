/**
 * Every view against snapshots recorded from real replicas (four hosted
 * nodes with a PBFT group, n3 recorded before the last writes reached it),
 * through the whole app in ink-testing-library's 100-column terminal.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Text } from 'ink'
import { cleanup, render } from 'ink-testing-library'
import { createElement as h } from 'react'
import { noColorFromEnv, ThemeContext, useTone } from '../../tui/components/theme.ts'
import { ClusterModel } from '../../tui/data/clusterModel.ts'
import type { FaultRequest } from '../../tui/data/clusterSource.ts'
import { recordCluster, type Recording } from './support/recordedCluster.ts'
import { recordedSources } from './support/recordedSource.ts'
import { keys, press, renderApp, settle } from './support/ink.ts'

let recording: Recording

beforeAll(() => {
  recording = recordCluster(1)
})

afterEach(() => cleanup())

function model(up: readonly boolean[] = [true, true, true, true]) {
  const faults: FaultRequest[] = []
  const sources = recordedSources(recording, up)
  const cluster = new ClusterModel({ sources, faults: { inject: (fault) => (faults.push(fault), Promise.resolve(`did ${fault.kind}`)) }, publishIntervalMs: 0 })
  return { cluster, sources, faults }
}

const leaderId = () => recording.snapshots.find((snapshot) => snapshot.raft?.role === 'leader')!.node.id

describe('tui screens on recorded snapshots', () => {
  it('Overview shows every node with its role, term, leader and members', async () => {
    const { cluster } = model()
    const { lastFrame } = renderApp(cluster)
    await settle()
    const frame = lastFrame()!
    expect(frame).toContain('Overview')
    expect(frame).toContain(`4 nodes, 4 up · leader ${leaderId()} term`)
    for (const snapshot of recording.snapshots) expect(frame).toMatch(new RegExp(`${snapshot.node.id}\\s+${snapshot.node.region}\\s+ok\\s+${snapshot.raft!.role}`))
    expect(frame).toContain('4/0/0')
    expect(frame).toContain('live 4/4')
  })

  it('shows a lost node as lost, with the reason and the next retry', async () => {
    const { cluster } = model([true, true, false, true])
    const { lastFrame } = renderApp(cluster)
    await settle()
    expect(lastFrame()).toMatch(/live 3\/4 · n3 disconnected: connection refused; retry in \d\.\ds/)
    expect(lastFrame()).toMatch(/n3\s+ap\s+down/)
  })

  it("Members lists the focused node's view with its link measurements, sorts and filters", async () => {
    const { cluster } = model()
    const { lastFrame, stdin } = renderApp(cluster, { screen: 'members' })
    await settle()
    expect(lastFrame()).toContain('as seen by n1 · 4 members, 0 suspect, 0 dead · sort id')
    expect(lastFrame()).toMatch(/n2\s+alive\s+\d+\s+us\s+\S+\s+\d/)
    await press(stdin, 's')
    expect(lastFrame()).toContain('sort state')
    await press(stdin, '/', 'a', 'p', keys.enter)
    expect(lastFrame()).toContain('/ap')
    expect(lastFrame()).toMatch(/n3\s+alive/)
    expect(lastFrame()).not.toMatch(/n2\s+alive/)
    await press(stdin, keys.escape)
    expect(lastFrame()).toMatch(/n2\s+alive/)
  })

  it('State lists namespaces with policies and keys with per-node digests, marking divergence', async () => {
    const { cluster } = model()
    const { lastFrame } = renderApp(cluster, { screen: 'state' })
    await settle()
    const frame = lastFrame()!
    expect(frame).toMatch(/cfg\s+strong\s+register/)
    expect(frame).toMatch(/cnt\s+eventual\s+counter/)
    // n3 was recorded before cnt/errors reached it: absent there, so divergent.
    expect(frame).toMatch(/cnt\/errors\s+counter\s+divergent\s+\S+\s+\S+\s+·/)
    expect(frame).toMatch(/edge\/color\s+register\s+same/)
  })

  it('State: Enter shows a key on every node, Esc goes back', async () => {
    const { cluster, sources } = model()
    const { lastFrame, stdin } = renderApp(cluster, { screen: 'state' })
    await settle()
    await press(stdin, '/', 'e', 'd', 'g', 'e', keys.enter, keys.enter)
    await settle()
    expect(lastFrame()).toContain('State › edge/color')
    expect(lastFrame()).toContain('"edge/color@n1"')
    expect(
      sources
        .flatMap((source) => source.keyReads)
        .map((read) => read.node)
        .sort(),
    ).toEqual(['n1', 'n2', 'n3', 'n4'])
    await press(stdin, keys.escape)
    expect(lastFrame()).not.toContain('State ›')
  })

  it('Convergence names the freshest store and how far each replica is from it', async () => {
    const { cluster } = model()
    const { lastFrame } = renderApp(cluster, { screen: 'convergence' })
    await settle()
    expect(lastFrame()).toMatch(/n1\s+\d+\s+freshest/)
    expect(lastFrame()).toMatch(/n3\s+\d+\s+[1-9]/)
    expect(lastFrame()).toContain('divergent keys')
    expect(lastFrame()).toContain('time to converge')
  })

  it("Consensus shows Raft per node with the leader's followers, and PBFT per replica", async () => {
    const { cluster } = model()
    const { lastFrame } = renderApp(cluster, { screen: 'consensus' })
    await settle()
    const leader = leaderId()
    expect(lastFrame()).toMatch(new RegExp(`${leader}\\s+leader\\s+\\d+\\s+${leader}`))
    const pbft = recording.snapshots[0]!.pbft!
    expect(pbft.executed).toBeGreaterThan(0)
    expect(lastFrame()).toMatch(new RegExp(`n1\\s+${pbft.view}\\s+${pbft.primary}\\s+normal\\s+${pbft.sequence}\\s+${pbft.executed}\\s+\\d+/\\d+/\\d+/\\d+\\s+${pbft.stableCheckpoint.seq} \\(`))
  })

  it("Events merges the nodes' events, filters, pauses and shows one whole", async () => {
    const { cluster } = model()
    const { lastFrame, stdin } = renderApp(cluster, { screen: 'events' })
    await settle()
    expect(lastFrame()).toContain('following')
    const total = recording.feeds.flat().filter((item) => item.kind === 'event').length
    expect(lastFrame()).toContain(`${total} events`)
    await press(stdin, '/', 'r', 'o', 'l', 'e', keys.enter)
    expect(lastFrame()).toMatch(/raft\s+role\s+leader term/)
    await press(stdin, keys.escape, '/', 'c', 'n', 't', '/', 'v', keys.enter)
    expect(lastFrame()).toMatch(/crdt\s+keyChanged\s+cnt\/visits/)
    expect(lastFrame()).not.toContain('raft ')
    await press(stdin, 'p')
    expect(lastFrame()).toContain('paused')
    await press(stdin, keys.enter)
    expect(lastFrame()).toContain('Events › event')
    expect(lastFrame()).toContain('"source": "crdt"')
  })
})

describe('tui key bindings', () => {
  it(': switches views by name or prefix; 1-6 and Tab too; unknown commands say so', async () => {
    const { cluster } = model()
    const { lastFrame, stdin } = renderApp(cluster)
    await settle()
    await press(stdin, ':', 'm', 'e', 'm', keys.enter)
    expect(lastFrame()).toContain('dwcp tui · 4 nodes · Members')
    await press(stdin, ':', 'c', 'o', 'n', 's', keys.enter)
    expect(lastFrame()).toContain('· Consensus')
    await press(stdin, '3')
    expect(lastFrame()).toContain('· State')
    await press(stdin, '\t')
    expect(lastFrame()).toContain('· Convergence')
    await press(stdin, ':', 'n', 'o', 'p', 'e', keys.enter)
    expect(lastFrame()).toContain('unknown command :nope')
    // Typed fast (one chunk, as tmux sends it): still a command.
    await press(stdin, ':events\r')
    expect(lastFrame()).toContain('· Events')
  })

  it('? shows help; any key closes it', async () => {
    const { cluster } = model()
    const { lastFrame, stdin } = renderApp(cluster)
    await settle()
    await press(stdin, '?')
    expect(lastFrame()).toContain('partition the selected node from the rest')
    await press(stdin, 'x')
    expect(lastFrame()).not.toContain('partition the selected node')
  })

  it('arrows and j/k move the selection; Enter opens the node, f looks from it', async () => {
    const { cluster } = model()
    const { lastFrame, stdin } = renderApp(cluster)
    await settle()
    await press(stdin, 'j', keys.down, 'k', keys.enter)
    expect(lastFrame()).toContain('Overview › n2')
    expect(lastFrame()).toMatch(/n2 · region us · up/)
    expect(lastFrame()).toMatch(/PEER\s+MODE/)
    await press(stdin, keys.escape, keys.up, 'f')
    expect(lastFrame()).toContain('looking from n1')
    await press(stdin, 'j', 'f', '2')
    expect(lastFrame()).toContain('as seen by n2')
  })

  it('fault hotkeys act on the selected node; --readonly turns them off', async () => {
    const { cluster, faults } = model()
    const { lastFrame, stdin } = renderApp(cluster)
    await settle()
    await press(stdin, 'j', 'P', 'K', 'R', 'L', 'H')
    expect(faults).toEqual([{ kind: 'partition', node: 'n2' }, { kind: 'kill', node: 'n2' }, { kind: 'restart', node: 'n2' }, { kind: 'latency', node: 'n2', rttMs: 200 }, { kind: 'heal' }])
    expect(lastFrame()).toContain('did heal')
    cleanup()
    const readonly = model()
    const view = renderApp(readonly.cluster, { readonly: true })
    await settle()
    await press(view.stdin, 'K')
    expect(readonly.faults).toEqual([])
    expect(view.lastFrame()).toContain('readonly: faults are off')
  })

  it('q quits', async () => {
    const { cluster } = model()
    let quit = 0
    const { stdin } = renderApp(cluster, { onQuit: () => quit++ })
    await settle()
    await press(stdin, 'q')
    expect(quit).toBe(1)
  })

  it('narrow terminals keep the most important columns', async () => {
    const { cluster } = model()
    const { lastFrame } = renderApp(cluster, { columns: 40 })
    await settle()
    const lines = lastFrame()!.split('\n')
    expect(lines.every((line) => line.length <= 40)).toBe(true)
    expect(lastFrame()).toMatch(/NODE\s+HEALTH\s+ROLE/)
    expect(lastFrame()).not.toContain('REGION')
  })

  it('colors only when asked: the theme gives no color with NO_COLOR', async () => {
    expect(noColorFromEnv({ NO_COLOR: '1' })).toBe(true)
    expect(noColorFromEnv({ NO_COLOR: '' })).toBe(false)
    expect(noColorFromEnv({})).toBe(false)
    const Probe = () => {
      const tone = useTone()
      return h(Text, null, `bad=${String(tone('bad'))}`)
    }
    for (const color of [true, false]) {
      const view = render(h(ThemeContext.Provider, { value: { color } }, h(Probe)))
      expect(view.lastFrame()).toBe(color ? 'bad=red' : 'bad=undefined')
    }
  })
})
