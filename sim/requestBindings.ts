/**
 * How each engine's commands carry the host kernel's request id, and how its
 * results name the call they answer (host/kernel.ts `RequestBinding`). One
 * binding per node incarnation: a binding may keep state, and ids must not be
 * taken for another node's or an earlier incarnation's (the kernel numbers
 * calls from 1 at every start).
 */
import type { GossipApplied, GossipCommand } from '../core/gossip/engine.ts'
import { readKvPut, writeKvPut } from '../core/kv.ts'
import type { PbftApplied, PbftCommand } from '../core/pbft/engine.ts'
import type { RaftApplied, RaftCommand } from '../core/raft/engine.ts'
import type { RequestBinding } from '../host/kernel.ts'

/**
 * Engines whose commands and replies carry a numeric `requestId`, answered only where asked: the
 * max-register and the CRDT store (a replica's is host/replicaHost.ts `replicaRequests`, which real hosts use).
 */
export function requestIdBinding<C extends { readonly requestId: number }, A extends { readonly requestId: number }>(): RequestBinding<C, A> {
  return { withRequestId: (command, requestId) => ({ ...command, requestId }), replyTo: (applied) => applied.requestId }
}

/**
 * A Raft engine over the KV state machine. A read carries the id as its `readId`. A put's entry is
 * applied on every node, so its request id names the node and incarnation that proposed it as well
 * (`n2.3.17`), and only that kernel takes it for a reply. Membership changes and leadership transfers
 * get no reply: they are proposed without a call.
 */
export function raftKvRequests(context: { readonly id: string; readonly incarnation: number }): RequestBinding<RaftCommand, RaftApplied> {
  const prefix = `${context.id}.${context.incarnation}.`
  return {
    withRequestId: (command, requestId) => {
      if (command.type === 'read') return { ...command, readId: requestId }
      const put = command.type === 'propose' ? readKvPut(command.data) : undefined
      return put === undefined ? command : { type: 'propose', data: writeKvPut({ ...put, requestId: `${prefix}${requestId}` }) }
    },
    replyTo: (applied) => {
      if (applied.type === 'read' || applied.type === 'readFailed') return applied.readId
      if (applied.type !== 'entry' || applied.kind !== 'command') return null
      const requestId = readKvPut(applied.data)?.requestId
      return requestId !== undefined && requestId.startsWith(prefix) ? Number(requestId.slice(prefix.length)) : null
    },
  }
}

/**
 * A PBFT gateway. A request is named by its client and timestamp, which the client chose (its
 * timestamps order its requests), so the binding remembers which call each one is; a query carries
 * the id as its `readId`.
 */
export function pbftRequests(): RequestBinding<PbftCommand, PbftApplied> {
  const calls = new Map<string, number>()
  const key = (client: string, timestamp: number) => `${timestamp}:${client}`
  // One reconfiguration at a time per gateway (the engine refuses a second one as busy): its verdict answers it.
  let reconfiguration: number | null = null
  return {
    withRequestId: (command, requestId) => {
      if (command.type === 'query') return { ...command, readId: requestId }
      if (command.type === 'reconfigure') {
        reconfiguration = requestId
        return command
      }
      calls.set(key(command.client, command.timestamp), requestId)
      return command
    },
    replyTo: (applied) => {
      if (applied.type === 'query') return applied.readId
      if (applied.type === 'reconfigured') {
        const requestId = reconfiguration
        reconfiguration = null
        return requestId
      }
      if (applied.type !== 'reply' && applied.type !== 'refused') return null
      const named = key(applied.client, applied.timestamp)
      const requestId = calls.get(named)
      calls.delete(named)
      return requestId ?? null
    },
  }
}

/** A gossip node: a publish is answered by `published` with its key and version, a leave by `left`. */
export function gossipRequests(): RequestBinding<GossipCommand, GossipApplied> {
  const publishes = new Map<string, number>()
  let leave: number | null = null
  const key = (name: string, version: number) => `${version}:${name}`
  return {
    withRequestId: (command, requestId) => {
      if (command.type === 'publish') publishes.set(key(command.key, command.version), requestId)
      else leave = requestId
      return command
    },
    replyTo: (applied) => {
      if (applied.type === 'left') {
        const requestId = leave
        leave = null
        return requestId
      }
      const named = key(applied.key, applied.version)
      const requestId = publishes.get(named)
      publishes.delete(named)
      return requestId ?? null
    },
  }
}
