/**
 * The smallest host for engine tests: the driver loop of core/ready.ts
 * (persist and sync, keep the messages, the applied results and the events,
 * advance) and a lock-step network that delivers every queued message at the
 * next tick, except to or from a node that is down or across a cut.
 */
import type { NodeId } from '../../core/ports.ts'
import type { Engine, Outbound } from '../../core/ready.ts'
import { driveUntilIdle } from '../../host/driver.ts'
import type { SimStorage } from '../../sim/storage.ts'

export interface HostedNode<C, M, A, E> {
  engine: Engine<C, M, A, E>
  readonly storage: SimStorage
  readonly outbox: Outbound<M>[]
  readonly applied: A[]
  readonly events: E[]
  down: boolean
}

export function hosted<C, M, A, E>(engine: Engine<C, M, A, E>, storage: SimStorage): HostedNode<C, M, A, E> {
  const node: HostedNode<C, M, A, E> = { engine, storage, outbox: [], applied: [], events: [], down: false }
  drive(node)
  return node
}

/** Handles every Ready the engine has, in the contract's order (the kernel's driver loop). */
export function drive<C, M, A, E>(node: HostedNode<C, M, A, E>): void {
  driveUntilIdle(node.engine, {
    storage: node.storage,
    transport: { send: (to, message) => node.outbox.push({ to, message }) },
    handled: (ready) => {
      node.applied.push(...ready.applied)
      node.events.push(...ready.events)
    },
  })
}

/** Drops a message: a cut between two nodes, or (with the message) a filter on what travels. */
export type Cut<M> = (from: NodeId, to: NodeId, message: M) => boolean

/** Delivers every queued message once (the ones they cause wait for the next call). */
export function deliver<C, M, A, E>(nodes: Record<NodeId, HostedNode<C, M, A, E>>, cut: Cut<M> = () => false): void {
  for (const [id, node] of Object.entries(nodes)) {
    for (const { to, message } of node.outbox.splice(0)) {
      const target = nodes[to]
      if (target === undefined || target.down || node.down || cut(id, to, message)) continue
      target.engine.step(id, message)
      drive(target)
    }
  }
}

/** `ticks` rounds of: deliver what is queued, then tick every live node. */
export function runTicks<C, M, A, E>(nodes: Record<NodeId, HostedNode<C, M, A, E>>, ticks: number, cut?: Cut<M>): void {
  for (let tick = 0; tick < ticks; tick++) {
    deliver(nodes, cut)
    for (const node of Object.values(nodes)) {
      if (node.down) continue
      node.engine.tick()
      drive(node)
    }
  }
}
