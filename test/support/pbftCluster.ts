/**
 * A PBFT group on the in-memory host (each replica hosted through the host
 * kernel): n replicas with simulator keys (or real Ed25519 ones), a KV state
 * machine each, lock-step delivery. For engine tests.
 * `restart` is a power loss: the replica's unsynced writes are kept, lost or
 * torn (sim/storage.ts), and a new engine and state machine start from what
 * storage kept.
 */
import { KvStateMachine, readKvValue, writeKvGet } from '../../core/kv.ts'
import { Rng } from '../../core/lib/prng.ts'
import type { NodeId, Signer } from '../../core/ports.ts'
import type { PbftConfig } from '../../core/pbft/config.ts'
import { PbftEngine, type PbftApplied, type PbftCommand, type PbftEvent } from '../../core/pbft/engine.ts'
import { PbftGroup } from '../../core/pbft/group.ts'
import type { PbftMessage } from '../../core/pbft/messages.ts'
import { SimKeyring } from '../../sim/signer.ts'
import { defaultStorageFaults, SimStorage, type StorageFaults } from '../../sim/storage.ts'
import { hosted, type HostedNode } from './memoryHost.ts'

export type PbftNode = HostedNode<PbftCommand, PbftMessage, PbftApplied, PbftEvent> & {
  readonly engine: PbftEngine
  machine: KvStateMachine
  readonly signer: Signer
  /** The group as every replica knows it (primaries, batch digests), for tests that craft messages. */
  readonly group: PbftGroup
  /** Power loss and restart from storage; messages it had not sent are gone. `applied` and `events` go on accumulating. */
  restart(rng: Rng, faults?: StorageFaults): void
  /**
   * Power loss in the middle of handling a Ready: its writes reached storage but not the sync, nothing was sent.
   * The Ready is the first one `input` leaves (a message stepped in through the node, say); then the node restarts.
   */
  restartMidReady(input: () => void, rng: Rng, faults?: StorageFaults): void
}

/**
 * `spares`: more nodes (r<n>, r<n+1>, ...) built with the same group but outside it, as a replica that is to
 * join is built (it votes in nothing until a reconfiguration adds it and state transfer brings it the state).
 */
export function pbftCluster(n: number, config: Partial<PbftConfig> = {}, seed = 1, spares = 0): Record<NodeId, PbftNode> {
  const keyring = new SimKeyring(Rng.fromSeed(seed).split('keys'))
  const ids = Array.from({ length: n + spares }, (_, index) => `r${index}`)
  const signers = ids.map(() => keyring.signer())
  const replicas = ids.slice(0, n).map((id, index) => ({ id, publicKey: signers[index]!.publicKey }))
  const nodes: Record<NodeId, PbftNode> = {}
  ids.forEach((id, index) => {
    const signer = signers[index]!
    const storage = new SimStorage()
    const machine = new KvStateMachine()
    const node: PbftNode = Object.assign(hosted(new PbftEngine({ id, replicas, signer, stateMachine: machine, storage, config }), storage), {
      machine,
      signer,
      group: new PbftGroup(replicas, signer),
      restart(rng: Rng, faults: StorageFaults = defaultStorageFaults): void {
        storage.crash(rng, faults)
        node.machine = new KvStateMachine()
        node.restartWith(new PbftEngine({ id, replicas, signer, stateMachine: node.machine, storage, config }))
      },
      restartMidReady(input: () => void, rng: Rng, faults: StorageFaults = defaultStorageFaults): void {
        node.losePowerInNextReady(input)
        node.restart(rng, faults)
      },
    }) as PbftNode
    nodes[id] = node
  })
  return nodes
}

/** Reads `key` from a replica's executed state (a PBFT query through the node's kernel). */
export function queryKey(node: PbftNode, key: string): string | null {
  const readId = node.applied.length
  node.propose({ type: 'query', readId, query: writeKvGet(key) })
  const answer = node.applied.find((applied) => applied.type === 'query' && applied.readId === readId)
  return answer !== undefined && answer.type === 'query' ? readKvValue(answer.reply) : null
}
