/**
 * The Node host's side of the membership routes (api/membershipRoutes.ts
 * MembershipPort): randomness from node:crypto, Ed25519 through the node's
 * signer, the cluster secret's proof as the peer hello checks it
 * (peer/secretProof.ts), and a stop requested by `dwcp member leave`.
 */
import { randomBytes } from 'node:crypto'
import type { MembershipPort } from '../api/membershipRoutes.ts'
import type { Policy, Signer } from '../core/index.ts'
import { secretProofProblem } from './peer/secretProof.ts'

export interface NodeMembershipOptions {
  readonly clusterId: string
  readonly policies: Readonly<Record<string, Policy>>
  readonly signer: Pick<Signer, 'verify'>
  /** The cluster secret's bytes, or null. */
  readonly secret: Uint8Array | null
  /** Called once a leave was answered; null: the node does not stop on request. */
  readonly stopAfterLeave: (() => void) | null
  /** The edge Worker URL the region objects are reached through (NodeBoot.edgeUrl), told to joiners; null: none. */
  readonly edgeUrl?: string | null
}

export function nodeMembershipPort(options: NodeMembershipOptions): MembershipPort {
  return {
    clusterId: options.clusterId,
    bootstrapPolicies: options.policies,
    randomBytes: (count) => new Uint8Array(randomBytes(count)),
    verifySignature: (publicKey, message, signature) => options.signer.verify(publicKey, message, signature),
    secretProofProblem: (message, proof) => secretProofProblem(options.secret, message, proof, 'the joining node'),
    stopAfterLeave: options.stopAfterLeave,
    edgeUrl: options.edgeUrl ?? null,
  }
}
