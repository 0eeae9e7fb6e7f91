/**
 * Every error code a client can meet, with its HTTP status: the replica's
 * reply and refusal codes (core/replica, core/crdt, core/raft, core/pbft and
 * the host kernel, read from their sources) and the API's own. One table, so
 * a code never gets a status by accident: a code missing here is a 500 and a
 * test (test/unit/apiErrors.test.ts) finds every code of the core in this
 * table or in `peerOnlyCodes`.
 *
 * Errors travel as `{ "error": { "code", "message", "leader"? } }`.
 */
import type { ErrorBody } from './contract.ts'

export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 421 | 426 | 500 | 503 | 504

/** Codes the API itself answers with (beside the replica's). */
export const apiCodes = {
  /** The body is not JSON. */
  malformedJson: 400,
  /** The body or a query parameter does not match the contract (api/contract.ts). */
  invalidBody: 400,
  invalidQuery: 400,
  /** `consistency` is none of eventual, strong, byzantine, auto. */
  invalidConsistency: 400,
  /** No Authorization header (or access_token on a WebSocket) when a token is configured, or a wrong token. */
  unauthorized: 401,
  /** The read token used for a write, or an admin route from a non-loopback client. */
  forbidden: 403,
  /** A key with no value. */
  notFound: 404,
  /** No such route (or the dev fault switch on a node without --dev). */
  unknownRoute: 404,
  /** The request body is above apiLimits.requestBytesMax. */
  bodyTooLarge: 413,
  /** A plain HTTP request on a WebSocket route. */
  upgradeRequired: 426,
  /** The node is stopping (node/main.ts): it takes no new request; ask another node (Retry-After). */
  shuttingDown: 503,
  /** DELETE /v1/members/:id with an id that is no member id. */
  invalidMemberId: 400,
  /** A join naming another cluster than the one of the node asked. */
  clusterMismatch: 409,
  /** A join whose challenge was not handed out by the node asked, was used already, or expired. */
  badChallenge: 403,
  /** A join whose signature does not verify with the public key it names. */
  badSignature: 403,
  /** A join without the cluster secret's proof where the cluster has one, with a wrong one, or with one where it has none. */
  badSecret: 403,
  /** A bug: an exception in a handler, or a code no table row names. */
  internal: 500,
} as const satisfies Record<string, ErrorStatus>

/** The replica's codes a client call can end with (host.call refusals and replies). */
export const replicaCodes = {
  // -- 400: the request is wrong; retrying it changes nothing
  /** core/replica/policy.ts keyProblem, core/crdt/engine.ts propose: not a key. */
  invalidKey: 400,
  /** core/replica/replica.ts setPolicy: not a namespace id. */
  invalidNamespace: 400,
  /** core/replica/policy.ts policyProblem: e.g. a counter in a strong namespace. */
  invalidPolicy: 400,
  /** core/crdt/ops.ts: a zero or huge counter step, a map path too deep. */
  invalidArgument: 400,
  /** core/crdt/doc.ts: a text edit outside the text. */
  outOfRange: 400,
  /** core/crdt/doc.ts: not a Yjs update. */
  invalidUpdate: 400,
  /** core/crdt/awareness.ts: not a y-protocols awareness update. */
  invalidAwareness: 400,
  /** core/crdt/engine.ts docDiff: not a Yjs state vector. */
  invalidStateVector: 400,
  /** host/eventLog.ts subscribe: a `since` ahead of the log or negative. */
  invalidSeq: 400,
  // -- 404: no such member
  /** core/replica/configurationChanges.ts: a memberRemove of an id that is no member (also the replica's routing of an engine it runs not). */
  notMember: 404,
  // -- 409: the configuration says otherwise
  /** The last Raft voter cannot be removed. */
  lastVoter: 409,
  // -- 409: the key's namespace says otherwise
  /** core/replica/replica.ts: the consistency asked is not the namespace's (reads may ask eventual). */
  consistencyMismatch: 409,
  /** core/replica/replica.ts, core/crdt/ops.ts: the operation does not fit the key's value type. */
  typeMismatch: 409,
  /** core/replica/configurationChanges.ts: the id is a member with another key, address or region. */
  memberConflict: 409,
  /** Removing that voter would leave the voters without a quorum of live ones. */
  belowQuorum: 409,
  /** A member of the PBFT target is removed only after a target without it is set (pbftGroupSet). */
  pbftReplica: 409,
  /** core/replica/configurationChanges.ts: a PBFT target that is not 3f+1 distinct members with keys. */
  invalidPbftGroup: 400,
  /** configurationLimits.votersMax. */
  tooManyVoters: 409,
  // -- 413: over a named limit
  /** valueBytesMax, entryBytesMax, operationBytesMax, stateBytesMax, a document update. */
  tooLarge: 413,
  /** core/crdt/ops.ts textBytesMax, core/crdt/awareness.ts awarenessBytesMax. */
  oversized: 413,
  /** A memberJoin at configurationLimits.membersMax (also Raft's own membersMax). */
  tooManyMembers: 413,
  /** keysMax of the CRDT store or of a strong state machine. */
  tooManyKeys: 413,
  /** policyLimits.namespacesMax. */
  tooManyNamespaces: 413,
  /** strongStateLimits.originsMax: writers the at-most-once table remembers. */
  tooManyOrigins: 413,
  /** awarenessStatesMax. */
  tooManyAwarenessStates: 413,
  // -- 400 (membership): a member or configuration that is not well formed
  /** core/replica/clusterConfiguration.ts memberProblem. */
  invalidMember: 400,
  invalidConfiguration: 400,
  // -- 421: this node cannot serve it; another can
  /** A byzantine request at a node outside the PBFT group, a strong read at one outside the Raft group. */
  notInGroup: 421,
  // -- 503: not now; retry (Retry-After)
  /** The kernel's inFlightMax, the replica's pendingRequestsMax, Raft's uncommitted entries, CRDT acks, subscribers. */
  overloaded: 503,
  /** No Raft leader is known. */
  noLeader: 503,
  /** The leader changed while the request was on its way (the reply names the new one when known). */
  notLeader: 503,
  /** Leadership is moving. */
  transferring: 503,
  /** PBFT: this node's previous byzantine request is still being ordered (one at a time per client). */
  busy: 503,
  /** PBFT: pendingRequestsMax requests wait. */
  queueFull: 503,
  /** PBFT ordered a later request of this node first. */
  staleTimestamp: 503,
  /** An auto write's stamp is too far ahead of this node's clock. */
  clockDrift: 503,
  /** A strong write older than the newest ones of its origin the state machine remembers: not applied. */
  expired: 503,
  // -- 504: no answer in time; the outcome is unknown
  /** core/replica/replica.ts requestTimeoutMs. */
  timeout: 504,
  // -- 503 (membership): another change applied first; retry against the new configuration
  staleConfiguration: 503,
  // -- 500: a bug (the replica built a request or a reply it cannot read)
  /** core/replica/replica.ts propose: a request id the kernel should never make. */
  invalidRequest: 500,
  duplicateRequest: 500,
  /** core/replica/strongState.ts: a configuration command on a state machine that holds none. */
  noConfiguration: 500,
  /** core/adaptive/prober.ts setPeers: the replica built a peer list twice naming one peer. */
  duplicatePeer: 500,
  /** core/replica/strongState.ts: a log command it cannot decode. */
  malformed: 500,
  /** core/replica/replica.ts: a log reply it cannot decode. */
  malformedReply: 500,
  /** core/pbft/gateway.ts: a client id or timestamp the replica made wrong. */
  invalid: 500,
} as const satisfies Record<string, ErrorStatus>

/**
 * Codes of the core that answer peers, never a client call: refused peer
 * messages and frames, decoding failures, membership and mode-override
 * commands the API does not offer. Listed so that the table test can tell a
 * forgotten client code from one that cannot reach a client.
 */
export const peerOnlyCodes: readonly string[] = [
  // decoding (core/codec): a peer's bytes
  'invalidField',
  'unknownType',
  'truncated',
  'trailingBytes',
  'unsupportedVersion',
  'unknownEngine',
  // peer frames (host/peerFrames.ts)
  'wrongCluster',
  'wrongDestination',
  'wrongSender',
  // replica routing of peer messages
  'unknownPeer',
  'forgedOrigin',
  // raft: peer messages and membership changes (not offered by the API)
  'twoLeaders',
  'alreadyLeader',
  'alreadyMember',
  'changePending',
  'learnerBehind',
  'notLearner',
  'notVoter',
  // pbft: peer messages
  'badRequest',
  'notGateway',
  'notInView',
  'outsideWatermarks',
  'primaryPrepare',
  // pbft: a peer's messages across group epochs (core/pbft/reconfiguration.ts)
  'notVoting',
  'laterEpoch',
  'olderEpoch',
  'afterEpoch',
  // replica: a PBFT approval of the configuration's target from a peer (core/replica/pbftGroupChange.ts)
  'invalidApproval',
  // gossip: peer messages
  'invalidVersion',
  'leaving',
  'misdirected',
  'staleVersion',
  'tooManyUpdates',
  // adaptive: probes, measurements and mode overrides (not offered by the API)
  'forgedTime',
  'groupLinks',
  'invalidBytes',
  'invalidDuration',
  'invalidId',
  'invalidMeasurement',
  'invalidMessage',
  'invalidMode',
  'invalidRtt',
  'invalidTime',
  'linkInUse',
  'timeWentBack',
  'tooManyGroups',
  'tooManyLinks',
  'tooManyPeers',
  'unknownGroup',
  'unknownLink',
  'unknownProbe',
  // placement (leader-internal)
  'invalidWrites',
  'tooManyRegions',
  // core/maxreg: the max-register engine of the benchmarks, not hosted by a replica
  'invalidValue',
]

const statusByCode: ReadonlyMap<string, ErrorStatus> = new Map<string, ErrorStatus>([...Object.entries(apiCodes), ...Object.entries(replicaCodes)])

/** The status of `code`; 500 for a code no row names. */
export function statusOf(code: string): ErrorStatus {
  return statusByCode.get(code) ?? 500
}

/** Whether `code` has a row (the table test uses it). */
export function isMappedCode(code: string): boolean {
  return statusByCode.has(code)
}

/** Seconds a client should wait before retrying a 503 (elections take a few hundred ms; a second covers one). */
export const retryAfterSeconds = 1

export interface ApiError {
  readonly status: ErrorStatus
  readonly body: ErrorBody
  readonly headers: Readonly<Record<string, string>>
}

/** The response of an error: its status from the table, the body, and Retry-After on a 503. */
export function apiError(code: string, message: string, leader?: string | null): ApiError {
  const status = statusOf(code)
  const body: ErrorBody = { error: { code, message, ...(leader === undefined ? {} : { leader }) } }
  return { status, body, headers: status === 503 ? { 'retry-after': String(retryAfterSeconds) } : {} }
}
