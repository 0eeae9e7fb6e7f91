import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { readEdgeCluster } from '../../durable-objects/edgeCluster.ts'
import { regionKeys, regionSeed } from '../../durable-objects/regionKeys.ts'
import { Ed25519Signer } from '../../node/ed25519Signer.ts'
import { api, eventually, leaderElected } from './edgeCluster.ts'

const secret = 'a test secret of enough bytes'

describe('Ed25519 in workerd (node:crypto under nodejs_compat)', () => {
  it('signs and verifies synchronously, and refuses another key, another message and a bad signature', async () => {
    const signer = new Ed25519Signer(await regionSeed(secret, 'edge', 'weur'))
    const other = new Ed25519Signer(await regionSeed(secret, 'edge', 'enam'))
    const message = new TextEncoder().encode('prepare view 1 seq 7')
    const signature = signer.sign(message)
    expect(signature.length).toBe(64)
    expect(signer.publicKey.length).toBe(32)
    expect(other.verify(signer.publicKey, message, signature)).toBe(true)
    expect(other.verify(other.publicKey, message, signature)).toBe(false)
    expect(other.verify(signer.publicKey, new TextEncoder().encode('prepare view 1 seq 8'), signature)).toBe(false)
    const flipped = Uint8Array.from(signature)
    flipped[10]! ^= 1
    expect(other.verify(signer.publicKey, message, flipped)).toBe(false)
    expect(signer.digest(message).length).toBe(32)
  })

  it('matches RFC 8032 test 1 (the empty message), so keys interoperate with every other Ed25519', () => {
    const hex = (text: string) => Uint8Array.from(text.match(/../g)!.map((byte) => parseInt(byte, 16)))
    const signer = new Ed25519Signer(hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'))
    expect(signer.publicKey).toEqual(hex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'))
    // (sign returns a Buffer: compared as plain bytes)
    expect(new Uint8Array(signer.sign(new Uint8Array(0)))).toEqual(hex('e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'))
  })

  it('derives each region a stable key of its own from the cluster secret', async () => {
    const cluster = readEdgeCluster({ REGIONS: 'weur,enam,apac,wnam' })
    const [weur, enam] = cluster.regions
    const once = await regionKeys(secret, cluster, weur!)
    const again = await regionKeys(secret, cluster, weur!)
    expect(again.signer.publicKey).toEqual(once.signer.publicKey)
    const fromEnam = await regionKeys(secret, cluster, enam!)
    // Every region object computes the same public keys for all.
    expect([...fromEnam.publicKeys]).toEqual([...once.publicKeys])
    expect(new Set([...once.publicKeys.values()].map((key) => key.join())).size).toBe(4)
    const otherSecret = await regionKeys(`${secret}!`, cluster, weur!)
    expect(otherSecret.signer.publicKey).not.toEqual(once.signer.publicKey)
    await expect(regionKeys('short', cluster, weur!)).rejects.toThrow(/at least 16 bytes/)
    await expect(regionKeys(undefined, cluster, weur!)).rejects.toThrow(/DWCP_CLUSTER_SECRET is not set/)
  })

  it('lets the PBFT group of region objects order a byzantine write that every region then reads', async () => {
    expect(env.DWCP_CLUSTER_SECRET).toBeDefined()
    await leaderElected()
    const put = await eventually('a byzantine put', async () => {
      const answer = await api('weur', 'PUT', '/v1/kv/bft/owner?consistency=byzantine', { value: 'weur' })
      return answer.status === 200 ? answer : undefined
    })
    expect(put.body.path).toBe('pbft')
    const read = await eventually('a byzantine read in wnam', async () => {
      const answer = await api('wnam', 'GET', '/v1/kv/bft/owner?consistency=byzantine')
      return answer.status === 200 ? answer : undefined
    })
    expect(read.body).toMatchObject({ value: 'weur', path: 'pbft' })
  })
})
