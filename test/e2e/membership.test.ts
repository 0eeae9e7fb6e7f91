/**
 * Runtime membership with real `dwcp node` processes (issue 18): a 3-node
 * cluster (laid out as `dwcp up` does, voter targets eu=3 and us=2, a cluster
 * secret) grows with `dwcp node --join` to 5 voters (two us nodes promoted by
 * autopilot), each joiner reading from itself the keys written before it
 * joined; a joiner restarts from its data dir without joining again;
 * `dwcp member remove` shrinks it; a voter killed for good (kill -9, never
 * restarted) is removed by autopilot and a caught-up learner promoted in its
 * place; `dwcp member leave` removes a node that then stops. Concurrent
 * clients write and read strong keys throughout: their history must be
 * linearizable (no acknowledged write lost). Bad joins (malformed body, wrong
 * signature, secret, challenge or cluster, no token) get 4xx JSON errors and
 * change nothing.
 */
import { execFile } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { joinChallengeReplySchema, membersReplySchema, statusReplySchema, type ConfigurationBody } from '../../api/contract.ts'
import { joinTranscript } from '../../api/joinProof.ts'
import { readHistoryLines, registerOpsOf } from '../../sim/checkers/jepsenHistory.ts'
import { checkLinearizable } from '../../sim/checkers/linearizability.ts'
import { Ed25519Signer } from '../../node/ed25519Signer.ts'
import { secretMac } from '../../node/peer/secretProof.ts'
import { apiCall, callUntilOk, errorCodeOf, type ApiAnswer } from '../support/apiCall.ts'
import { HistoryRecorder } from '../support/historyRecorder.ts'
import { freeBasePort, ProcessCluster } from '../support/processCluster.ts'
import { finalRegisterReads, runRegisterClients, type RegisterClientsTally } from '../support/registerClients.ts'

const settings = {
  secret: 'e2e-cluster-secret',
  /** Keys written before any join, read back from each joiner. */
  keysBefore: 8,
  clients: 4,
  clientKeys: Array.from({ length: 6 }, (_, index) => `cfg/m${index}`),
  clientsMsMax: 150_000,
  thinkMsMax: 80,
  opsPerClientMax: 400,
  /** Autopilot's removal of an unreachable voter (--dead-voter-remove on every node): above a restart's time, so the restarted joiner is not removed while it starts. */
  deadVoterRemove: '15s',
  /** One configuration change seen (a join, a promotion, a removal). */
  changeMs: 45_000,
  /** A CLI command. */
  commandMs: 30_000,
  finalReadsMs: 30_000,
} as const

const seed = process.env.DWCP_E2E_SEED === undefined ? randomInt(2 ** 31) : Number(process.env.DWCP_E2E_SEED)
const historyDir = mkdtempSync(join(tmpdir(), 'dwcp-membership-'))
const binPath = join(import.meta.dirname, '../../bin/dwcp.js')
let cluster: ProcessCluster | null = null
let passed = false

afterAll(async () => {
  await cluster?.close({ keep: !passed })
  if (passed) rmSync(historyDir, { recursive: true, force: true })
})

function dwcp(args: readonly string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const clean: NodeJS.ProcessEnv = { ...process.env }
  for (const name of Object.keys(clean)) if (name.startsWith('DWCP_')) delete clean[name]
  return new Promise((resolve) => {
    execFile(process.execPath, ['--disable-warning=ExperimentalWarning', binPath, ...args], { timeout: settings.commandMs, encoding: 'utf8', env: { ...clean, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr })
    })
  })
}

async function configurationAt(url: string, token: string | null): Promise<ConfigurationBody> {
  const answer = await apiCall(url, 'GET', '/v1/members', { token })
  if (answer.status !== 200) throw new Error(`GET /v1/members at ${url}: ${answer.status} ${answer.text.slice(0, 200)}`)
  return membersReplySchema.parse(answer.body).configuration
}

/** Polls `url`'s configuration until `check` holds, at most `timeoutMs`; resolves with it. */
async function waitConfiguration(what: string, url: string, token: string | null, check: (c: ConfigurationBody) => boolean, timeoutMs: number = settings.changeMs): Promise<ConfigurationBody> {
  const deadline = performance.now() + timeoutMs
  let last: ConfigurationBody | string = 'no answer yet'
  for (;;) {
    try {
      last = await configurationAt(url, token)
      if (check(last)) return last
    } catch (error) {
      last = (error as Error).message
    }
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms at ${url}; last: ${JSON.stringify(last)}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

const sorted = (ids: readonly string[]) => [...ids].sort()

describe('runtime membership with real processes', () => {
  it('refuses bad joins with 4xx JSON errors and changes nothing', { timeout: 120_000 }, async () => {
    cluster = await ProcessCluster.start({ nodes: 3, regions: ['eu'], voterTargets: { eu: 3, us: 2 }, deadVoterRemove: settings.deadVoterRemove, secret: settings.secret })
    const c = cluster
    const url = c.url('n1')
    const token = c.token
    const before = await configurationAt(url, token)
    expect(before).toMatchObject({ version: 1, raftVoters: ['n1', 'n2', 'n3'], raftLearners: [], voterTargets: { eu: 3, us: 2 } })

    const signer = new Ed25519Signer(new Uint8Array(randomBytes(32)))
    const challenge = async () => joinChallengeReplySchema.parse((await apiCall(url, 'GET', '/v1/cluster/join/challenge', { token })).body)
    const offered = await challenge()
    const claim = { clusterId: offered.clusterId, id: 'intruder', region: 'eu', url: 'http://127.0.0.1:1', publicKey: signer.publicKey, tags: {} }
    /** A join body signed over `signed` (the claim itself unless a test wants another) with the secret `secret`. */
    const body = (challengeText: string, options: { signed?: object; secret?: string | null; clusterId?: string } = {}) => {
      const transcript = joinTranscript({ ...claim, ...options.signed, challenge: new Uint8Array(Buffer.from(challengeText, 'base64url')) } as Parameters<typeof joinTranscript>[0])
      const secret = options.secret === undefined ? settings.secret : options.secret
      return {
        clusterId: options.clusterId ?? claim.clusterId,
        id: claim.id,
        region: claim.region,
        url: claim.url,
        publicKey: Buffer.from(signer.publicKey).toString('base64url'),
        tags: {},
        challenge: challengeText,
        signature: Buffer.from(signer.sign(transcript)).toString('base64url'),
        ...(secret === null ? {} : { secretProof: Buffer.from(secretMac(new TextEncoder().encode(secret), transcript)).toString('base64url') }),
      }
    }
    const post = (json: unknown, options: { raw?: string; token?: string | null } = {}) =>
      apiCall(url, 'POST', '/v1/cluster/join', { token: options.token === undefined ? token : options.token, ...(options.raw === undefined ? { json } : { body: options.raw, headers: { 'content-type': 'application/json' } }) })
    const expectRefused = (answer: ApiAnswer, status: number, code: string) => {
      expect({ status: answer.status, code: errorCodeOf(answer) }, answer.text).toEqual({ status, code })
      expect(typeof (answer.body as { error: { message: unknown } }).error.message).toBe('string')
    }

    expectRefused(await post(null, { raw: '{"id": ' }), 400, 'malformedJson')
    expectRefused(await post({ id: 'x' }), 400, 'invalidBody')
    expectRefused(await post({ ...body((await challenge()).challenge), publicKey: 'short' }), 400, 'invalidBody')
    expectRefused(await post(body((await challenge()).challenge), { token: null }), 401, 'unauthorized')
    expectRefused(await post(body((await challenge()).challenge, { signed: { id: 'someone-else' } })), 403, 'badSignature')
    expectRefused(await post(body((await challenge()).challenge, { secret: 'wrong-secret' })), 403, 'badSecret')
    expectRefused(await post(body((await challenge()).challenge, { secret: null })), 403, 'badSecret')
    expectRefused(await post(body((await challenge()).challenge, { clusterId: 'another-cluster', signed: { clusterId: 'another-cluster' } })), 409, 'clusterMismatch')
    expectRefused(await post(body(Buffer.alloc(32, 7).toString('base64url'))), 403, 'badChallenge')
    // A challenge is good for one join: the wrong secret above used its own; this one is taken by a refused join, then reused.
    const once = (await challenge()).challenge
    expectRefused(await post(body(once, { secret: 'wrong-secret' })), 403, 'badSecret')
    expectRefused(await post(body(once)), 403, 'badChallenge')
    expectRefused(await apiCall(url, 'DELETE', '/v1/members/nobody', { token }), 404, 'notMember')
    expectRefused(await apiCall(url, 'DELETE', '/v1/members/bad%20id', { token }), 400, 'invalidMemberId')

    // A node started with a wrong secret is refused, says so, and exits with the usage code; the cluster is as before.
    const port = await freeBasePort(1)
    const stranger = await dwcp(['node', '--id', 'stranger', '--region', 'eu', '--port', String(port), '--data', join(c.root, 'stranger'), '--join', `http://127.0.0.1:${port + 1},${url}`], {
      DWCP_TOKEN: token!,
      DWCP_CLUSTER_SECRET: 'wrong-secret',
    })
    expect(stranger.code, stranger.stderr).toBe(2)
    expect(stranger.stderr).toMatch(/the cluster refused the join: .*unreachable: ECONNREFUSED.*refused \(HTTP 403\) badSecret: the joining node does not know the cluster secret/)

    for (const id of c.ids) expect(await configurationAt(c.url(id), token), id).toEqual(before)
  })

  it('grows to 5 voters by joins, shrinks by remove and leave, replaces a dead voter, and loses no acknowledged write', { timeout: 300_000 }, async () => {
    const c = cluster!
    const token = c.token
    const env = { DWCP_TOKEN: token! }
    const historyPath = join(historyDir, 'history.jsonl')
    const context = () => `seed ${seed} (DWCP_E2E_SEED=${seed} replays it); history ${historyPath}; nodes in ${c.root}`
    const history = new HistoryRecorder(historyPath)
    const steps: string[] = []
    const step = (line: string) => steps.push(`${new Date().toISOString()} ${line}`)
    let tally: RegisterClientsTally | null = null
    const initial = ['n1', 'n2', 'n3'].map((id) => c.url(id))

    try {
      // Keys written before anyone joins.
      for (let index = 0; index < settings.keysBefore; index++) {
        await callUntilOk(
          `put cfg/before-${index}`,
          () => initial,
          (at) => apiCall(at, 'PUT', `/v1/kv/cfg/before-${index}?consistency=strong`, { token, json: { value: `v${index}` } }),
          settings.changeMs,
        )
      }
      const clientsDone = new AbortController()
      const clients = runRegisterClients({
        targets: initial,
        token,
        keys: settings.clientKeys,
        clients: settings.clients,
        durationMs: settings.clientsMsMax,
        signal: clientsDone.signal,
        seed,
        history,
        thinkMsMax: settings.thinkMsMax,
        opsPerClientMax: settings.opsPerClientMax,
      })
      try {
        // Two joins in region us: learners first, then voters (us wants 2).
        for (const [id, through] of [
          ['n4', ['n3', 'n1']],
          ['n5', ['n2']],
        ] as const) {
          const joiner = await c.spawnJoiner({ id, region: 'us', join: through.map((node) => c.url(node)) })
          step(`${id} joins through ${through.join(',')} at ${joiner.url}`)
          await waitConfiguration(`${id} a voter`, c.url('n1'), token, (conf) => conf.raftVoters.includes(id))
          // It caught up: the keys written before it joined are read from its own copy (a follower read of the published state).
          for (let index = 0; index < settings.keysBefore; index++) {
            await callUntilOk(
              `cfg/before-${index} at ${id}`,
              () => [joiner.url],
              async (at) => {
                const answer = await apiCall(at, 'GET', `/v1/kv/cfg/before-${index}?consistency=eventual`, { token })
                return answer.status === 404 ? { ...answer, status: 503 } : answer
              },
              settings.changeMs,
            )
            const read = await apiCall(joiner.url, 'GET', `/v1/kv/cfg/before-${index}?consistency=eventual`, { token })
            expect((read.body as { value: unknown; path: unknown }).value, `${id} cfg/before-${index}`).toBe(`v${index}`)
          }
        }
        const five = await waitConfiguration('5 voters', c.url('n2'), token, (conf) => conf.raftVoters.length === 5)
        expect(sorted(five.raftVoters)).toEqual(['n1', 'n2', 'n3', 'n4', 'n5'])
        expect(five.members.find((member) => member.id === 'n4')).toMatchObject({ region: 'us', url: c.url('n4') })
        step(`5 voters at version ${five.version}`)

        // `dwcp members` and `dwcp status` show it, from a joiner.
        const members = await dwcp(['members', '--url', c.url('n4')], env)
        expect(members.code, members.stderr).toBe(0)
        expect(members.stdout).toMatch(new RegExp(`configuration version \\d+: voters n1,n2,n3,n4,n5; learners -; pbft -`))
        expect(members.stdout).toMatch(new RegExp(`n5\\s+us\\s+${c.url('n5').replace(/[.]/g, '\\.')}\\s+voter`))
        const status = await dwcp(['status', '--url', c.url('n5'), '--json'], env)
        expect(statusReplySchema.parse(JSON.parse(status.stdout)).configuration).toMatchObject({ voters: ['n1', 'n2', 'n3', 'n4', 'n5'], learners: [], pbft: [] })

        // A joiner restarts (kill -9) from its data dir: it does not join again.
        await c.restart('n4')
        await c.waitReady()
        expect(readFileSync(c.logPath('n4'), 'utf8')).toMatch(/a member of cluster .* since its join .*--join is not used again/)
        expect((await configurationAt(c.url('n4'), token)).version).toBe(five.version)
        step('n4 restarted without a second join')

        // `dwcp member remove n5` through any node: 4 voters; n5 is stopped by its operator.
        const removed = await dwcp(['member', 'remove', 'n5', '--url', c.url('n1')], env)
        expect(removed.code, removed.stderr).toBe(0)
        expect(removed.stdout).toMatch(/^removed n5: configuration version \d+, voters n1,n2,n3,n4, learners -, pbft -/)
        // n5 learns the entry that removed it, and stops.
        expect(await c.waitStopped('n5')).toEqual({ code: 0, signal: null })
        expect(readFileSync(c.logPath('n5'), 'utf8')).toMatch(/stopping \(removed from the cluster by configuration version \d+\)/)
        step('n5 removed, and stopped by itself')
        await waitConfiguration('n5 gone everywhere', c.url('n4'), token, (conf) => !conf.members.some((member) => member.id === 'n5'))

        // A learner in eu (eu has its 3 voters), then an eu voter killed for good: autopilot removes it and promotes the learner.
        await c.spawnJoiner({ id: 'n6', region: 'eu', join: [c.url('n2')] })
        await waitConfiguration('n6 a learner', c.url('n1'), token, (conf) => conf.raftLearners.includes('n6'))
        step('n6 joined as a learner')
        await c.kill('n2')
        step('n2 killed for good (kill -9)')
        const replaced = await waitConfiguration('n2 replaced by n6', c.url('n1'), token, (conf) => !conf.members.some((member) => member.id === 'n2') && conf.raftVoters.includes('n6'))
        expect(sorted(replaced.raftVoters)).toEqual(['n1', 'n3', 'n4', 'n6'])
        step(`n2 replaced by n6 at version ${replaced.version}`)

        // `dwcp member leave`: n6 removes itself and stops.
        const left = await dwcp(['member', 'leave', '--url', c.url('n6')], env)
        expect(left.code, `${left.stdout}${left.stderr}`).toBe(0)
        expect(left.stdout).toMatch(/left the cluster and is stopping: configuration version \d+, voters n1,n3,n4, learners -/)
        expect(await c.waitStopped('n6')).toEqual({ code: 0, signal: null })
        expect(membersReplySchema.parse(JSON.parse((await dwcp(['members', '--url', c.url('n1'), '--json'], env)).stdout)).configuration.raftVoters).toEqual(['n1', 'n3', 'n4'])
        step('n6 left')
      } finally {
        clientsDone.abort()
        tally = await clients
      }
      const remaining = ['n1', 'n3', 'n4'].map((id) => c.url(id))
      await finalRegisterReads({ targets: remaining, token, keys: settings.clientKeys, history, process: 1_000_000, deadlineMs: settings.finalReadsMs })
      for (const at of remaining) {
        for (let index = 0; index < settings.keysBefore; index++) {
          const read = await apiCall(at, 'GET', `/v1/kv/cfg/before-${index}?consistency=strong`, { token })
          expect({ at, value: (read.body as { value?: unknown }).value }).toEqual({ at, value: `v${index}` })
        }
      }
    } catch (error) {
      throw new Error(`${context()}\n${steps.join('\n')}\n${(error as Error).message}\n${c.logs()}`, { cause: error })
    } finally {
      history.close()
    }
    const summary = `${context()}\nclients: ${JSON.stringify(tally)}\n${steps.join('\n')}`
    const entries = readHistoryLines(readFileSync(historyPath, 'utf8'))
    expect(entries.filter((entry) => entry.type === 'ok' && entry.f === 'write').length, summary).toBeGreaterThan(20)
    expect(checkLinearizable(registerOpsOf(entries)), summary).toEqual({ ok: true })
    expect(
      c.exits.filter((entry) => entry.exit.signal !== 'SIGKILL' && entry.exit.code !== 0),
      summary,
    ).toEqual([])
    passed = true
  })
})
