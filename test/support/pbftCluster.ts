/**
 * A PBFT group on the in-memory host: n replicas with simulator keys (or real
 * Ed25519 ones), a KV state machine each, lock-step delivery. For engine tests.
 */
import { KvStateMachine } from '../../core/kv.ts'
import { Rng } from '../../core/lib/prng.ts'
import type { NodeId, Signer } from '../../core/ports.ts'
import type { PbftConfig } from '../../core/pbft/config.ts'
import { PbftEngine, type PbftApplied, type PbftCommand, type PbftEvent } from '../../core/pbft/engine.ts'
import type { PbftMessage } from '../../core/pbft/messages.ts'
import { SimKeyring } from '../../sim/signer.ts'
import { SimStorage } from '../../sim/storage.ts'
import { hosted, type HostedNode } from './memoryHost.ts'

export type PbftNode = HostedNode<PbftCommand, PbftMessage, PbftApplied, PbftEvent> & { engine: PbftEngine; readonly machine: KvStateMachine; readonly signer: Signer }

export function pbftCluster(n: number, config: Partial<PbftConfig> = {}, seed = 1): Record<NodeId, PbftNode> {
  const keyring = new SimKeyring(Rng.fromSeed(seed).split('keys'))
  const ids = Array.from({ length: n }, (_, index) => `r${index}`)
  const signers = ids.map(() => keyring.signer())
  const replicas = ids.map((id, index) => ({ id, publicKey: signers[index]!.publicKey }))
  const nodes: Record<NodeId, PbftNode> = {}
  ids.forEach((id, index) => {
    const machine = new KvStateMachine()
    const engine = new PbftEngine({ id, replicas, signer: signers[index]!, stateMachine: machine, config })
    nodes[id] = Object.assign(hosted(engine, new SimStorage()), { engine, machine, signer: signers[index]! })
  })
  return nodes
}
