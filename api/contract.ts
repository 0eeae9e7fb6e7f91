/**
 * The public HTTP API's contract (DESIGN §5, /work/wt/NODE_CONTRACT.md): zod
 * schemas of every request and response body, with their inferred types. The
 * API validates what comes in with them; clients (the CLI, the terminal UI,
 * tests) parse what comes back with them. Runtime-neutral: zod and types only.
 */
import { z } from 'zod'
// Core files directly, not the curated core/index.ts: every CLI client command loads this module, and the index would load every engine with it.
import { isValidId } from '../core/lib/limits.ts'
import { pbftLimits } from '../core/pbft/config.ts'
import { configurationLimits } from '../core/replica/clusterConfiguration.ts'
import type { ReplicaEvent } from '../core/replica/events.ts'
import { faultLimits } from '../host/faults.ts'
import type { HostSnapshot } from '../host/replicaHost.ts'

/**
 * On an edge Worker: the request header that names the region whose object answers (else the
 * nearest serves), and the response header that says which region did (DESIGN §5).
 */
export const regionHeader = 'x-dwcp-region'

export const apiLimits = {
  /**
   * A request body: a put of a value of valueBytesMax (1 MiB) with its JSON
   * envelope and some escaping, like etcd's 1.5 MiB request limit; 413 beyond.
   */
  requestBytesMax: 1536 * 1024,
  /** One message from a document client (a Yjs update of a whole document, limits.docBytesMax, and its framing). */
  docMessageBytesMax: 16 * 1024 * 1024 + 1024,
  /** Bytes a viewer's or document client's socket may have waiting to be sent before it is closed as too slow. */
  socketBufferedBytesMax: 16 * 1024 * 1024,
  /** Label sets of the request-latency histogram (routes × methods × consistencies, all from fixed sets). */
  latencySeriesMax: 512,
  /** A map path's fields in one crdt request (the core's depth limit is lower and says so). */
  mapPathFieldsMax: 16,
} as const

export const consistencySchema = z.enum(['eventual', 'strong', 'byzantine', 'auto'])
export type ConsistencyParam = z.infer<typeof consistencySchema>

export const valueTypeSchema = z.enum(['register', 'counter', 'set', 'map', 'doc'])

// ---- errors -------------------------------------------------------------------

export const errorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    /** The Raft leader this node knows, when the error is about leadership. */
    leader: z.string().nullable().optional(),
  }),
})
export type ErrorBody = z.infer<typeof errorBodySchema>

// ---- positions and values -----------------------------------------------------

export const hlcSchema = z.object({ wallMs: z.number().int(), logical: z.number().int() })

/** core/replica/commands.ts ReplyPath. */
export const replyPathSchema = z.enum(['raft', 'crdt', 'pbft', 'local', 'published'])

/** core/replica/commands.ts Position. */
export const positionSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('raft'), index: z.number().int(), version: z.number().int() }),
  z.object({ kind: z.literal('pbft'), version: z.number().int() }),
  z.object({ kind: z.literal('crdt'), timestamp: hlcSchema.nullable(), replica: z.string().nullable() }),
  z.object({ kind: z.literal('published'), version: z.number().int() }),
  z.object({ kind: z.literal('configuration'), version: z.number().int(), index: z.number().int() }),
])
export type PositionBody = z.infer<typeof positionSchema>

/** Why an auto write took its path (core AutoReason), the home group's mode, and the write's LWW timestamp. */
export const autoSchema = z.object({
  reason: z.enum(['datacenter', 'groupMode', 'deadline', 'raftUnavailable']),
  mode: z.string(),
  timestamp: hlcSchema,
})

/** core/crdt/causal.ts NestedValue: sorted register values or set elements, maps as objects. */
export type NestedValueBody = string[] | { readonly [field: string]: NestedValueBody }
export const nestedValueSchema: z.ZodType<NestedValueBody> = z.lazy(() => z.union([z.array(z.string()), z.record(z.string(), nestedValueSchema)]))

/** core/crdt/value.ts PlainValue: a counter's number, a register's string (null: absent), a set, map or document text. */
export const plainValueSchema = z.union([z.number(), z.string(), z.null(), nestedValueSchema])
export type PlainValueBody = z.infer<typeof plainValueSchema>

// ---- kv -----------------------------------------------------------------------

/** `?consistency=…` of the kv routes; absent: the namespace's own. */
export const kvQuerySchema = z.object({ consistency: consistencySchema.optional() })

/** PUT /v1/kv/:key */
export const kvPutBodySchema = z.strictObject({ value: z.string() })
export type KvPutBody = z.infer<typeof kvPutBodySchema>
export const kvPutReplySchema = z.object({ key: z.string(), path: replyPathSchema, position: positionSchema, auto: autoSchema.optional() })
export type KvPutReply = z.infer<typeof kvPutReplySchema>

/** GET /v1/kv/:key: the key's plain value whatever its type (a register's string, a counter's number, a set, a map, a document's text); 404 notFound when absent */
export const kvGetReplySchema = z.object({ key: z.string(), value: plainValueSchema, path: replyPathSchema, position: positionSchema })
export type KvGetReply = z.infer<typeof kvGetReplySchema>

/** DELETE /v1/kv/:key */
export const kvDeleteReplySchema = z.object({ key: z.string(), path: replyPathSchema, position: positionSchema, auto: autoSchema.optional() })
export type KvDeleteReply = z.infer<typeof kvDeleteReplySchema>

// ---- crdt ---------------------------------------------------------------------

const mapPathSchema = z.array(z.string()).min(1).max(apiLimits.mapPathFieldsMax)

/** POST /v1/crdt/:key: one typed operation (core/crdt/ops.ts CrdtOp). */
export const crdtOpBodySchema = z.discriminatedUnion('op', [
  /** Counter: `by` defaults to 1. */
  z.strictObject({ op: z.literal('inc'), by: z.number().int().positive().optional() }),
  z.strictObject({ op: z.literal('dec'), by: z.number().int().positive().optional() }),
  /** Observed-remove set. */
  z.strictObject({ op: z.literal('add'), element: z.string() }),
  z.strictObject({ op: z.literal('remove'), element: z.string() }),
  /** Map: a register at `path`, or everything at `path` removed. */
  z.strictObject({ op: z.literal('put'), path: mapPathSchema, value: z.string() }),
  z.strictObject({ op: z.literal('removeField'), path: mapPathSchema }),
  /** Multi-value register (in a register namespace). */
  z.strictObject({ op: z.literal('mvput'), value: z.string() }),
  /** Document text. */
  z.strictObject({ op: z.literal('insert'), index: z.number().int().nonnegative(), text: z.string() }),
  z.strictObject({ op: z.literal('delete'), index: z.number().int().nonnegative(), count: z.number().int().positive() }),
])
export type CrdtOpBody = z.infer<typeof crdtOpBodySchema>
export const crdtReplySchema = z.object({ key: z.string(), path: replyPathSchema, position: positionSchema, value: plainValueSchema })
export type CrdtReply = z.infer<typeof crdtReplySchema>

// ---- policies -----------------------------------------------------------------

/** core/replica/policy.ts Policy. */
export const policySchema = z.object({ consistency: consistencySchema, valueType: valueTypeSchema, home: z.string().nullable() })
export type PolicyBody = z.infer<typeof policySchema>

/** GET /v1/policies: every namespace with a policy of its own (others have the default, auto register). */
export const policiesReplySchema = z.object({ policies: z.array(z.object({ namespace: z.string(), policy: policySchema })) })
export type PoliciesReply = z.infer<typeof policiesReplySchema>

/** GET and PUT /v1/policies/:namespace */
export const policyReplySchema = z.object({ namespace: z.string(), policy: policySchema })
export type PolicyReply = z.infer<typeof policyReplySchema>

/** PUT /v1/policies/:namespace: merged over the current policy. */
export const policyPutBodySchema = z.strictObject({ consistency: consistencySchema.optional(), valueType: valueTypeSchema.optional(), home: z.string().nullable().optional() })
export type PolicyPutBody = z.infer<typeof policyPutBodySchema>

// ---- status, members, snapshot --------------------------------------------------

/** core/replica/snapshot.ts MemberView. */
export const memberViewSchema = z.object({
  id: z.string(),
  region: z.string().nullable(),
  state: z.enum(['alive', 'suspect', 'dead', 'left']),
  incarnation: z.number().int(),
  /** Region, address and tags as gossip knows them (core/gossip/memberMeta.ts); absent from servers that predate it. */
  meta: z
    .object({ region: z.string(), address: z.string(), tags: z.record(z.string(), z.string()) })
    .nullable()
    .optional(),
  link: z
    .object({
      mode: z.enum(['datacenter', 'hybrid', 'internet']).nullable(),
      rttMsP50: z.number().nullable(),
      rttMsP99: z.number().nullable(),
      lossRate: z.number().nullable(),
      bandwidthBitsPerSecond: z.number().nullable(),
      samples: z.number().int(),
    })
    .nullable(),
})
export type MemberViewBody = z.infer<typeof memberViewSchema>

// ---- cluster configuration and membership ---------------------------------------

/** Raw 32-byte Ed25519 public keys and 32-byte challenges and MACs travel as base64url (43 characters, no padding). */
export const bytes32Schema = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'expected 32 bytes as base64url (43 characters)')
/** An Ed25519 signature: 64 bytes as base64url (86 characters). */
export const signatureSchema = z.string().regex(/^[A-Za-z0-9_-]{86}$/, 'expected a 64-byte Ed25519 signature as base64url (86 characters)')
const idSchema = z.string().refine(isValidId, 'expected an id of 1 to 64 characters of [A-Za-z0-9._-]')
const regionSchema = idSchema
/** A member's base URL: http(s)://host:port, nothing after it. */
export const memberUrlSchema = z
  .string()
  .max(configurationLimits.addressBytesMax)
  .refine((text) => {
    if (!URL.canParse(text)) return false
    const url = new URL(text)
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.pathname === '/' && url.search === '' && url.hash === '' && url.username === '' && !text.endsWith('/')
  }, 'expected a base URL http(s)://host:port (no path)')
export const tagsSchema = z
  .record(z.string().min(1).max(configurationLimits.tagBytesMax), z.string().max(configurationLimits.tagBytesMax))
  .refine((tags) => Object.keys(tags).length <= configurationLimits.tagsMax, `at most ${configurationLimits.tagsMax} tags`)

/** core/replica/clusterConfiguration.ts ConfigMember: `address` is `url` here, the key base64url ('' when the member has none). */
export const configMemberBodySchema = z.object({
  id: z.string(),
  region: z.string(),
  url: z.string(),
  publicKey: z.union([bytes32Schema, z.literal('')]),
  tags: z.record(z.string(), z.string()),
})
export type ConfigMemberBody = z.infer<typeof configMemberBodySchema>

/** core/replica/clusterConfiguration.ts ClusterConfiguration. */
export const configurationBodySchema = z.object({
  version: z.number().int().min(1),
  members: z.array(configMemberBodySchema).max(configurationLimits.membersMax),
  raftVoters: z.array(z.string()),
  raftLearners: z.array(z.string()),
  pbftReplicas: z.array(z.string()),
  voterTargets: z.record(z.string(), z.number().int().min(0)),
  /** The PBFT group that runs (its epoch, the sequence number it orders after, its members in order); absent until the first pbftGroupSet. */
  pbftRunning: z.object({ epoch: z.number().int().min(0), startSeq: z.number().int().min(0), replicas: z.array(z.string()) }).optional(),
})
export type ConfigurationBody = z.infer<typeof configurationBodySchema>

/** GET /v1/cluster/join/challenge: a fresh challenge the joiner signs (single use, good for expiresInMs). */
export const joinChallengeReplySchema = z.object({ clusterId: z.string(), challenge: bytes32Schema, expiresInMs: z.number().int().positive() })
export type JoinChallengeReply = z.infer<typeof joinChallengeReplySchema>

/**
 * POST /v1/cluster/join: a node asks to become a member. `signature`: Ed25519
 * with the node key over api/joinProof.ts joinTranscript; `secretProof`:
 * HMAC-SHA256 of the cluster secret over the same bytes, when the cluster has one.
 */
export const joinBodySchema = z.strictObject({
  clusterId: idSchema,
  id: idSchema,
  region: regionSchema,
  url: memberUrlSchema,
  publicKey: bytes32Schema,
  tags: tagsSchema.default({}),
  challenge: bytes32Schema,
  signature: signatureSchema,
  secretProof: bytes32Schema.optional(),
})
export type JoinBody = z.input<typeof joinBodySchema>

/** The join's answer, once the `memberJoin` applied at the member that took it: what the new node starts its replica with. */
export const joinReplySchema = z.object({
  clusterId: z.string(),
  configuration: configurationBodySchema,
  /** The policies the cluster started with (later changes reach the new node through the Raft log). */
  policies: z.record(z.string(), policySchema),
  /**
   * In a cluster with region objects (an edge Worker's), the Worker URL they are reached
   * through (`/v1/peer?region=…`): a node that joins through another node learns it here.
   * Absent where the joiner came through the Worker itself (that URL is the one).
   */
  edgeUrl: z.string().max(2048).optional(),
})
export type JoinReply = z.infer<typeof joinReplySchema>

/**
 * PUT /v1/cluster/pbft: the PBFT group the cluster should have (3f+1 members with keys). The
 * configuration records it as the target at once; the running group changes to it by its own
 * order (approvals of 2f+1 of its members), at its next checkpoint.
 */
export const pbftGroupBodySchema = z.strictObject({ replicas: z.array(idSchema).min(1).max(pbftLimits.replicasMax) })
export type PbftGroupBody = z.infer<typeof pbftGroupBodySchema>

/** DELETE /v1/members/:id, POST /v1/cluster/leave and PUT /v1/cluster/pbft: the configuration after the change applied. */
export const configurationReplySchema = z.object({ version: z.number().int(), configuration: configurationBodySchema })
export type ConfigurationReply = z.infer<typeof configurationReplySchema>

/** GET /v1/members: the gossip view of each member, and the configuration (version, voters, learners, PBFT group, urls). */
export const membersReplySchema = z.object({ members: z.array(memberViewSchema), configuration: configurationBodySchema })
export type MembersReply = z.infer<typeof membersReplySchema>

const eventPositionSchema = z.object({ epoch: z.string(), lastSeq: z.number().int() })

/** GET /v1/status */
export const statusReplySchema = z.object({
  /** The cluster this node is a member of; null or absent when its host does not say (a server from before it was added). */
  clusterId: z.string().nullable().optional(),
  node: z.string(),
  region: z.string(),
  boot: z.number().int(),
  /** The home (Raft) group's mode as this node measures it. */
  mode: z.enum(['datacenter', 'hybrid', 'internet']),
  /** Raft role; 'none' on a node outside the Raft group. */
  role: z.string(),
  term: z.number().int(),
  leader: z.string().nullable(),
  commit: z.number().int(),
  /** Other members this node sees alive. */
  peers: z.number().int(),
  /** Members this node knows, itself included. */
  members: z.number().int(),
  events: eventPositionSchema,
  /** The configuration this node applied: its version and groups. */
  configuration: z.object({ version: z.number().int(), voters: z.array(z.string()), learners: z.array(z.string()), pbft: z.array(z.string()) }),
})
export type StatusReply = z.infer<typeof statusReplySchema>

/** GET /v1/snapshot: the whole HostSnapshot; checked here on the fields every viewer uses. */
export const snapshotReplySchema = z.looseObject({
  node: z.looseObject({ id: z.string(), region: z.string(), boot: z.number().int(), homeMode: z.string() }),
  members: z.array(memberViewSchema),
  policies: z.array(z.object({ namespace: z.string(), policy: policySchema })),
  events: eventPositionSchema,
})
export type SnapshotReply = HostSnapshot

// ---- events (WebSocket /v1/events) ------------------------------------------------

/** `?since=EPOCH:SEQ` (the epoch holds a colon itself: the sequence number is after the last one). */
export const sinceSchema = z
  .string()
  .regex(/^.+:\d{1,15}$/, 'since is EPOCH:SEQ, as the last feed item seen (epoch from the snapshot)')
  .transform((text) => {
    const colon = text.lastIndexOf(':')
    return { epoch: text.slice(0, colon), seq: Number(text.slice(colon + 1)) }
  })

/** A value as it travels in JSON: byte arrays (Yjs updates) as base64 strings. */
export type Wire<T> = T extends Uint8Array ? string : T extends readonly (infer I)[] ? Wire<I>[] : T extends object ? { [K in keyof T]: Wire<T[K]> } : T
export type WireReplicaEvent = Wire<ReplicaEvent>

/**
 * The feed a viewer receives (JSON text messages): a snapshot first, then the
 * host's feed items (host/eventLog.ts FeedItem), or one error when the viewer
 * could not be subscribed. The socket closes after a cutOff or an error.
 */
export const feedMessageSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('snapshot'), snapshot: snapshotReplySchema }),
  z.object({ kind: z.literal('event'), seq: z.number().int(), event: z.looseObject({ source: z.string(), event: z.looseObject({}) }) }),
  z.object({ kind: z.literal('gap'), reason: z.enum(['dropped', 'epoch']), fromSeq: z.number().int(), toSeq: z.number().int() }),
  z.object({ kind: z.literal('cutOff'), reason: z.enum(['slowSubscriber', 'closed']), message: z.string() }),
  z.object({ kind: z.literal('error'), error: errorBodySchema.shape.error }),
])
export type FeedMessage =
  | { readonly kind: 'snapshot'; readonly snapshot: SnapshotReply }
  | { readonly kind: 'event'; readonly seq: number; readonly event: WireReplicaEvent }
  | { readonly kind: 'gap'; readonly reason: 'dropped' | 'epoch'; readonly fromSeq: number; readonly toSeq: number }
  | { readonly kind: 'cutOff'; readonly reason: 'slowSubscriber' | 'closed'; readonly message: string }
  | { readonly kind: 'error'; readonly error: ErrorBody['error'] }

// ---- dev fault switch (POST /v1/admin/faults) --------------------------------------

/** host/faults.ts FaultState: the faults in force at the node (null or false: off). */
export const faultStateSchema = z.object({
  /** Peers this node is cut from; null: none. */
  partition: z.array(z.string()).max(faultLimits.partitionPeersMax).nullable(),
  /** Extra one-way delay of every frame the node sends; null: none. */
  latencyMs: z.number().min(0).max(faultLimits.latencyMsMax).nullable(),
  /** Probability that a frame is dropped; null: none. */
  loss: z.number().min(0).max(1).nullable(),
  /** A paused node handles no frames and no ticks (its API still answers). */
  pause: z.boolean(),
})
export type FaultStateBody = z.infer<typeof faultStateSchema>

/** The body: the fields to change (absent ones keep their value; host/faults.ts FaultChange). */
export const faultChangeBodySchema = z.strictObject({
  partition: faultStateSchema.shape.partition.optional(),
  latencyMs: faultStateSchema.shape.latencyMs.optional(),
  loss: faultStateSchema.shape.loss.optional(),
  pause: z.boolean().optional(),
})
export type FaultChangeBody = z.infer<typeof faultChangeBodySchema>
