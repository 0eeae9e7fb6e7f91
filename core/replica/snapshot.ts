/**
 * `Replica.snapshot()`: one serializable object with what a viewer (the
 * terminal UI, /v1/status, /metrics) shows of a node, built from the
 * engines' read-only accessors, never from separate bookkeeping. Plain data:
 * copies, safe to keep, compare and JSON-encode.
 */
import type { ProberSnapshot } from '../adaptive/prober.ts'
import type { Mode } from '../adaptive/mode.ts'
import type { CrdtType } from '../crdt/value.ts'
import type { MemberMeta } from '../gossip/memberMeta.ts'
import type { MemberState, MemberSummary } from '../gossip/messages.ts'
import type { PbftStatus } from '../pbft/status.ts'
import type { NodeId } from '../ports.ts'
import type { RaftFollowerStatus } from '../raft/status.ts'
import type { ClusterConfiguration, ConfigMember } from './clusterConfiguration.ts'
import { namespaceOf, type Policy } from './policy.ts'
import type { Replica } from './replica.ts'

export const snapshotLimits = {
  /** Keys listed with their digests; namespaces keep exact counts beyond it (`keysTruncated`). */
  keysListedMax: 10_000,
} as const

export interface MemberView {
  readonly id: NodeId
  readonly region: string | null
  readonly state: MemberState
  readonly incarnation: number
  /** Region, address and tags as gossip knows them (the member's own word, newest incarnation); null before any reached this node. */
  readonly meta: MemberMeta | null
  /** This node's measurements of the link to the member (null for itself or before any probe). */
  readonly link: {
    readonly mode: Mode | null
    readonly rttMsP50: number | null
    readonly rttMsP99: number | null
    readonly lossRate: number | null
    readonly bandwidthBitsPerSecond: number | null
    readonly samples: number
  } | null
}

/** A ClusterConfiguration as plain JSON: each member's public key as lowercase hex. */
export type ConfigurationView = Omit<ClusterConfiguration, 'members'> & {
  readonly members: readonly (Omit<ConfigMember, 'publicKey'> & { readonly publicKeyHex: string })[]
}

export function configurationView(c: ClusterConfiguration): ConfigurationView {
  const hex = (bytes: Uint8Array): string => Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
  return { ...c, members: c.members.map(({ publicKey, ...member }) => ({ ...member, publicKeyHex: hex(publicKey) })) }
}

export interface ReplicaSnapshot {
  readonly node: { readonly id: NodeId; readonly region: string; readonly boot: number; readonly homeMode: Mode }
  readonly raft: {
    readonly role: string
    readonly term: number
    readonly leader: NodeId | null
    readonly commit: number
    readonly applied: number
    readonly lastIndex: number
    readonly voters: readonly NodeId[]
    readonly learners: readonly NodeId[]
    readonly followers: readonly RaftFollowerStatus[]
  } | null
  /** View, sequence, phase, watermarks, checkpoints, evidence and reputation per replica, metrics (core/pbft/status.ts). */
  readonly pbft: PbftStatus | null
  /** The cluster configuration applied here, JSON-safe (public keys in hex). */
  readonly configuration: ConfigurationView
  readonly members: readonly MemberView[]
  readonly links: ProberSnapshot
  readonly policies: readonly { readonly namespace: string; readonly policy: Policy }[]
  readonly namespaces: readonly { readonly namespace: string; readonly keys: number }[]
  readonly keys: readonly { readonly key: string; readonly type: CrdtType; readonly digest: string }[]
  readonly keysTruncated: boolean
  readonly storeDigest: string
  readonly metrics: {
    readonly replica: Readonly<Record<string, number>>
    readonly crdt: Readonly<Record<string, number>>
    readonly gossip: Readonly<Record<string, number>>
    readonly raft: Readonly<Record<string, number>> | null
    readonly pbft: Readonly<Record<string, number>> | null
  }
}

export function snapshotOf(replica: Replica): ReplicaSnapshot {
  const raft = replica.raft?.status() ?? null
  const pbft = replica.pbft?.status() ?? null
  const crdt = replica.crdt.status()
  const gossip = replica.gossip.status()
  const keyDigests = replica.crdt.keyDigests()
  const keysByNamespace = new Map<string, number>()
  for (const { key } of keyDigests) keysByNamespace.set(namespaceOf(key), (keysByNamespace.get(namespaceOf(key)) ?? 0) + 1)
  return {
    node: { id: replica.id, region: replica.region, boot: replica.boot, homeMode: replica.homeMode() },
    raft:
      raft === null
        ? null
        : {
            role: raft.role,
            term: raft.term,
            leader: replica.leader,
            commit: raft.commit,
            applied: raft.applied,
            lastIndex: raft.lastIndex,
            voters: raft.voters,
            learners: raft.learners,
            followers: raft.followers,
          },
    pbft,
    configuration: configurationView(replica.configuration()),
    members: [...gossip.members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((member) => memberView(replica, member)),
    links: replica.prober.snapshot(),
    policies: replica.strong.policies.namespaces().map((namespace) => ({ namespace, policy: { ...replica.policyOf(namespace) } })),
    namespaces: [...keysByNamespace].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([namespace, keys]) => ({ namespace, keys })),
    keys: keyDigests.slice(0, snapshotLimits.keysListedMax),
    keysTruncated: keyDigests.length > snapshotLimits.keysListedMax,
    storeDigest: crdt.storeDigest,
    metrics: {
      replica: { ...replica.metrics },
      crdt: crdt.metrics,
      gossip: gossip.metrics,
      raft: raft === null ? null : raft.metrics,
      pbft: pbft === null ? null : pbft.metrics,
    },
  }
}

function memberView(replica: Replica, { id, state, incarnation, meta }: MemberSummary): MemberView {
  const estimate = id === replica.id ? null : replica.prober.estimate(id)
  return {
    id,
    region: replica.regionOfMember(id),
    state,
    incarnation,
    meta: meta === undefined ? null : { region: meta.region, address: meta.address, tags: { ...meta.tags } },
    link:
      id === replica.id
        ? null
        : {
            mode: replica.prober.linkMode(id) ?? null,
            rttMsP50: estimate?.rttMsP50 ?? null,
            rttMsP99: estimate?.rttMsP99 ?? null,
            lossRate: estimate?.lossRate ?? null,
            bandwidthBitsPerSecond: estimate?.bandwidthBitsPerSecond ?? null,
            samples: estimate?.samples ?? 0,
          },
  }
}
