/**
 * The UI in a real terminal: `dwcp tui --sim mixed --seed 1` in a detached
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
})
