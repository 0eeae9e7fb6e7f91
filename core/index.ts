/**
 * The curated public API of the core: what the host kernel and the hosts
 * (node/, the Durable Object, the simulator, benches, tools) import. The
 * files behind it may move; these names stay.
 */

// The engine contract (ready.ts): how a host drives the replica or any engine, and what it refuses.
export { emptyReady, type Engine, type Outbound, type Ready, type Refusal } from './ready.ts'

// Ports: the only ways the core reaches the world; each host implements them.
export type { Clock, NodeId, Signer, StorageReader, StorageWrite } from './ports.ts'

// The replica: one node of every engine, its options, identity and storage keys.
export { pbftGroupId, raftGroupId, Replica, replicaStorageKeys, type ReplicaMember, type ReplicaMetrics, type ReplicaOptions } from './replica/replica.ts'
export { defaultReplicaConfig, replicaLimits, validateReplicaConfig, type ReplicaConfig } from './replica/config.ts'
export type { PbftReplica } from './pbft/config.ts'
export type { PbftGroupConfig } from './pbft/groupConfig.ts'
export { approveReconfiguration, reconfigurationError, type PbftApproval, type PbftReconfiguration, type PbftReconfigurationResult } from './pbft/reconfiguration.ts'
export type { ProberConfig } from './adaptive/proberConfig.ts'
export type { ModeDetectorConfig } from './adaptive/modeConfig.ts'
export { defaultPlacementConfig, placementLimits, type PlacementConfig } from './replica/placementConfig.ts'

// What clients ask and what they are answered (every accepted request: exactly one reply in a later Ready).
export type { AutoReason, Position, ReplicaApplied, ReplicaCommand, ReplicaReply, ReplyPath } from './replica/commands.ts'
export type { CrdtOp } from './crdt/ops.ts'
export type { CrdtType, PlainValue } from './crdt/value.ts'
export type { Hlc } from './crdt/hlc.ts'

// Policies: a namespace's consistency and value type, and the checks on keys and policies.
export { consistencies, defaultPolicy, keyProblem, namespaceOf, policyLimits, policyProblem, valueTypes, type Consistency, type Policy, type ValueType } from './replica/policy.ts'

// Events: observations tagged with their source, each discriminated by `kind`.
export type { PeerMessageRefused, ReplicaEvent } from './replica/events.ts'
export type { CrdtEvent, DocChangeOrigin, KeyChangeOrigin, AwarenessChangeOrigin } from './crdt/engine.ts'
export type { GossipEvent, MemberChangeReason } from './gossip/engine.ts'
export type { RaftEvent, RaftFollowerStatus, RaftRole, RaftStatus } from './raft/engine.ts'
export type { PbftEvent } from './pbft/engine.ts'
export type { GroupModeChanged, LinkModeChanged, ModeChangedEvent, ModeChangeReason } from './adaptive/modeEvents.ts'
export { modes, type Mode } from './adaptive/mode.ts'
export type { HomeProposal, LeaderTransfer } from './replica/placement.ts'

// Snapshots for viewers: one serializable copy of a node.
export { snapshotLimits, type MemberView, type ReplicaSnapshot } from './replica/snapshot.ts'

// Peer messages and their codecs: envelopes, one engine's frames, and messages split across several frames.
export type { ForwardMessage, ForwardResult, ReplicaMessage, ReplicaMessageEngine } from './replica/messages.ts'
export { replicaCodec, replicaEngines } from './replica/codec.ts'
export { readMessageFrame, writeMessageFrame, type DecodedMessage, type EngineCodec, type FrameAddress } from './codec/engineCodec.ts'
export { chunkLimits, FrameReceiver, writeMessageFrames } from './codec/chunks.ts'
export { decodeFrame, decodeWith, encodeFrame, encodeWith, protocolVersion, readEnvelope, writeEnvelope, type Envelope } from './codec/envelope.ts'
export { engineIds, engineName, type EngineId, type EngineName } from './codec/engineIds.ts'
export type { DecodeError, DecodeErrorCode } from './codec/decodeError.ts'
// Yjs awareness updates (y-protocols), for a y-websocket server relaying presence.
export { awarenessLimits, awarenessTimeoutMs, readAwarenessUpdate, writeAwarenessUpdate, type AwarenessEntry } from './crdt/awareness.ts'

// Limits and small tools every host uses: ids, sizes (frames, PBFT operations), assertions, bounded queues, results, the seeded Rng.
export { isValidId, limits } from './lib/limits.ts'
export { pbftLimits } from './pbft/config.ts'
export { assert, assertFailed, assertIntInRange, AssertionError } from './lib/assert.ts'
export { BoundedQueue } from './lib/queue.ts'
export { err, ok, type Result } from './lib/result.ts'
export { Rng } from './lib/prng.ts'

// A minimal engine (a max register) for host tests and benches of the driver loop and the wire.
export { maxRegCodec } from './maxreg/codec.ts'
export { MaxRegEngine, type MaxRegAck, type MaxRegEvent, type MaxRegStatus, type MaxRegWrite } from './maxreg/engine.ts'
export type { MaxRegMessage } from './maxreg/messages.ts'

// More of the core the hosts use (node/, durable-objects/, edge-worker/, api/, host/).
export { defaultCrdtConfig } from './crdt/config.ts'
export { toTicks, wanGossipConfig } from './gossip/config.ts'
export type { MemberMeta } from './gossip/memberMeta.ts'
export { defaultPbftConfig } from './pbft/config.ts'
export { defaultRaftConfig, raftLimits } from './raft/config.ts'
export { bootstrapConfiguration, configurationLimits, configurationProblem, normalizeConfiguration, plainMember, type ClusterConfiguration, type ConfigMember } from './replica/clusterConfiguration.ts'
export { concatBytes } from './codec/fields.ts'
