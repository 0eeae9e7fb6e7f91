import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { planMembers, prepareLayout } from '../../cli/up/clusterLayout.ts'
import { openDataDir } from '../../node/dataDir.ts'

function errorOf(run: () => unknown): string {
  try {
    run()
  } catch (error) {
    return (error as Error).message
  }
  throw new Error('expected an error')
}

describe('dwcp up: the cluster under --data', () => {
  it('spreads nodes over the regions round-robin on consecutive ports', () => {
    expect(planMembers(5, ['eu', 'us', 'ap'], 7701)).toEqual([
      { id: 'n1', region: 'eu', url: 'http://127.0.0.1:7701' },
      { id: 'n2', region: 'us', url: 'http://127.0.0.1:7702' },
      { id: 'n3', region: 'ap', url: 'http://127.0.0.1:7703' },
      { id: 'n4', region: 'eu', url: 'http://127.0.0.1:7704' },
      { id: 'n5', region: 'us', url: 'http://127.0.0.1:7705' },
    ])
  })

  it('makes a data dir and key per node and a cluster file with their public keys; the next run finds the same cluster', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dwcp-layout-'))
    try {
      const made = prepareLayout(dir, { nodes: 3 })
      expect(made.created).toBe(true)
      expect(made.cluster.members.map((member) => member.id)).toEqual(['n1', 'n2', 'n3'])
      for (const member of made.cluster.members) {
        expect(statSync(join(dir, member.id, 'node.key')).mode & 0o777).toBe(0o600)
        const opened = openDataDir(join(dir, member.id))
        expect(opened.signer.publicKey).toEqual(member.publicKey)
        opened.storage.close()
      }
      const written = JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8'))
      expect(written).toMatchObject({ clusterId: made.cluster.clusterId, raftVoters: ['n1', 'n2', 'n3'], pbft: [], policies: { cfg: { consistency: 'strong' }, edge: { consistency: 'auto' } } })
      expect(written.members).toEqual(made.cluster.members.map((member) => ({ ...member, publicKey: Buffer.from(member.publicKey).toString('base64url') })))
      const again = prepareLayout(dir, {})
      expect(again.created).toBe(false)
      expect(again.cluster).toEqual(made.cluster)
      expect(prepareLayout(dir, { nodes: 3, regions: ['eu', 'us', 'ap'], basePort: 7701 }).cluster).toEqual(made.cluster)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('gives a cluster of 4 or more nodes a PBFT group of the first four and the byzantine namespace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dwcp-layout-'))
    try {
      const made = prepareLayout(dir, { nodes: 5 })
      expect(made.cluster.pbft).toEqual(['n1', 'n2', 'n3', 'n4'])
      expect(made.cluster.policies.bft).toEqual({ consistency: 'byzantine', valueType: 'register', home: null })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('refuses options that do not fit the cluster there, a node dir made anew, and a data dir in use', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dwcp-layout-'))
    try {
      prepareLayout(dir, { nodes: 3 })
      expect(errorOf(() => prepareLayout(dir, { nodes: 5 }))).toMatch(/^--nodes 5: the cluster in .*cluster\.json has 3 nodes/)
      expect(errorOf(() => prepareLayout(dir, { regions: ['eu'] }))).toMatch(/^--regions eu: the cluster .* has regions eu,us,ap/)
      expect(errorOf(() => prepareLayout(dir, { basePort: 9000 }))).toMatch(/^--base-port 9000: .* starts at port 7701/)
      const held = openDataDir(join(dir, 'n2'))
      try {
        expect(errorOf(() => prepareLayout(dir, {}))).toMatch(/n2 is in use: a cluster is already running from/)
      } finally {
        held.storage.close()
      }
      rmSync(join(dir, 'n3'), { recursive: true })
      expect(errorOf(() => prepareLayout(dir, {}))).toMatch(/n3 is missing/)
      openDataDir(join(dir, 'n3')).storage.close()
      expect(errorOf(() => prepareLayout(dir, {}))).toMatch(/n3 holds another key than the cluster file lists for n3/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('checks the options of a new cluster', () => {
    const dir = join(tmpdir(), 'dwcp-layout-never-made')
    expect(errorOf(() => prepareLayout(dir, { nodes: 0 }))).toMatch(/^--nodes: expected an integer 1\.\.32, got 0/)
    expect(errorOf(() => prepareLayout(dir, { regions: ['eu', 'e u'] }))).toMatch(/^--regions: "e u" is not a region name/)
    expect(errorOf(() => prepareLayout(dir, { regions: ['eu', 'eu'] }))).toMatch(/^--regions: a region is named twice/)
    expect(errorOf(() => prepareLayout(dir, { basePort: 65534, nodes: 5 }))).toMatch(/^--base-port: expected an integer 1\.\.65531/)
  })
})
