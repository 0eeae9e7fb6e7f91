/**
 * The cluster configuration (DESIGN §10): who the members are (region,
 * address, public key, tags), which of them are Raft voters and learners,
 * the PBFT group, and how many voters each region wants. It is replicated
 * through Raft (a log command, so every replica applies a version at the same
 * log position) and each replica persists the one it last applied.
 *
 *   configuration := varuint format, varuint version,
 *                    count member*, count id (raft voters), count id (raft learners),
 *                    count id (pbft replicas), count (text region, varuint voters)*,
 *                    uint8 hasRunning, [varuint epoch, varuint startSeq, count id (in the group's order)]   (format 2)
 *   member        := id, text region, text address, bytes publicKey, count (text name, text value)*
 *
 * Lists are written sorted, so one configuration has exactly one encoding.
 */
import type * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import { decodeWith, encodeWith } from '../codec/envelope.ts'
import { fail } from '../codec/decodeError.ts'
import { readBytes, readId, readText, readUint, utf8Length, writeBytes, writeId, writeText, writeUint } from '../codec/fields.ts'
import { memberMetaLimits } from '../gossip/memberMeta.ts'
import { isValidId } from '../lib/limits.ts'
import { raftLimits } from '../raft/config.ts'
import type { NodeId } from '../ports.ts'

export interface ConfigMember {
  readonly id: NodeId
  readonly region: string
  /** Where peers and clients reach it: the node's base URL (http(s)://host:port), '' in the simulator. */
  readonly address: string
  /** Raw 32-byte Ed25519 public key (empty in the simulator unless it is a PBFT replica). */
  readonly publicKey: Uint8Array
  /** Free-form labels gossip carries (e.g. { dc: 'fra1' }); at most tagsMax, each within tagBytesMax. */
  readonly tags: Readonly<Record<string, string>>
}

export interface ClusterConfiguration {
  /** 1 for the configuration a cluster is created with; +1 for every change applied through Raft. */
  readonly version: number
  /** Sorted by id. */
  readonly members: readonly ConfigMember[]
  readonly raftVoters: readonly NodeId[]
  readonly raftLearners: readonly NodeId[]
  /**
   * The PBFT group the cluster wants (the target; ids of members with keys). The running group reaches
   * it through PBFT's own reconfiguration, approved by 2f+1 of the running group (pbftGroupChange.ts).
   */
  readonly pbftReplicas: readonly NodeId[]
  /**
   * The PBFT group that runs, as its replicas last reported it through Raft: its epoch, the sequence number it
   * orders after, its members in the group's order. Absent until the first pbftGroupSet: then the group of epoch 0
   * is `pbftReplicas` (the first configuration's). Its members stay members while it lists them.
   */
  readonly pbftRunning?: PbftRunning
  /** Raft voters wanted per region (autopilot promotes learners toward it; at most votersMax voters in all). */
  readonly voterTargets: Readonly<Record<string, number>>
}

export interface PbftRunning {
  readonly epoch: number
  readonly startSeq: number
  readonly replicas: readonly NodeId[]
}

export const configurationLimits = {
  /** The encoding's format; a reader refuses any other. */
  formatVersion: 2,
  /** Format 1 (before pbftRunning) is still read. */
  formatVersionMin: 1,
  /** Members of one cluster: a replica keeps a gossip member, a CRDT peer and a prober link for each. */
  membersMax: 64,
  /** Raft voters a change (a promotion, autopilot) may reach: more only slows every commit (Consul and etcd recommend 3 to 7). */
  votersMax: 7,
  // A member's region, address and tags: gossip carries them too, so they have gossip's bounds (core/gossip/memberMeta.ts).
  regionBytesMax: memberMetaLimits.regionBytesMax,
  addressBytesMax: memberMetaLimits.addressBytesMax,
  tagsMax: memberMetaLimits.tagsMax,
  tagBytesMax: memberMetaLimits.tagBytesMax,
  /** A raw Ed25519 public key is 32 bytes (the simulator's keys are 16); empty when the member has none. */
  publicKeyBytesMax: 64,
  /** Regions with a voter target. */
  regionsMax: 64,
} as const

const ascending = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** Why a configuration is not well formed, or null. Every configuration a replica adopts passes this. */
export function configurationProblem(c: ClusterConfiguration): string | null {
  const L = configurationLimits
  if (!Number.isSafeInteger(c.version) || c.version < 1) return `version ${c.version} must be an integer >= 1`
  if (c.members.length === 0) return 'a configuration needs at least one member'
  if (c.members.length > L.membersMax) return `${c.members.length} members, membersMax=${L.membersMax}`
  const ids = new Set<string>()
  for (const member of c.members) {
    if (!isValidId(member.id)) return `member id ${JSON.stringify(member.id)} is not a valid id`
    if (ids.has(member.id)) return `member ${member.id} appears twice`
    ids.add(member.id)
    const problem = memberProblem(member)
    if (problem !== null) return problem
  }
  for (const [name, list] of [
    ['raftVoters', c.raftVoters],
    ['raftLearners', c.raftLearners],
    ['pbftReplicas', c.pbftReplicas],
  ] as const) {
    const seen = new Set<string>()
    for (const id of list) {
      if (!ids.has(id)) return `${name} names ${id}, which is not a member`
      if (seen.has(id)) return `${name} names ${id} twice`
      seen.add(id)
    }
  }
  if (c.pbftRunning !== undefined) {
    const { epoch, startSeq, replicas } = c.pbftRunning
    if (!Number.isSafeInteger(epoch) || epoch < 0 || !Number.isSafeInteger(startSeq) || startSeq < 0) return `pbftRunning epoch ${epoch} and startSeq ${startSeq} must be integers >= 0`
    if (replicas.length === 0) return 'pbftRunning names no replica'
    for (const id of replicas) if (!ids.has(id)) return `pbftRunning names ${id}, which is not a member`
    if (new Set(replicas).size !== replicas.length) return 'pbftRunning names a replica twice'
  }
  if (c.raftVoters.length === 0) return 'a configuration needs at least one Raft voter'
  // A cluster may be created with more voters (up to Raft's member limit) as its operator chose; no change adds one beyond votersMax.
  if (c.raftVoters.length > raftLimits.membersMax) return `${c.raftVoters.length} Raft voters, raftLimits.membersMax=${raftLimits.membersMax}`
  for (const learner of c.raftLearners) if (c.raftVoters.includes(learner)) return `${learner} is both a Raft voter and a learner`
  const regions = Object.keys(c.voterTargets)
  if (regions.length > L.regionsMax) return `${regions.length} regions with voter targets, regionsMax=${L.regionsMax}`
  for (const region of regions) {
    const target = c.voterTargets[region]!
    if (utf8Length(region) === 0 || utf8Length(region) > L.regionBytesMax) return `voter target region ${JSON.stringify(region)} must be 1 to ${L.regionBytesMax} bytes`
    if (!Number.isSafeInteger(target) || target < 0 || target > L.votersMax) return `voter target ${target} of ${region} must be an integer in 0..${L.votersMax}`
  }
  return null
}

/** Why one member is not well formed (its id aside), or null. */
export function memberProblem(member: ConfigMember): string | null {
  const L = configurationLimits
  const regionBytes = utf8Length(member.region)
  if (regionBytes === 0 || regionBytes > L.regionBytesMax) return `member ${member.id}: region must be 1 to ${L.regionBytesMax} bytes`
  if (utf8Length(member.address) > L.addressBytesMax) return `member ${member.id}: address is above addressBytesMax=${L.addressBytesMax}`
  if (member.publicKey.length > L.publicKeyBytesMax) return `member ${member.id}: public key is above publicKeyBytesMax=${L.publicKeyBytesMax}`
  const tags = Object.entries(member.tags)
  if (tags.length > L.tagsMax) return `member ${member.id}: ${tags.length} tags, tagsMax=${L.tagsMax}`
  for (const [name, value] of tags) {
    if (utf8Length(name) === 0 || utf8Length(name) > L.tagBytesMax || utf8Length(value) > L.tagBytesMax) return `member ${member.id}: tag ${JSON.stringify(name)} must have a name of 1 to ${L.tagBytesMax} bytes and a value within it`
  }
  return null
}

/** The configuration in its one canonical form: members and id lists sorted, copies throughout (safe to keep). */
export function normalizeConfiguration(c: ClusterConfiguration): ClusterConfiguration {
  const tagsOf = (tags: Readonly<Record<string, string>>): Record<string, string> => Object.fromEntries(Object.entries(tags).sort(([a], [b]) => ascending(a, b)))
  return {
    version: c.version,
    members: [...c.members].sort((a, b) => ascending(a.id, b.id)).map((member) => ({ id: member.id, region: member.region, address: member.address, publicKey: member.publicKey.slice(), tags: tagsOf(member.tags) })),
    raftVoters: [...c.raftVoters].sort(ascending),
    raftLearners: [...c.raftLearners].sort(ascending),
    pbftReplicas: [...c.pbftReplicas].sort(ascending),
    voterTargets: Object.fromEntries(Object.entries(c.voterTargets).sort(([a], [b]) => ascending(a, b))),
    // The running group keeps its order: the primary of view v is replicas[v mod n].
    ...(c.pbftRunning === undefined ? {} : { pbftRunning: { epoch: c.pbftRunning.epoch, startSeq: c.pbftRunning.startSeq, replicas: [...c.pbftRunning.replicas] } }),
  }
}

export function writeConfigMember(encoder: encoding.Encoder, member: ConfigMember): void {
  writeId(encoder, member.id)
  writeText(encoder, member.region)
  writeText(encoder, member.address)
  writeBytes(encoder, member.publicKey)
  const tags = Object.entries(member.tags).sort(([a], [b]) => ascending(a, b))
  writeUint(encoder, tags.length)
  for (const [name, value] of tags) {
    writeText(encoder, name)
    writeText(encoder, value)
  }
}

export function readConfigMember(decoder: decoding.Decoder): ConfigMember {
  const L = configurationLimits
  const id = readId(decoder, 'member id')
  const region = readText(decoder, L.regionBytesMax, 'region')
  const address = readText(decoder, L.addressBytesMax, 'address')
  const publicKey = readBytes(decoder, L.publicKeyBytesMax, 'public key')
  const tagCount = readUint(decoder, L.tagsMax, 'tags')
  // A Map, not an object: a tag may be named __proto__ or toString.
  const tags = new Map<string, string>()
  for (let index = 0; index < tagCount; index++) {
    const name = readText(decoder, L.tagBytesMax, 'tag name')
    if (tags.has(name)) fail('invalidField', `tag ${JSON.stringify(name)} appears twice`)
    tags.set(name, readText(decoder, L.tagBytesMax, 'tag value'))
  }
  const member = { id, region, address, publicKey, tags: Object.fromEntries(tags) }
  const problem = memberProblem(member)
  if (problem !== null) fail('invalidField', problem)
  return member
}

function writeIds(encoder: encoding.Encoder, ids: readonly NodeId[]): void {
  const sorted = [...ids].sort(ascending)
  writeUint(encoder, sorted.length)
  for (const id of sorted) writeId(encoder, id)
}

function readIds(decoder: decoding.Decoder, what: string): NodeId[] {
  const count = readUint(decoder, configurationLimits.membersMax, what)
  const ids: NodeId[] = []
  for (let index = 0; index < count; index++) ids.push(readId(decoder, what))
  return ids
}

export function writeConfiguration(encoder: encoding.Encoder, c: ClusterConfiguration): void {
  const sorted = normalizeConfiguration(c)
  writeUint(encoder, configurationLimits.formatVersion)
  writeUint(encoder, sorted.version)
  writeUint(encoder, sorted.members.length)
  for (const member of sorted.members) writeConfigMember(encoder, member)
  writeIds(encoder, sorted.raftVoters)
  writeIds(encoder, sorted.raftLearners)
  writeIds(encoder, sorted.pbftReplicas)
  const targets = Object.entries(sorted.voterTargets)
  writeUint(encoder, targets.length)
  for (const [region, voters] of targets) {
    writeText(encoder, region)
    writeUint(encoder, voters)
  }
  writeUint(encoder, sorted.pbftRunning === undefined ? 0 : 1)
  if (sorted.pbftRunning !== undefined) {
    writeUint(encoder, sorted.pbftRunning.epoch)
    writeUint(encoder, sorted.pbftRunning.startSeq)
    writeUint(encoder, sorted.pbftRunning.replicas.length)
    for (const id of sorted.pbftRunning.replicas) writeId(encoder, id)
  }
}

export function readConfiguration(decoder: decoding.Decoder): ClusterConfiguration {
  const L = configurationLimits
  const format = readUint(decoder, Number.MAX_SAFE_INTEGER, 'configuration format')
  if (format < L.formatVersionMin || format > L.formatVersion) fail('unsupportedVersion', `configuration format ${format}, this build reads ${L.formatVersionMin} to ${L.formatVersion}`)
  const version = readUint(decoder, Number.MAX_SAFE_INTEGER, 'configuration version')
  const memberCount = readUint(decoder, L.membersMax, 'members')
  const members: ConfigMember[] = []
  for (let index = 0; index < memberCount; index++) members.push(readConfigMember(decoder))
  const raftVoters = readIds(decoder, 'raft voters')
  const raftLearners = readIds(decoder, 'raft learners')
  const pbftReplicas = readIds(decoder, 'pbft replicas')
  const targetCount = readUint(decoder, L.regionsMax, 'voter targets')
  const targets = new Map<string, number>()
  for (let index = 0; index < targetCount; index++) {
    const region = readText(decoder, L.regionBytesMax, 'region')
    if (targets.has(region)) fail('invalidField', `region ${JSON.stringify(region)} has two voter targets`)
    targets.set(region, readUint(decoder, L.votersMax, 'voter target'))
  }
  let pbftRunning: PbftRunning | undefined
  if (format >= 2 && readUint(decoder, 1, 'pbft running flag') === 1) {
    const epoch = readUint(decoder, Number.MAX_SAFE_INTEGER, 'pbft epoch')
    const startSeq = readUint(decoder, Number.MAX_SAFE_INTEGER, 'pbft start seq')
    const count = readUint(decoder, L.membersMax, 'pbft running replicas')
    pbftRunning = { epoch, startSeq, replicas: Array.from({ length: count }, () => readId(decoder, 'pbft running replica')) }
  }
  const c: ClusterConfiguration = { version, members, raftVoters, raftLearners, pbftReplicas, voterTargets: Object.fromEntries(targets), ...(pbftRunning === undefined ? {} : { pbftRunning }) }
  const problem = configurationProblem(c)
  if (problem !== null) fail('invalidField', problem)
  return normalizeConfiguration(c)
}

/** The configuration's bytes (lib0 encoding, with a format version); the twin of readClusterConfiguration. */
export function writeClusterConfiguration(c: ClusterConfiguration): Uint8Array {
  const problem = configurationProblem(c)
  if (problem !== null) throw new RangeError(`cannot write an invalid configuration: ${problem}`)
  return encodeWith(c, writeConfiguration)
}

/** Reads a configuration; throws a RangeError on bad bytes or an invalid configuration. */
export function readClusterConfiguration(bytes: Uint8Array): ClusterConfiguration {
  const decoded = decodeWith(bytes, readConfiguration, 'cluster configuration')
  if (!decoded.ok) throw new RangeError(`bad cluster configuration: ${decoded.error.message}`)
  return decoded.value
}

/** Whether two configurations are the same (their canonical encodings are equal). */
export function sameConfiguration(a: ClusterConfiguration, b: ClusterConfiguration): boolean {
  const x = encodeWith(a, writeConfiguration)
  const y = encodeWith(b, writeConfiguration)
  return x.length === y.length && x.every((byte, index) => byte === y[index])
}

/** A member by id, or undefined. */
export function memberOf(c: ClusterConfiguration, id: NodeId): ConfigMember | undefined {
  return c.members.find((member) => member.id === id)
}

/**
 * A new cluster's configuration (version 1): every member, the given voters
 * and learners (default none: a member in neither takes no part in Raft), and
 * each region's voter target the number of voters it starts with.
 */
export function bootstrapConfiguration(input: {
  readonly members: readonly ConfigMember[]
  readonly raftVoters: readonly NodeId[]
  readonly raftLearners?: readonly NodeId[]
  readonly pbftReplicas?: readonly NodeId[]
  readonly voterTargets?: Readonly<Record<string, number>>
}): ClusterConfiguration {
  const regionOf = new Map(input.members.map((member) => [member.id, member.region]))
  const targets: Record<string, number> = {}
  for (const voter of input.raftVoters) {
    const region = regionOf.get(voter)
    if (region !== undefined) targets[region] = Math.min(configurationLimits.votersMax, (targets[region] ?? 0) + 1)
  }
  const c = normalizeConfiguration({
    version: 1,
    members: input.members,
    raftVoters: input.raftVoters,
    raftLearners: input.raftLearners ?? [],
    pbftReplicas: input.pbftReplicas ?? [],
    voterTargets: input.voterTargets ?? targets,
  })
  const problem = configurationProblem(c)
  if (problem !== null) throw new RangeError(`invalid bootstrap configuration: ${problem}`)
  return c
}

/** A member as the simulator and tests make one: no address, no tags, a key only for a PBFT replica. */
export function plainMember(id: NodeId, region: string, publicKey: Uint8Array = new Uint8Array(0)): ConfigMember {
  return { id, region, address: '', publicKey, tags: {} }
}
