/**
 * Replicas in the simulator: node n(i+1) lives in regions[i % regions.length]
 * (the simulator's own placement), every node votes in the Raft group unless
 * told otherwise, and the first `pbftReplicas` nodes form the PBFT group with
 * keys from a seeded keyring (the same key across restarts).
 */
import type { Rng } from '../core/lib/prng.ts'
import type { NodeId, Signer } from '../core/ports.ts'
import { bootstrapConfiguration, plainMember, type ClusterConfiguration } from '../core/replica/clusterConfiguration.ts'
import { replicaCodec } from '../core/replica/codec.ts'
import type { ReplicaApplied, ReplicaCommand } from '../core/replica/commands.ts'
import type { ReplicaEvent } from '../core/replica/events.ts'
import type { ReplicaMessage } from '../core/replica/messages.ts'
import type { Policy } from '../core/replica/policy.ts'
import { Replica, type ReplicaMember, type ReplicaOptions } from '../core/replica/replica.ts'
import { replicaRequests } from '../host/replicaHost.ts'
import { SimKeyring } from './signer.ts'
import type { SimEngineSpec, Simulator } from './simulator.ts'

export type ReplicaSim = Simulator<ReplicaCommand, ReplicaMessage, ReplicaApplied, ReplicaEvent>
export type ReplicaSpec = SimEngineSpec<ReplicaCommand, ReplicaMessage, ReplicaApplied, ReplicaEvent>

export interface ReplicaSpecOptions {
  readonly nodes: number
  readonly regions: readonly string[]
  /** Raft voters by index (default: every node). */
  readonly raftVoters?: readonly number[]
  /** The first this many nodes form the PBFT group (0: none). */
  readonly pbftReplicas: number
  /** The first this many nodes (spares included) have a key and a signer (default pbftReplicas): those outside the group may be added to it. */
  readonly keyedNodes?: number
  /** Filled with every keyed node's public key (for a spare's join). */
  readonly publicKeys?: Map<NodeId, Uint8Array>
  readonly keyRng: Rng
  readonly policies?: Readonly<Record<string, Policy>>
  readonly config?: ReplicaOptions['config']
  readonly prober?: ReplicaOptions['prober']
  readonly mode?: ReplicaOptions['mode']
  readonly placement?: ReplicaOptions['placement']
  /** Nodes in the first configuration (the first this many; default all): the others are spares that join later. */
  readonly membersAtStart?: number
  /** The configuration a spare starts from once it joined (its join answer's); a node not in it starts from the first configuration. */
  readonly joinedWith?: ReadonlyMap<NodeId, ClusterConfiguration>
}

export function simMembers(nodes: number, regions: readonly string[]): ReplicaMember[] {
  return Array.from({ length: nodes }, (_, index) => ({ id: `n${index + 1}`, region: regions[index % regions.length]! }))
}

export function replicaSpec(options: ReplicaSpecOptions): ReplicaSpec {
  const members = simMembers(options.membersAtStart ?? options.nodes, options.regions)
  const ids = members.map((member) => member.id)
  const voters = (options.raftVoters ?? ids.map((_, index) => index)).map((index) => ids[index]!)
  const keyring = new SimKeyring(options.keyRng)
  const allIds = simMembers(options.nodes, options.regions).map((member) => member.id)
  const signers = new Map<NodeId, Signer>(allIds.slice(0, Math.max(options.pbftReplicas, options.keyedNodes ?? 0)).map((id) => [id, keyring.signer()]))
  for (const [id, signer] of signers) options.publicKeys?.set(id, signer.publicKey)
  const configuration = bootstrapConfiguration({
    members: members.map((member) => plainMember(member.id, member.region, signers.get(member.id)?.publicKey)),
    raftVoters: voters,
    pbftReplicas: ids.slice(0, options.pbftReplicas),
  })
  return {
    codec: replicaCodec,
    create: (context) =>
      new Replica({
        id: context.id,
        configuration: options.joinedWith?.get(context.id) ?? configuration,
        signer: signers.get(context.id) ?? null,
        storage: context.storage,
        rng: context.rng,
        clock: context.clock,
        policies: options.policies,
        config: options.config,
        prober: options.prober,
        mode: options.mode,
        placement: options.placement,
      }),
    requests: () => replicaRequests,
  }
}
