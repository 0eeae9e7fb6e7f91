/**
 * Replicas hosted through ReplicaHost on one lock-step wire of encoded peer
 * frames (PeerFrames), sharing one manual monotonic clock: the real host
 * path minus sockets and disk, for API and host tests. Three nodes, or with
 * `pbftGroup` four, all of them a PBFT group signing with simulator keys.
 */
import { Rng } from '../../core/lib/prng.ts'
import { bootstrapConfiguration, plainMember } from '../../core/replica/clusterConfiguration.ts'
import { replicaCodec } from '../../core/replica/codec.ts'
import type { ReplicaMessage } from '../../core/replica/messages.ts'
import type { Policy } from '../../core/replica/policy.ts'
import { Replica } from '../../core/replica/replica.ts'
import { messageIdStartOf, PeerFrames } from '../../host/peerFrames.ts'
import { ReplicaHost } from '../../host/replicaHost.ts'
import { replicaPolicies } from '../../sim/scenarios/replicaRun.ts'
import { SimKeyring } from '../../sim/signer.ts'
import { SimStorage } from '../../sim/storage.ts'
import type { Signer } from '../../core/ports.ts'

export interface HostedNode {
  readonly id: string
  readonly host: ReplicaHost
  readonly frames: PeerFrames<ReplicaMessage>
  readonly storage: SimStorage
}

export const hostedMembers = [
  { id: 'n1', region: 'eu' },
  { id: 'n2', region: 'us' },
  { id: 'n3', region: 'ap' },
]

/** The fourth node of a cluster with a PBFT group (3f+1 with f = 1). */
export const hostedFourthMember = { id: 'n4', region: 'eu' }

export interface HostedClusterOptions {
  /** Four nodes forming a PBFT group (byzantine namespaces work); three and no PBFT group otherwise. */
  readonly pbftGroup?: boolean
}

/** The node defaults of NODE_CONTRACT (cfg, cnt, set, map, doc, bft, edge) and `reg`, an eventual register namespace: one per consistency and value type. */
export const hostedNodePolicies: Readonly<Record<string, Policy>> = {
  cfg: { consistency: 'strong', valueType: 'register', home: null },
  cnt: { consistency: 'eventual', valueType: 'counter', home: null },
  set: { consistency: 'eventual', valueType: 'set', home: null },
  map: { consistency: 'eventual', valueType: 'map', home: null },
  doc: { consistency: 'eventual', valueType: 'doc', home: null },
  reg: { consistency: 'eventual', valueType: 'register', home: null },
  bft: { consistency: 'byzantine', valueType: 'register', home: null },
  edge: { consistency: 'auto', valueType: 'register', home: null },
}

/** Three (or four) hosted replicas; `advance(ms)` moves the clock in 5 ms steps, delivering frames and running due ticks. */
export function hostedCluster(seed: number, policies: Readonly<Record<string, Policy>> = replicaPolicies, options: HostedClusterOptions = {}) {
  const members = options.pbftGroup === true ? [...hostedMembers, hostedFourthMember] : hostedMembers
  const keyring = new SimKeyring(Rng.fromSeed(seed).split('keys'))
  const signers = new Map<string, Signer>(options.pbftGroup === true ? members.map((member) => [member.id, keyring.signer()]) : [])
  const pbftReplicas = [...signers].map(([id, signer]) => ({ id, publicKey: signer.publicKey }))
  let nowMs = 0
  const wire: { from: string; to: string; frame: Uint8Array }[] = []
  const nodes: HostedNode[] = members.map((member) => {
    const storage = new SimStorage()
    const replica = new Replica({
      id: member.id,
      configuration: bootstrapConfiguration({ members: members.map((m) => plainMember(m.id, m.region, signers.get(m.id)?.publicKey)), raftVoters: members.map((m) => m.id), pbftReplicas: pbftReplicas.map((r) => r.id) }),
      signer: signers.get(member.id) ?? null,
      storage,
      rng: Rng.fromSeed(seed).split(member.id),
      clock: { nowMs: () => 1_700_000_000_000 + nowMs },
      policies,
    })
    const frames = new PeerFrames<ReplicaMessage>({ codec: replicaCodec, clusterId: 'test', self: member.id, messageIdStart: messageIdStartOf(replica.boot) })
    const host = new ReplicaHost({
      replica,
      storage,
      transport: {
        send: (to, message) => {
          for (const frame of frames.encode(to, message)) wire.push({ from: member.id, to, frame })
        },
      },
      monotonic: { nowMs: () => nowMs },
    })
    return { id: member.id, host, frames, storage }
  })
  const byId = new Map(nodes.map((node) => [node.id, node]))
  function advance(ms: number): void {
    for (let step = 0; step < ms; step += 5) {
      nowMs += 5
      for (const { from, to, frame } of wire.splice(0)) {
        const target = byId.get(to)!
        const result = target.frames.receive(from, frame)
        if (result.kind === 'message') target.host.step(result.from, result.message)
      }
      for (const node of nodes) if (node.host.nextDeadlineMs() <= nowMs) node.host.tick()
    }
  }
  return { nodes, advance, wire }
}
