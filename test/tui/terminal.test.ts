/**
 * The UI in a real terminal: `dwcp tui --sim mixed --seed 1` (and
 * `--sim raft --seed 3`, stepped forward and back) in a detached
 * tmux session of fixed size (on a tmux server of its own, so nothing else
 * is touched), keys sent with send-keys, the screen read with capture-pane.
 * Every wait polls the pane and gives up after waitMsMax; the server is
 * killed whatever happens.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

const tmux = '/usr/bin/tmux'
const bin = join(import.meta.dirname, '../../bin/dwcp.js')
const socket = `dwcp-tui-test-${process.pid}`
const session = 'tui'
const waitMsMax = 60_000

function tmuxRun(...args: string[]): string {
  return execFileSync(tmux, ['-L', socket, ...args], { encoding: 'utf8', timeout: 10_000 })
}

function pane(): string {
  return tmuxRun('capture-pane', '-p', '-t', session)
}

async function waitForPane(what: string, predicate: (screen: string) => boolean): Promise<string> {
  const deadline = Date.now() + waitMsMax
  for (;;) {
    const screen = pane()
    if (predicate(screen)) return screen
    if (Date.now() > deadline) throw new Error(`waited ${waitMsMax} ms for ${what}; the pane shows:\n${screen}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

afterAll(() => {
  try {
    tmuxRun('kill-server')
  } catch {
    // Already gone.
  }
})

describe.skipIf(!existsSync(tmux))('dwcp tui in a real terminal (tmux)', () => {
  it('shows members and a leader, switches views, and quits on q', { timeout: 180_000 }, async () => {
    // The shell prints how the UI ended, then waits so the pane can still be read.
    const command = `env -u CI -u NO_COLOR TERM=xterm-256color '${process.execPath}' '${bin}' tui --sim mixed --seed 1; echo "tui exited $?"; sleep 120`
    tmuxRun('new-session', '-d', '-s', session, '-x', '120', '-y', '36', command)
    const overview = await waitForPane('a leader', (screen) => /6 nodes, \d up · leader n\d term \d/.test(screen))
    expect(overview).toContain('dwcp tui · sim mixed seed 1 · Overview')
    expect(overview).toMatch(/▶ \d+\.\ds\/22\.0s/)

    tmuxRun('send-keys', '-t', session, '2')
    const members = await waitForPane('the members', (screen) => screen.includes('as seen by n1 · 6 members'))
    for (const id of ['n1', 'n2', 'n3', 'n4', 'n5', 'n6']) expect(members).toMatch(new RegExp(`^${id}\\s+(alive|suspect|dead)`, 'm'))

    tmuxRun('send-keys', '-t', session, ':', 'c', 'o', 'n', 's', 'Enter')
    const consensus = await waitForPane('the consensus view', (screen) => screen.includes('· Consensus'))
    expect(consensus).toMatch(/n\d\s+leader\s+\d+/)

    tmuxRun('send-keys', '-t', session, 'q')
    const ended = await waitForPane('the UI to exit', (screen) => screen.includes('tui exited'))
    expect(ended).toContain('tui exited 0')
    // The alternate screen is gone: the shell's screen is back.
    expect(ended).not.toContain('· Consensus')
  })

  it('replays --sim raft --seed 3: shows the leader and term, steps forward and back', { timeout: 180_000 }, async () => {
    const raft = 'raft'
    const command = `env -u CI -u NO_COLOR TERM=xterm-256color '${process.execPath}' '${bin}' tui --sim raft --seed 3; echo "tui exited $?"; sleep 120`
    tmuxRun('new-session', '-d', '-s', raft, '-x', '120', '-y', '36', command)
    const paneOf = () => tmuxRun('capture-pane', '-p', '-t', raft)
    const waitRaft = async (what: string, predicate: (screen: string) => boolean) => {
      const deadline = Date.now() + waitMsMax
      for (;;) {
        const screen = paneOf()
        if (predicate(screen)) return screen
        if (Date.now() > deadline) throw new Error(`waited ${waitMsMax} ms for ${what}; the pane shows:\n${screen}`)
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    }
    const timeOf = (screen: string) => Number(/(?:▶|paused) (\d+\.\d)s\/12\.0s/.exec(screen)?.[1] ?? NaN)
    const overview = await waitRaft('a leader and its term', (screen) => /5 nodes, 5 up · leader n\d term \d+/.test(screen))
    expect(overview).toContain('dwcp tui · sim raft seed 3 · Overview')
    expect(overview).toMatch(/^n\d\s+eu\s+ok\s+leader\s+\d+\s+n\d/m)

    tmuxRun('send-keys', '-t', raft, 'Space')
    const paused = await waitRaft('the run paused', (screen) => screen.includes('❚❚ paused'))
    const pausedAt = timeOf(paused)
    tmuxRun('send-keys', '-t', raft, '.', '.', '.')
    // A step goes to the next event (a commit, most often: well under the tenth of a second the clock shows).
    const stepped = await waitRaft('three steps forward', (screen) => screen !== paused)
    expect(stepped).toContain('❚❚ paused')
    expect(timeOf(stepped)).toBeGreaterThanOrEqual(pausedAt)

    tmuxRun('send-keys', '-t', raft, ':', 'g', 'o', 't', 'o', ' ', '6', 'Enter')
    const later = await waitRaft('virtual second 6', (screen) => timeOf(screen) === 6)
    const leader = /leader (n\d) term (\d+)/.exec(later)
    expect(leader, later).not.toBeNull()
    tmuxRun('send-keys', '-t', raft, '[')
    const back = await waitRaft('5 s back, replayed from the seed', (screen) => timeOf(screen) === 1)
    expect(back).toMatch(/5 nodes, \d up · (leader n\d term \d+|no leader)/)
    tmuxRun('send-keys', '-t', raft, ']')
    const again = await waitRaft('6 s again: the same leader and term', (screen) => timeOf(screen) === 6)
    expect(again).toContain(`leader ${leader![1]} term ${leader![2]}`)

    tmuxRun('send-keys', '-t', raft, '5')
    const consensus = await waitRaft('the consensus view', (screen) => screen.includes('· Consensus'))
    expect(consensus).toMatch(new RegExp(`^${leader![1]}\\s+leader\\s+${leader![2]}\\s`, 'm'))
    tmuxRun('send-keys', '-t', raft, 'q')
    expect(await waitRaft('the UI to exit', (screen) => screen.includes('tui exited'))).toContain('tui exited 0')
  })
})
