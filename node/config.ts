/**
 * `dwcp node` settings: from flags, `DWCP_*` environment variables and an
 * optional JSON config file (`--config FILE`), in that order of precedence,
 * over the defaults. Every value is checked with zod, and an error names the
 * setting and where it came from:
 *
 *   dwcp: --port: expected an integer 0..65535, got "abc"
 *   dwcp: DWCP_WAN_LATENCY: expected a duration such as 80ms or 0.5s (0..10000 ms), got "fast"
 *   dwcp: node.json: host: expected a host name or address, got ""
 *
 * Tokens and the cluster secret are held here but never printed: errors about
 * them never echo the value.
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { z } from 'zod'
import { configurationLimits, isValidId } from '../core/index.ts'
import { faultLimits } from '../host/faults.ts'
import type { ClusterConfig } from './clusterConfig.ts'
import { portOfUrl, readClusterFile } from './clusterFile.ts'

export const nodeConfigLimits = {
  /** Added latency on inter-region peer links (--wan-latency). */
  wanLatencyMsMax: faultLimits.latencyMsMax,
  /** A token or cluster secret: long enough for any generated secret, short enough for a header. */
  secretBytesMax: 4096,
  /** The config file, the secret file and each TLS file. */
  fileBytesMax: 1024 * 1024,
  /** Members named by --join. */
  joinUrlsMax: 16,
  /** --dead-voter-remove: from a second (tests) to a week. */
  deadVoterRemoveMsMin: 1_000,
  deadVoterRemoveMsMax: 7 * 24 * 3600 * 1000,
} as const

/** Where a raw value came from, as an error names it: `--port`, `DWCP_PORT`, `node.json: port`. */
export type SettingSource = { kind: 'flag' | 'env' | 'file' | 'default'; label: string }

export class ConfigError extends Error {
  override readonly name = 'ConfigError'
}

export interface NodeConfig {
  readonly id: string
  readonly region: string
  /** The cluster file (a node of a cluster made with one, e.g. by dwcp up); null with --join. */
  readonly clusterPath: string | null
  readonly cluster: ClusterConfig | null
  /** --join: members of a running cluster to ask for admission, in order; null with --cluster. */
  readonly join: readonly string[] | null
  /** The base URL the others reach this node at (its member url in the cluster file; --advertise with --join). */
  readonly advertise: string
  /** Labels this node joins with (--tags dc=fra1,rack=4). */
  readonly tags: Readonly<Record<string, string>>
  /** A graceful shutdown removes this node from the configuration first (off by default: a restart must not shrink the cluster). */
  readonly leaveOnShutdown: boolean
  /** Autopilot (on the Raft leader): how long a voter may be unreachable before it is removed; null: the replica's default. */
  readonly deadVoterRemoveMs: number | null
  readonly dataDir: string
  readonly host: string
  readonly port: number
  /** Bearer tokens of the API: write (everything) and read (GETs, viewers); null: not required. */
  readonly tokens: { readonly write: string | null; readonly read: string | null }
  readonly clusterSecret: string | null
  /** PEM text of the certificate, key and CA; null: plain HTTP and ws. */
  readonly tls: { readonly cert: string; readonly key: string; readonly ca: string } | null
  readonly dev: boolean
  readonly wanLatencyMs: number
}

/** What yargs hands over (strings as typed; undefined when a flag is absent). */
export interface NodeFlags {
  config?: string
  id?: string
  cluster?: string
  data?: string
  host?: string
  port?: string
  token?: string
  viewerToken?: string
  secretFile?: string
  tlsCert?: string
  tlsKey?: string
  tlsCa?: string
  dev?: boolean
  wanLatency?: string
  join?: string
  region?: string
  advertise?: string
  tags?: string
  leaveOnShutdown?: boolean
  deadVoterRemove?: string
}

/** Reads a duration: `80ms`, `0.5s`, `80` (milliseconds) or a number of milliseconds. */
export function parseDurationMs(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null
  if (typeof value !== 'string') return null
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$/.exec(value)
  if (match === null) return null
  const amount = Number(match[1])
  return match[2] === 's' ? amount * 1000 : amount
}

const digits = /^\d+$/
const printable = /^[\x21-\x7e]+$/

/** One setting: its names in each source, what it expects, and its zod schema (on the raw value: a string from flags and env, JSON from the file). */
interface Setting<T> {
  flag: string
  env: string
  file: string
  expected: string
  schema: z.ZodType<T>
  /** Secrets: an error never shows the value. */
  secret?: boolean
}

const pathSchema = z.string().min(1)

/** A member's base URL: http(s)://host:port and nothing after it. */
function isBaseUrl(text: string): boolean {
  if (!URL.canParse(text)) return false
  const url = new URL(text)
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.pathname === '/' && url.search === '' && url.hash === '' && url.username === '' && !text.endsWith('/')
}

const booleanSchema = z.union([z.boolean(), z.enum(['true', '1', 'false', '0']).transform((text) => text === 'true' || text === '1')])

function durationSchema(minMs: number, maxMs: number) {
  return z
    .union([z.number(), z.string()])
    .transform((value, context) => {
      const ms = parseDurationMs(value)
      if (ms === null) {
        context.addIssue({ code: 'custom', message: 'not a duration' })
        return z.NEVER
      }
      return ms
    })
    .pipe(z.number().min(minMs).max(maxMs))
}

/** `dc=fra1,rack=4` (flags, env) or an object (the config file). */
/** Gossip carries tags and bounds them in UTF-8 bytes (core/gossip/memberMeta.ts), not characters. */
const utf8Bytes = (text: string): number => new TextEncoder().encode(text).length

const tagsSchema = z
  .union([
    z.record(z.string(), z.string()),
    z.string().transform((text, context) => {
      const tags: Record<string, string> = {}
      for (const part of text.split(',').filter((item) => item.trim() !== '')) {
        const equals = part.indexOf('=')
        if (equals <= 0) {
          context.addIssue({ code: 'custom', message: 'not NAME=VALUE' })
          return z.NEVER
        }
        tags[part.slice(0, equals).trim()] = part.slice(equals + 1).trim()
      }
      return tags
    }),
  ])
  .refine((tags) => Object.keys(tags).length <= configurationLimits.tagsMax && Object.entries(tags).every(([name, value]) => /^[A-Za-z0-9._-]{1,64}$/.test(name) && utf8Bytes(value) <= configurationLimits.tagBytesMax))
const settings = {
  id: { flag: 'id', env: 'DWCP_ID', file: 'id', expected: 'a node id of 1 to 64 characters of [A-Za-z0-9._-]', schema: z.string().refine(isValidId) },
  cluster: { flag: 'cluster', env: 'DWCP_CLUSTER', file: 'cluster', expected: 'the path of a cluster file', schema: pathSchema },
  data: { flag: 'data', env: 'DWCP_DATA', file: 'data', expected: 'a directory path', schema: pathSchema },
  host: { flag: 'host', env: 'DWCP_HOST', file: 'host', expected: 'a host name or address', schema: z.string().regex(/^[A-Za-z0-9.:_[\]-]+$/) },
  port: {
    flag: 'port',
    env: 'DWCP_PORT',
    file: 'port',
    expected: 'an integer 0..65535',
    schema: z.union([z.number(), z.string().regex(digits).transform(Number)]).pipe(z.number().int().min(0).max(65535)),
  },
  token: { flag: 'token', env: 'DWCP_TOKEN', file: 'token', expected: `1 to ${nodeConfigLimits.secretBytesMax} printable ASCII characters`, schema: z.string().max(nodeConfigLimits.secretBytesMax).regex(printable), secret: true },
  viewerToken: {
    flag: 'viewer-token',
    env: 'DWCP_VIEWER_TOKEN',
    file: 'viewerToken',
    expected: `1 to ${nodeConfigLimits.secretBytesMax} printable ASCII characters`,
    schema: z.string().max(nodeConfigLimits.secretBytesMax).regex(printable),
    secret: true,
  },
  secretFile: { flag: 'secret-file', env: 'DWCP_SECRET_FILE', file: 'secretFile', expected: 'the path of a file holding the cluster secret', schema: pathSchema },
  clusterSecret: { flag: '', env: 'DWCP_CLUSTER_SECRET', file: '', expected: `1 to ${nodeConfigLimits.secretBytesMax} printable ASCII characters`, schema: z.string().max(nodeConfigLimits.secretBytesMax).regex(printable), secret: true },
  tlsCert: { flag: 'tls-cert', env: 'DWCP_TLS_CERT', file: 'tlsCert', expected: 'the path of a PEM certificate', schema: pathSchema },
  tlsKey: { flag: 'tls-key', env: 'DWCP_TLS_KEY', file: 'tlsKey', expected: 'the path of a PEM private key', schema: pathSchema },
  tlsCa: { flag: 'tls-ca', env: 'DWCP_TLS_CA', file: 'tlsCa', expected: 'the path of a PEM CA certificate', schema: pathSchema },
  dev: { flag: 'dev', env: 'DWCP_DEV', file: 'dev', expected: 'true or false (1 or 0)', schema: booleanSchema },
  join: {
    flag: 'join',
    env: 'DWCP_JOIN',
    file: 'join',
    expected: `1 to ${nodeConfigLimits.joinUrlsMax} member URLs http(s)://host:port separated by commas`,
    schema: z.union([z.array(z.string()), z.string().transform((text) => text.split(',').map((url) => url.trim()))]).pipe(z.array(z.string().refine(isBaseUrl)).min(1).max(nodeConfigLimits.joinUrlsMax)),
  },
  region: { flag: 'region', env: 'DWCP_REGION', file: 'region', expected: 'a region name of 1 to 64 characters of [A-Za-z0-9._-]', schema: z.string().refine(isValidId) },
  advertise: { flag: 'advertise', env: 'DWCP_ADVERTISE', file: 'advertise', expected: 'the base URL the other members reach this node at, http(s)://host:port', schema: z.string().max(configurationLimits.addressBytesMax).refine(isBaseUrl) },
  tags: { flag: 'tags', env: 'DWCP_TAGS', file: 'tags', expected: `at most ${configurationLimits.tagsMax} tags NAME=VALUE,… (names of [A-Za-z0-9._-], values up to ${configurationLimits.tagBytesMax} bytes of UTF-8)`, schema: tagsSchema },
  leaveOnShutdown: { flag: 'leave-on-shutdown', env: 'DWCP_LEAVE_ON_SHUTDOWN', file: 'leaveOnShutdown', expected: 'true or false (1 or 0)', schema: booleanSchema },
  deadVoterRemove: {
    flag: 'dead-voter-remove',
    env: 'DWCP_DEAD_VOTER_REMOVE',
    file: 'deadVoterRemove',
    expected: `a duration such as 30s or 5000ms (${nodeConfigLimits.deadVoterRemoveMsMin}..${nodeConfigLimits.deadVoterRemoveMsMax} ms)`,
    schema: durationSchema(nodeConfigLimits.deadVoterRemoveMsMin, nodeConfigLimits.deadVoterRemoveMsMax),
  },
  wanLatency: {
    flag: 'wan-latency',
    env: 'DWCP_WAN_LATENCY',
    file: 'wanLatency',
    expected: `a duration such as 80ms or 0.5s (0..${nodeConfigLimits.wanLatencyMsMax} ms)`,
    schema: durationSchema(0, nodeConfigLimits.wanLatencyMsMax),
  },
} satisfies Record<string, Setting<unknown>>

type SettingName = keyof typeof settings
type SettingValue<N extends SettingName> = z.output<(typeof settings)[N]['schema']>

/** The config file's keys: the settings' file names (no secrets but the tokens; the cluster secret goes in its own file). */
const fileKeys = new Set(
  Object.values(settings)
    .map((setting) => setting.file)
    .filter((key) => key !== ''),
)

interface RawValue {
  value: unknown
  source: SettingSource
}

interface Sources {
  flags: NodeFlags
  env: Readonly<Record<string, string | undefined>>
  file: { label: string; dir: string; values: Record<string, unknown> } | null
}

function flagValue(flags: NodeFlags, name: SettingName): unknown {
  switch (name) {
    case 'clusterSecret':
      return undefined
    default:
      return flags[name as keyof NodeFlags]
  }
}

/** The raw value of a setting from the source of highest precedence that has one. */
function rawValue(sources: Sources, name: SettingName): RawValue | null {
  const setting: Setting<unknown> = settings[name]
  const flag = flagValue(sources.flags, name)
  if (flag !== undefined) {
    if (Array.isArray(flag)) throw new ConfigError(`--${setting.flag}: given more than once`)
    return { value: flag, source: { kind: 'flag', label: `--${setting.flag}` } }
  }
  const env = sources.env[setting.env]
  if (env !== undefined && env !== '') return { value: env, source: { kind: 'env', label: setting.env } }
  if (sources.file !== null && setting.file !== '' && sources.file.values[setting.file] !== undefined) {
    return { value: sources.file.values[setting.file], source: { kind: 'file', label: `${sources.file.label}: ${setting.file}` } }
  }
  return null
}

function checked<N extends SettingName>(name: N, raw: RawValue): SettingValue<N> {
  const setting: Setting<unknown> = settings[name]
  const parsed = setting.schema.safeParse(raw.value)
  if (parsed.success) return parsed.data as SettingValue<N>
  const shown = setting.secret === true ? '(value not shown)' : JSON.stringify(raw.value)
  throw new ConfigError(`${raw.source.label}: expected ${setting.expected}, got ${shown}`)
}

/** A path from the config file is relative to the file's folder; others to the working directory. */
function pathOf(sources: Sources, raw: RawValue, value: string): string {
  return raw.source.kind === 'file' && sources.file !== null ? resolve(sources.file.dir, value) : resolve(value)
}

function readSmallFile(path: string, label: string, what: string): string {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new ConfigError(`${label}: cannot read ${what} ${path}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`)
  }
  if (text.length > nodeConfigLimits.fileBytesMax) throw new ConfigError(`${label}: ${what} ${path} has more than ${nodeConfigLimits.fileBytesMax} bytes`)
  return text
}

function readConfigFile(path: string): Sources['file'] {
  const label = path
  const text = readSmallFile(path, '--config', 'config file')
  let values: unknown
  try {
    values = JSON.parse(text)
  } catch (error) {
    throw new ConfigError(`--config: ${path} is not JSON: ${(error as Error).message}`)
  }
  if (typeof values !== 'object' || values === null || Array.isArray(values)) throw new ConfigError(`--config: ${path} must hold one JSON object of settings`)
  for (const key of Object.keys(values)) {
    if (!fileKeys.has(key)) throw new ConfigError(`${label}: ${key}: not a setting (settings: ${[...fileKeys].join(', ')})`)
  }
  return { label, dir: dirname(resolve(path)), values: values as Record<string, unknown> }
}

/**
 * Resolves the settings of `dwcp node`: flags over `env` over the config file
 * over the defaults. Reads the cluster file, the secret file and the TLS files.
 */
export function resolveNodeConfig(flags: NodeFlags, env: Readonly<Record<string, string | undefined>>): NodeConfig {
  const configPath = flags.config ?? (env.DWCP_CONFIG !== undefined && env.DWCP_CONFIG !== '' ? env.DWCP_CONFIG : undefined)
  const sources: Sources = { flags, env, file: configPath === undefined ? null : readConfigFile(configPath) }
  const get = <N extends SettingName>(name: N): { value: SettingValue<N>; raw: RawValue } | null => {
    const raw = rawValue(sources, name)
    return raw === null ? null : { value: checked(name, raw), raw }
  }

  const clusterSetting = get('cluster')
  const joinSetting = get('join')
  if (clusterSetting !== null && joinSetting !== null) throw new ConfigError(`${joinSetting.raw.source.label}: give a cluster file (${clusterSetting.raw.source.label}) or members to join, not both`)
  if (clusterSetting === null && joinSetting === null) throw new ConfigError('--cluster: required: the cluster file (dwcp up writes one in .dwcp/cluster.json), or DWCP_CLUSTER; or --join URL[,URL] to join a running cluster')
  const idSetting = get('id')
  const regionSetting = get('region')
  const advertiseSetting = get('advertise')
  const portSetting = get('port')
  const host = get('host')?.value ?? '127.0.0.1'

  let clusterPath: string | null = null
  let cluster: ClusterConfig | null = null
  let id: string
  let region: string
  let advertise: string
  if (clusterSetting !== null) {
    clusterPath = pathOf(sources, clusterSetting.raw, clusterSetting.value)
    try {
      cluster = readClusterFile(clusterPath)
    } catch (error) {
      throw new ConfigError(`${clusterSetting.raw.source.label}: ${(error as Error).message}`)
    }
    const ids = cluster.members.map((candidate) => candidate.id).join(', ')
    if (idSetting === null) throw new ConfigError(`--id: required: this node's id in ${clusterPath} (${ids}), or DWCP_ID`)
    const member = cluster.members.find((candidate) => candidate.id === idSetting.value)
    if (member === undefined) throw new ConfigError(`${idSetting.raw.source.label}: ${idSetting.value} is not a member of ${clusterPath} (members: ${ids})`)
    if (regionSetting !== null && regionSetting.value !== member.region) throw new ConfigError(`${regionSetting.raw.source.label}: ${member.id} is in region ${member.region} in ${clusterPath}, not ${regionSetting.value}`)
    if (advertiseSetting !== null && advertiseSetting.value !== member.url) throw new ConfigError(`${advertiseSetting.raw.source.label}: ${member.id}'s url in ${clusterPath} is ${member.url}, not ${advertiseSetting.value}`)
    id = member.id
    region = member.region
    advertise = member.url
  } else {
    if (idSetting === null) throw new ConfigError("--id: required with --join: the new node's id (1 to 64 characters of [A-Za-z0-9._-]), or DWCP_ID")
    if (regionSetting === null) throw new ConfigError('--region: required with --join: the region the new node is in (e.g. eu), or DWCP_REGION')
    id = idSetting.value
    region = regionSetting.value
    if (advertiseSetting !== null) advertise = advertiseSetting.value
    else {
      if (portSetting === null) throw new ConfigError('--port: required with --join (or --advertise URL, whose port is taken): the port this node listens on')
      if (host === '0.0.0.0' || host === '::' || host === '[::]') throw new ConfigError(`--advertise: required with --join when listening on ${host}: the URL the other members reach this node at`)
      advertise = `${get('tlsCert') === null ? 'http' : 'https'}://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${portSetting.value}`
    }
  }

  const dataSetting = get('data')
  const dataDir = dataSetting === null ? resolve(join('.dwcp', id)) : pathOf(sources, dataSetting.raw, dataSetting.value)
  const port = portSetting?.value ?? portOfUrl(advertise)

  const write = get('token')?.value ?? null
  const read = get('viewerToken')?.value ?? null

  // The cluster secret: --secret-file, else DWCP_CLUSTER_SECRET (the secret itself), else DWCP_SECRET_FILE or the config file's secretFile.
  let clusterSecret: string | null = null
  const secretFileFlag = flags.secretFile === undefined ? null : get('secretFile')
  const secretValue = secretFileFlag === null ? get('clusterSecret') : null
  const secretFile = secretFileFlag ?? (secretValue === null ? get('secretFile') : null)
  if (secretValue !== null) clusterSecret = secretValue.value
  else if (secretFile !== null) {
    const path = pathOf(sources, secretFile.raw, secretFile.value)
    const text = readSmallFile(path, secretFile.raw.source.label, 'secret file').trim()
    if (text.length === 0 || text.length > nodeConfigLimits.secretBytesMax || !printable.test(text)) {
      throw new ConfigError(`${secretFile.raw.source.label}: the secret in ${path} must be 1 to ${nodeConfigLimits.secretBytesMax} printable ASCII characters (value not shown)`)
    }
    clusterSecret = text
  }

  const tls = resolveTls(sources, get('tlsCert'), get('tlsKey'), get('tlsCa'), cluster?.members.map((member) => ({ id: member.id, url: member.url })) ?? [{ id, url: advertise }])

  return {
    id,
    region,
    clusterPath,
    cluster,
    join: joinSetting?.value ?? null,
    advertise,
    tags: get('tags')?.value ?? {},
    leaveOnShutdown: get('leaveOnShutdown')?.value ?? false,
    deadVoterRemoveMs: get('deadVoterRemove')?.value ?? null,
    dataDir,
    host,
    port,
    tokens: { write, read },
    clusterSecret,
    tls,
    dev: get('dev')?.value ?? false,
    wanLatencyMs: get('wanLatency')?.value ?? 0,
  }
}

type PathSetting = { value: string; raw: RawValue } | null

/** `urls`: the cluster file's members, or this joining node's own advertised URL: with TLS every one is https, without it none. */
function resolveTls(sources: Sources, cert: PathSetting, key: PathSetting, ca: PathSetting, urls: readonly { readonly id: string; readonly url: string }[]): NodeConfig['tls'] {
  const given = { 'tls-cert': cert, 'tls-key': key, 'tls-ca': ca }
  const present = Object.entries(given).filter(([, setting]) => setting !== null)
  if (present.length === 0) {
    const https = urls.find((member) => member.url.startsWith('https:'))
    if (https !== undefined) throw new ConfigError(`--tls-cert: required: member ${https.id} listens on ${https.url} (give --tls-cert, --tls-key and --tls-ca)`)
    return null
  }
  const missing = Object.entries(given).filter(([, setting]) => setting === null)
  if (missing.length > 0) throw new ConfigError(`--${missing[0]![0]}: required with --${present[0]![0]}: TLS needs a certificate, its key and the CA that signed the peers' certificates`)
  const http = urls.find((member) => member.url.startsWith('http:'))
  if (http !== undefined) throw new ConfigError(`--tls-cert: member ${http.id} has url ${http.url}: with TLS every member url is https://`)
  const read = (setting: NonNullable<PathSetting>, what: string) => {
    const path = pathOf(sources, setting.raw, setting.value)
    if (!existsSync(path)) throw new ConfigError(`${setting.raw.source.label}: ${what} ${path}: no such file`)
    const text = readSmallFile(path, setting.raw.source.label, what)
    if (!text.includes('-----BEGIN ')) throw new ConfigError(`${setting.raw.source.label}: ${what} ${path} is not PEM`)
    return text
  }
  return { cert: read(cert!, 'certificate'), key: read(key!, 'private key'), ca: read(ca!, 'CA certificate') }
}
