/**
 * Runtime membership (issue 18), the same on every host:
 *
 *   GET    /v1/cluster/join/challenge   a fresh challenge for a joiner to sign
 *   POST   /v1/cluster/join             a node proves its key (and the cluster
 *                                      secret) and becomes a member; answered
 *                                      once the `memberJoin` applied here
 *   DELETE /v1/members/:id              removes a member (`memberRemove`)
 *   POST   /v1/cluster/leave            this node removes itself, then stops
 *   PUT    /v1/cluster/pbft             sets the PBFT group the cluster should
 *                                      have (`pbftGroupSet`); the running group
 *                                      changes to it by its own order
 *
 * All take the write token. The crypto (Ed25519, HMAC) and the randomness are
 * the host's, behind `MembershipPort`: this module stays runtime-neutral.
 */
import type { Hono } from 'hono'
import { isValidId, type ClusterConfiguration, type Policy } from '../core/index.ts'
import { configurationBodyOf } from './configurationBody.ts'
import type { ApiContext } from './context.ts'
import { joinBodySchema, pbftGroupBodySchema, type ConfigurationReply, type JoinChallengeReply, type JoinReply } from './contract.ts'
import { callReplica, fail, limitBody, readBody, requireAccess } from './http.ts'
import { joinChallengeLimits, JoinChallenges } from './joinChallenges.ts'
import { joinTranscript } from './joinProof.ts'
import { bytesOfBase64url } from './wire.ts'

/** What a host gives the membership routes: its cluster, its crypto, and whether it can stop itself. */
export interface MembershipPort {
  readonly clusterId: string
  /** The policies this replica was built with: a joiner starts with the same. */
  readonly bootstrapPolicies: Readonly<Record<string, Policy>>
  /** Fresh random bytes (challenges). */
  randomBytes(count: number): Uint8Array
  /** Ed25519: whether `signature` is `publicKey`'s over `message`. */
  verifySignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean
  /** Whether `proof` is the right cluster secret proof over `message`: null when it is, else why not (a node without a secret wants none). */
  secretProofProblem(message: Uint8Array, proof: Uint8Array | null): string | null
  /** Stops the node once the leave's answer is out (the host defers it); null where a host cannot stop on request (404). */
  readonly stopAfterLeave: (() => void) | null
  /** The edge Worker URL this node reaches region objects through, told to joiners; null where there is none, or on a region object itself. */
  readonly edgeUrl?: string | null
}

export const joinChallengeRoute = '/v1/cluster/join/challenge'
export const joinRoute = '/v1/cluster/join'
export const leaveRoute = '/v1/cluster/leave'
export const memberRoute = '/v1/members/:id'
export const pbftGroupRoute = '/v1/cluster/pbft'

export function addMembershipRoutes(app: Hono, context: ApiContext, nowMs: () => number): void {
  const { host, backend, tokens } = context
  const port = backend.membership ?? null
  const write = requireAccess(tokens, 'write')
  const challenges = port === null ? null : new JoinChallenges((count) => port.randomBytes(count), nowMs)
  const configurationReply = (c: ClusterConfiguration): ConfigurationReply => ({ version: c.version, configuration: configurationBodyOf(c) })

  app.get(joinChallengeRoute, write, (c) => {
    if (port === null || challenges === null) return fail(c, 'unknownRoute', 'this host takes no joins')
    return c.json({ clusterId: port.clusterId, challenge: challenges.issue(), expiresInMs: joinChallengeLimits.challengeTtlMs } satisfies JoinChallengeReply)
  })

  app.post(joinRoute, write, limitBody, async (c) => {
    if (port === null || challenges === null) return fail(c, 'unknownRoute', 'this host takes no joins')
    const body = await readBody(c, joinBodySchema)
    if (!body.ok) return body.response
    const join = body.value
    // Checked in this order so a wrong cluster is named as such before any proof is looked at.
    if (join.clusterId !== port.clusterId) return fail(c, 'clusterMismatch', `this node is a member of cluster ${port.clusterId}, not ${join.clusterId}`)
    const challenge = challenges.take(join.challenge)
    if (challenge !== 'ok')
      return fail(
        c,
        'badChallenge',
        challenge === 'expired' ? `the challenge expired (good for ${joinChallengeLimits.challengeTtlMs} ms): ask for a new one` : `the challenge was not handed out here, or was used already: ask ${joinChallengeRoute} for a new one`,
      )
    const publicKey = bytesOfBase64url(join.publicKey)
    const transcript = joinTranscript({ clusterId: join.clusterId, challenge: bytesOfBase64url(join.challenge), id: join.id, region: join.region, url: join.url, publicKey, tags: join.tags })
    if (!port.verifySignature(publicKey, transcript, bytesOfBase64url(join.signature))) return fail(c, 'badSignature', `the signature does not verify with the public key ${join.publicKey}`)
    const secretProblem = port.secretProofProblem(transcript, join.secretProof === undefined ? null : bytesOfBase64url(join.secretProof))
    if (secretProblem !== null) return fail(c, 'badSecret', secretProblem)
    const member = { id: join.id, region: join.region, address: join.url, publicKey, tags: join.tags }
    const reply = await callReplica(c, backend, { type: 'memberJoin', member })
    if (!reply.ok) return reply.response
    const edgeUrl = port.edgeUrl ?? null
    return c.json({ clusterId: port.clusterId, configuration: configurationBodyOf(host.replica.configuration()), policies: { ...port.bootstrapPolicies }, ...(edgeUrl === null ? {} : { edgeUrl }) } satisfies JoinReply)
  })

  app.delete(memberRoute, write, async (c) => {
    const id = c.req.param('id')
    if (!isValidId(id)) return fail(c, 'invalidMemberId', `member id ${JSON.stringify(id)} must be 1 to 64 characters of [A-Za-z0-9._-]`)
    const reply = await callReplica(c, backend, { type: 'memberRemove', id })
    if (!reply.ok) return reply.response
    return c.json(configurationReply(host.replica.configuration()))
  })

  app.put(pbftGroupRoute, write, limitBody, async (c) => {
    const body = await readBody(c, pbftGroupBodySchema)
    if (!body.ok) return body.response
    const reply = await callReplica(c, backend, { type: 'pbftGroupSet', replicas: body.value.replicas })
    if (!reply.ok) return reply.response
    return c.json(configurationReply(host.replica.configuration()))
  })

  app.post(leaveRoute, write, async (c) => {
    if (port === null || port.stopAfterLeave === null) return fail(c, 'unknownRoute', 'this host cannot leave on request')
    const reply = await callReplica(c, backend, { type: 'memberRemove', id: host.id })
    if (!reply.ok) return reply.response
    port.stopAfterLeave()
    return c.json(configurationReply(host.replica.configuration()))
  })
}
