/**
 * A Jepsen-style run against real `dwcp node` processes: concurrent clients
 * put and get a few strong keys at random nodes while a nemesis kills nodes
 * with kill -9 (restarting them from their data dirs) and partitions them
 * through the dev fault switch. Every client operation is a line of a Jepsen
 * history (test/support/registerClients.ts); after the faults heal, a final
 * read of each key ends the history, which is then checked for
 * linearizability twice: in process (checkLinearizable over registerOpsOf)
 * and by `dwcp check FILE`. On a failure the history is kept and its path
 * printed with the seed (DWCP_E2E_SEED=… replays the same choices).
 */
import { execFile } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { readHistoryLines, registerOpsOf } from '../../sim/checkers/jepsenHistory.ts'
import { checkLinearizable } from '../../sim/checkers/linearizability.ts'
import { HistoryRecorder } from '../support/historyRecorder.ts'
import { healCluster, runNemesis, type NemesisStep } from '../support/nemesis.ts'
import { ProcessCluster } from '../support/processCluster.ts'
import { finalRegisterReads, runRegisterClients, type RegisterClientsTally } from '../support/registerClients.ts'

const settings = {
  clients: 6,
  keys: Array.from({ length: 8 }, (_, index) => `cfg/r${index}`),
  /** The nemesis starts faults for this long (and each kind at least once); the clients work until it is done, then the faults heal. */
  durationMs: 25_000,
  clientsMsMax: 90_000,
  /** Pause between a client's operations: keeps each key's history within what the checker searches (opsPerKeyMax). */
  thinkMsMax: 60,
  opsPerClientMax: 500,
  /** The final reads, after healing. */
  finalReadsMs: 30_000,
  /** `dwcp check`. */
  checkCommandMs: 60_000,
} as const

const seed = process.env.DWCP_E2E_SEED === undefined ? randomInt(2 ** 31) : Number(process.env.DWCP_E2E_SEED)
const historyDir = mkdtempSync(join(tmpdir(), 'dwcp-history-'))
let cluster: ProcessCluster | null = null
let passed = false

afterAll(async () => {
  await cluster?.close({ keep: !passed })
  if (passed) rmSync(historyDir, { recursive: true, force: true })
})

function dwcpCheck(file: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = join(import.meta.dirname, '../../bin/dwcp.js')
  return new Promise((resolve) => {
    execFile(process.execPath, ['--disable-warning=ExperimentalWarning', bin, 'check', file, '--json'], { timeout: settings.checkCommandMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr })
    })
  })
}

describe('strong keys under kill -9 and partitions, with real processes', () => {
  it('concurrent clients produce a linearizable history', { timeout: 240_000 }, async () => {
    const historyPath = join(historyDir, 'history.jsonl')
    const context = () => `seed ${seed} (DWCP_E2E_SEED=${seed} replays it); history ${historyPath}`
    cluster = await ProcessCluster.start({ nodes: 3, dev: true })
    const c = cluster
    const history = new HistoryRecorder(historyPath)
    const nemesisLog: string[] = []
    let steps: NemesisStep[] = []
    let tally: RegisterClientsTally | null = null
    try {
      // The clients work for as long as the nemesis does (bounded by clientsMsMax).
      const nemesisDone = new AbortController()
      const clients = runRegisterClients({
        targets: c.ids.map((id) => c.url(id)),
        token: c.token,
        keys: settings.keys,
        clients: settings.clients,
        durationMs: settings.clientsMsMax,
        signal: nemesisDone.signal,
        seed,
        history,
        thinkMsMax: settings.thinkMsMax,
        opsPerClientMax: settings.opsPerClientMax,
      })
      try {
        steps = await runNemesis({ cluster: c, seed: seed + 1, durationMs: settings.durationMs, faults: ['partition', 'kill'], log: (line) => nemesisLog.push(line) })
      } finally {
        nemesisDone.abort()
        tally = await clients
      }
      await healCluster(c)
      await finalRegisterReads({ targets: c.ids.map((id) => c.url(id)), token: c.token, keys: settings.keys, history, process: 1_000_000, deadlineMs: settings.finalReadsMs })
    } catch (error) {
      throw new Error(`${context()}\n${nemesisLog.join('\n')}\n${(error as Error).message}`, { cause: error })
    } finally {
      history.close()
    }
    const summary = `${context()}\nclients: ${JSON.stringify(tally)}\n${nemesisLog.join('\n')}`

    // The run did real work under both kinds of fault.
    expect(steps.filter((step) => step.action === 'kill').length, summary).toBeGreaterThan(0)
    expect(steps.filter((step) => step.action === 'partition').length, summary).toBeGreaterThan(0)
    const entries = readHistoryLines(readFileSync(historyPath, 'utf8'))
    const okWrites = entries.filter((entry) => entry.type === 'ok' && entry.f === 'write').length
    const okReads = entries.filter((entry) => entry.type === 'ok' && entry.f === 'read' && entry.value !== null).length
    expect(okWrites, summary).toBeGreaterThan(50)
    expect(okReads, summary).toBeGreaterThan(50)

    const result = checkLinearizable(registerOpsOf(entries))
    expect(result, summary).toEqual({ ok: true })
    const checked = await dwcpCheck(historyPath)
    expect({ code: checked.code, stderr: checked.stderr }, summary).toEqual({ code: 0, stderr: '' })
    expect(JSON.parse(checked.stdout), summary).toMatchObject({ verdict: 'linearizable', file: historyPath })
    passed = true
  })
})
