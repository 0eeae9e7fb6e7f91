import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError, parseDurationMs, resolveNodeConfig, type NodeFlags } from '../../node/config.ts'

const key = (byte: number) => Buffer.alloc(32, byte).toString('base64url')

function clusterDir(
  members = [
    { id: 'n1', region: 'eu', url: 'http://127.0.0.1:7701', publicKey: key(1) },
    { id: 'n2', region: 'us', url: 'http://127.0.0.1:7702', publicKey: key(2) },
  ],
) {
  const dir = mkdtempSync(join(tmpdir(), 'dwcp-config-'))
  writeFileSync(join(dir, 'cluster.json'), JSON.stringify({ clusterId: 'local-test', members }))
  return dir
}

function resolveIn(dir: string, flags: NodeFlags, env: Record<string, string> = {}) {
  return resolveNodeConfig({ cluster: join(dir, 'cluster.json'), ...flags }, env)
}

function errorOf(run: () => unknown): string {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as Error).message
  }
  throw new Error('expected a ConfigError')
}

describe('dwcp node settings', () => {
  it('takes defaults from the cluster file: region, port of the member url, host 127.0.0.1, data .dwcp/<id>', () => {
    const config = resolveIn(clusterDir(), { id: 'n2' })
    expect(config).toMatchObject({ id: 'n2', region: 'us', host: '127.0.0.1', port: 7702, tokens: { write: null, read: null }, clusterSecret: null, tls: null, dev: false, wanLatencyMs: 0 })
    expect(config.dataDir.endsWith(join('.dwcp', 'n2'))).toBe(true)
  })

  it('ranks flags over env over the config file over the defaults, setting by setting', () => {
    const dir = clusterDir()
    const file = join(dir, 'node.json')
    writeFileSync(file, JSON.stringify({ id: 'n1', host: '0.0.0.0', port: 9001, wanLatency: '20ms', data: 'fromfile', dev: true }))
    const fileOnly = resolveIn(dir, { config: file })
    expect(fileOnly).toMatchObject({ id: 'n1', host: '0.0.0.0', port: 9001, wanLatencyMs: 20, dev: true, dataDir: join(dir, 'fromfile') })
    const envOverFile = resolveIn(dir, { config: file }, { DWCP_PORT: '9002', DWCP_WAN_LATENCY: '0.5s', DWCP_DEV: '0' })
    expect(envOverFile).toMatchObject({ host: '0.0.0.0', port: 9002, wanLatencyMs: 500, dev: false })
    const flagOverEnv = resolveIn(dir, { config: file, port: '9003', id: 'n2' }, { DWCP_PORT: '9002', DWCP_ID: 'n1' })
    expect(flagOverEnv).toMatchObject({ id: 'n2', region: 'us', port: 9003, host: '0.0.0.0' })
  })

  it('reads tokens from flags or env and the cluster secret from a file or DWCP_CLUSTER_SECRET', () => {
    const dir = clusterDir()
    writeFileSync(join(dir, 'secret'), 's3cret\n')
    expect(resolveIn(dir, { id: 'n1', token: 'w' }, { DWCP_TOKEN: 'x', DWCP_VIEWER_TOKEN: 'r' }).tokens).toEqual({ write: 'w', read: 'r' })
    expect(resolveIn(dir, { id: 'n1', secretFile: join(dir, 'secret') }, { DWCP_CLUSTER_SECRET: 'env' }).clusterSecret).toBe('s3cret')
    expect(resolveIn(dir, { id: 'n1' }, { DWCP_CLUSTER_SECRET: 'env' }).clusterSecret).toBe('env')
  })

  it('names each bad setting and where it came from', () => {
    const dir = clusterDir()
    expect(errorOf(() => resolveIn(dir, { id: 'n1', port: 'abc' }))).toBe('--port: expected an integer 0..65535, got "abc"')
    expect(errorOf(() => resolveIn(dir, { id: 'n1' }, { DWCP_PORT: '70000' }))).toBe('DWCP_PORT: expected an integer 0..65535, got "70000"')
    expect(errorOf(() => resolveIn(dir, { id: 'n1', wanLatency: 'fast' }))).toMatch(/^--wan-latency: expected a duration such as 80ms/)
    expect(errorOf(() => resolveIn(dir, { id: 'n1' }, { DWCP_WAN_LATENCY: '6s' }))).toMatch(/^DWCP_WAN_LATENCY: expected a duration .*got "6s"/)
    expect(errorOf(() => resolveIn(dir, { id: 'n1', host: 'a b' }))).toBe('--host: expected a host name or address, got "a b"')
    expect(errorOf(() => resolveIn(dir, { id: 'n1' }, { DWCP_DEV: 'maybe' }))).toBe('DWCP_DEV: expected true or false (1 or 0), got "maybe"')
    expect(errorOf(() => resolveIn(dir, { id: 'n/1' }))).toMatch(/^--id: expected a node id/)
    expect(errorOf(() => resolveIn(dir, { id: 'n9' }))).toMatch(/^--id: n9 is not a member of .*cluster\.json \(members: n1, n2\)/)
    expect(errorOf(() => resolveIn(dir, {}))).toMatch(/^--id: required/)
    expect(errorOf(() => resolveNodeConfig({ id: 'n1' }, {}))).toMatch(/^--cluster: required/)
    expect(errorOf(() => resolveNodeConfig({ id: 'n1', cluster: join(dir, 'none.json') }, {}))).toMatch(/^--cluster: cannot read cluster file .*none\.json: no such file/)
    expect(errorOf(() => resolveIn(dir, { id: 'n1', secretFile: join(dir, 'missing') }))).toMatch(/^--secret-file: cannot read secret file/)
    expect(errorOf(() => resolveIn(dir, { id: 'n1', tlsCert: join(dir, 'cert.pem') }))).toMatch(/^--tls-key: required with --tls-cert/)
  })

  it('names a bad setting in the config file by file and key, and refuses unknown keys', () => {
    const dir = clusterDir()
    const file = join(dir, 'node.json')
    writeFileSync(file, JSON.stringify({ id: 'n1', port: 'x' }))
    expect(errorOf(() => resolveIn(dir, { config: file }))).toBe(`${file}: port: expected an integer 0..65535, got "x"`)
    writeFileSync(file, JSON.stringify({ id: 'n1', prot: 7 }))
    expect(errorOf(() => resolveIn(dir, { config: file }))).toMatch(new RegExp(`^${file}: prot: not a setting`))
    writeFileSync(file, '{ nope')
    expect(errorOf(() => resolveIn(dir, { config: file }))).toMatch(/^--config: .* is not JSON/)
  })

  it('never shows a token in an error', () => {
    const dir = clusterDir()
    const message = errorOf(() => resolveIn(dir, { id: 'n1', token: 'has space' }))
    expect(message).toBe('--token: expected 1 to 4096 printable ASCII characters, got (value not shown)')
    expect(errorOf(() => resolveIn(dir, { id: 'n1' }, { DWCP_VIEWER_TOKEN: 'bad token' }))).not.toContain('bad token')
  })

  it('names the bad field of a cluster file', () => {
    const dir = clusterDir([{ id: 'n1', region: 'eu', url: 'ftp://127.0.0.1:1', publicKey: key(1) }])
    expect(errorOf(() => resolveIn(dir, { id: 'n1' }))).toMatch(/^--cluster: .*cluster\.json: .*url must be .* at members\[0\]\.url/)
  })

  it('joins a running cluster with --join or DWCP_JOIN: id, region and an advertised url, no cluster file', () => {
    const config = resolveNodeConfig({ id: 'n6', region: 'eu', port: '7706', join: 'http://127.0.0.1:7701, http://127.0.0.1:7702' }, { DWCP_TAGS: 'dc=fra1,rack=4' })
    expect(config).toMatchObject({
      id: 'n6',
      region: 'eu',
      cluster: null,
      clusterPath: null,
      join: ['http://127.0.0.1:7701', 'http://127.0.0.1:7702'],
      advertise: 'http://127.0.0.1:7706',
      port: 7706,
      tags: { dc: 'fra1', rack: '4' },
      leaveOnShutdown: false,
      deadVoterRemoveMs: null,
    })
    // The advertised url gives the port when --port is absent; env and flags as for every setting.
    const fromEnv = resolveNodeConfig({ id: 'n7' }, { DWCP_JOIN: 'http://127.0.0.1:7701', DWCP_REGION: 'us', DWCP_ADVERTISE: 'http://10.0.0.7:7707', DWCP_HOST: '0.0.0.0', DWCP_LEAVE_ON_SHUTDOWN: '1', DWCP_DEAD_VOTER_REMOVE: '5s' })
    expect(fromEnv).toMatchObject({ join: ['http://127.0.0.1:7701'], region: 'us', advertise: 'http://10.0.0.7:7707', host: '0.0.0.0', port: 7707, leaveOnShutdown: true, deadVoterRemoveMs: 5_000 })
    // A cluster-file node may name its own region and url, not others.
    const dir = clusterDir()
    expect(resolveIn(dir, { id: 'n2', region: 'us', advertise: 'http://127.0.0.1:7702' })).toMatchObject({ advertise: 'http://127.0.0.1:7702', join: null })
  })

  it('says what a join lacks or has wrong', () => {
    const dir = clusterDir()
    const joining = { id: 'n6', region: 'eu', port: '7706', join: 'http://127.0.0.1:7701' }
    expect(errorOf(() => resolveIn(dir, joining))).toMatch(/^--join: give a cluster file \(--cluster\) or members to join, not both/)
    expect(errorOf(() => resolveNodeConfig({ ...joining, join: 'ftp://x:1' }, {}))).toMatch(/^--join: expected 1 to 16 member URLs/)
    expect(errorOf(() => resolveNodeConfig({ ...joining, join: 'http://127.0.0.1:7701/v1' }, {}))).toMatch(/^--join: expected/)
    expect(errorOf(() => resolveNodeConfig({ ...joining, region: undefined }, {}))).toMatch(/^--region: required with --join/)
    expect(errorOf(() => resolveNodeConfig({ ...joining, id: undefined }, {}))).toMatch(/^--id: required with --join/)
    expect(errorOf(() => resolveNodeConfig({ ...joining, port: undefined }, {}))).toMatch(/^--port: required with --join/)
    expect(errorOf(() => resolveNodeConfig({ ...joining, host: '0.0.0.0' }, {}))).toMatch(/^--advertise: required with --join when listening on 0\.0\.0\.0/)
    expect(errorOf(() => resolveNodeConfig({ ...joining, advertise: 'localhost:7706' }, {}))).toMatch(/^--advertise: expected the base URL/)
    expect(errorOf(() => resolveNodeConfig({ ...joining, tags: 'dc' }, {}))).toMatch(/^--tags: expected at most 16 tags/)
    // 128 characters but 256 bytes of UTF-8: refused here, not at startup by the gossip limit.
    expect(errorOf(() => resolveNodeConfig({ ...joining, tags: `dc=${'é'.repeat(128)}` }, {}))).toMatch(/^--tags: expected at most 16 tags.*128 bytes of UTF-8/)
    expect(resolveNodeConfig({ ...joining, tags: `dc=${'é'.repeat(64)}` }, {}).tags).toEqual({ dc: 'é'.repeat(64) })
    expect(errorOf(() => resolveNodeConfig({ ...joining, deadVoterRemove: '10ms' }, {}))).toMatch(/^--dead-voter-remove: expected a duration/)
    expect(errorOf(() => resolveIn(dir, { id: 'n2', region: 'eu' }))).toMatch(/^--region: n2 is in region us in .*, not eu/)
    expect(errorOf(() => resolveIn(dir, { id: 'n2', advertise: 'http://127.0.0.1:9999' }))).toMatch(/^--advertise: n2's url in .* is http:\/\/127\.0\.0\.1:7702/)
    expect(errorOf(() => resolveNodeConfig({ id: 'n1' }, {}))).toMatch(/or --join URL\[,URL\] to join a running cluster/)
  })

  it('reads durations', () => {
    expect([parseDurationMs('80ms'), parseDurationMs('0.5s'), parseDurationMs('80'), parseDurationMs(12), parseDurationMs('1m'), parseDurationMs('')]).toEqual([80, 500, 80, 12, null, null])
  })
})
