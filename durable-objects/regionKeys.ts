/**
 * Ed25519 keys of the region objects, for PBFT (signed prepares, commits,
 * view changes) through node:crypto under `nodejs_compat`: the same
 * Ed25519Signer as a node (node/ed25519Signer.ts) runs unchanged in workerd,
 * synchronously, as the core needs it inside `step`.
 *
 * A region's key is derived from the cluster secret (a Worker secret,
 * DWCP_CLUSTER_SECRET): seed = HMAC-SHA256(secret, "dwcp/region-key/v1/" +
 * cluster + "/" + region). Why derived, not generated and stored:
 * - stable across restarts, evictions and redeploys: PBFT certificates and
 *   checkpoints persisted in SQLite must still verify after the object wakes,
 *   and peers must keep knowing a region's public key;
 * - no key distribution: every region object computes every region's public
 *   key from the secret it already has, so the PBFT group needs no exchange
 *   (and no storage) of keys before its first message;
 * - rotated with the secret (a new secret is a new group of keys, which,
 *   like any PBFT reconfiguration, needs the group's state carried over).
 * The region objects of one deployment share the secret, so they trust each
 * other's code: what PBFT tolerates among them is a region object whose
 * state or messages go wrong, not one that steals another's key.
 */
import type { NodeId } from '../core/index.ts'
import { Ed25519Signer } from '../node/ed25519Signer.ts'
import type { EdgeCluster, EdgeRegion } from './edgeCluster.ts'

export const regionKeyLimits = {
  /** The cluster secret's length at least: the keys are only as strong as it. */
  secretBytesMin: 16,
} as const

export interface RegionKeys {
  /** This region object's signer. */
  readonly signer: Ed25519Signer
  /** Every region member's public key. */
  readonly publicKeys: ReadonlyMap<NodeId, Uint8Array>
}

export class RegionKeyError extends Error {
  override readonly name = 'RegionKeyError'
}

const encoder = new TextEncoder()

/** The 32-byte Ed25519 seed of `region` in `clusterId`. */
export async function regionSeed(secret: string, clusterId: string, regionId: string): Promise<Uint8Array> {
  const secretBytes = encoder.encode(secret)
  if (secretBytes.length < regionKeyLimits.secretBytesMin)
    throw new RegionKeyError(`DWCP_CLUSTER_SECRET must have at least ${regionKeyLimits.secretBytesMin} bytes (set it with \`wrangler secret put DWCP_CLUSTER_SECRET\`, or in .dev.vars for wrangler dev)`)
  const key = await crypto.subtle.importKey('raw', secretBytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  return new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(`dwcp/region-key/v1/${clusterId}/${regionId}`)))
}

/** The signer of `self` and the public keys of every region of `cluster`. */
export async function regionKeys(secret: string | undefined, cluster: EdgeCluster, self: EdgeRegion): Promise<RegionKeys> {
  if (secret === undefined) throw new RegionKeyError('DWCP_CLUSTER_SECRET is not set: the region objects derive their PBFT keys from it (`wrangler secret put DWCP_CLUSTER_SECRET`, or .dev.vars for wrangler dev)')
  const publicKeys = new Map<NodeId, Uint8Array>()
  let signer: Ed25519Signer | null = null
  for (const region of cluster.regions) {
    const regionSigner = new Ed25519Signer(await regionSeed(secret, cluster.clusterId, region.id))
    publicKeys.set(region.member, regionSigner.publicKey)
    if (region.id === self.id) signer = regionSigner
  }
  if (signer === null) throw new RegionKeyError(`region ${self.id} is not in the cluster`)
  return { signer, publicKeys }
}
