/** The contexts `dwcp tui` builds: URLs given, --context groups, and the cluster `dwcp up` runs under the data dir, with its id. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { prepareLayout } from '../../cli/up/clusterLayout.ts'
import { discoverContexts } from '../../cli/edgeContexts.ts'
import { liveContexts } from '../../cli/tuiContexts.ts'
import { writeUpFile } from '../../cli/upFile.ts'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dwcp-tui-contexts-'))
  dirs.push(dir)
  return dir
}

describe('dwcp tui contexts', () => {
  it('the dwcp up cluster under the data dir, with its cluster id, beside the URLs and --context groups', () => {
    const dir = tempDir()
    const layout = prepareLayout(dir, { nodes: 3, basePort: 7801 })
    writeUpFile(dir, { pid: process.pid, startedAt: new Date(0).toISOString(), nodes: layout.cluster.members.map((member) => ({ id: member.id, region: member.region, url: member.url, pid: null })) })
    expect(liveContexts([], [], dir)).toEqual([{ name: 'up', clusterId: layout.cluster.clusterId, urls: ['http://127.0.0.1:7801', 'http://127.0.0.1:7802', 'http://127.0.0.1:7803'] }])
    expect(layout.cluster.clusterId).toMatch(/^local-[0-9a-f]{8}$/)
    const contexts = liveContexts(['http://10.0.0.1:7701'], ['prod=http://10.1.0.1:7701,http://10.1.0.2:7701'], dir)
    expect(contexts.map((context) => [context.name, context.clusterId, context.urls.length])).toEqual([
      ['urls', null, 1],
      ['prod', null, 2],
      ['up', layout.cluster.clusterId, 3],
    ])
  })

  it('without a running cluster: only what was given; nothing at all is a usage error', () => {
    const dir = tempDir()
    expect(liveContexts([], ['a=http://127.0.0.1:1'], dir)).toEqual([{ name: 'a', clusterId: null, urls: ['http://127.0.0.1:1'] }])
    expect(() => liveContexts([], [], dir)).toThrow(/no cluster running under .*dwcp up/)
    expect(() => liveContexts([], ['a=http://127.0.0.1:1', 'a=http://127.0.0.1:2'], dir)).toThrow('two contexts named a')
    expect(() => liveContexts([], ['a=ftp://x'], dir)).toThrow(/expected node URLs as http\(s\)/)
    expect(() => liveContexts([], ['=http://127.0.0.1:1'], dir)).toThrow(/--context: expected NAME=URL/)
  })

  it('an edge Worker URL becomes one source per region object and one per joined node; a node URL stays; the cluster id comes from /v1/status', async () => {
    const configuration = {
      version: 1,
      // Two region objects (no URL, id region-REGION) and two node processes that joined (their own URLs).
      members: [
        { id: 'region-eu', region: 'eu', url: '', publicKey: '', tags: {} },
        { id: 'n7', region: 'dc', url: 'http://10.0.0.7:7701', publicKey: '', tags: {} },
        { id: 'region-us', region: 'us', url: '', publicKey: '', tags: {} },
        { id: 'n8', region: 'dc', url: 'http://10.0.0.8:7701', publicKey: '', tags: {} },
      ],
      raftVoters: ['region-eu', 'region-us'],
      raftLearners: [],
      pbftReplicas: [],
      voterTargets: {},
    }
    const status = (clusterId: string | undefined) => ({
      ...(clusterId === undefined ? {} : { clusterId }),
      node: 'x',
      region: 'eu',
      boot: 1,
      mode: 'datacenter',
      role: 'follower',
      term: 1,
      leader: null,
      commit: 0,
      peers: 0,
      members: 1,
      events: { epoch: 'x:1', lastSeq: 0 },
      configuration: { version: 1, voters: [], learners: [], pbft: [] },
    })
    const asked: string[] = []
    const fakeFetch = async (input: string): Promise<Response> => {
      asked.push(input)
      const url = new URL(input)
      const worker = url.port === '8787'
      if (url.port === '9999') throw new TypeError('fetch failed')
      // A joined node is not looked at before the UI: one that does not answer cannot hold up the start.
      if (url.hostname === '10.0.0.7') return new Promise<Response>(() => {})
      const headers = { 'content-type': 'application/json', ...(worker ? { 'x-dwcp-region': url.searchParams.get('region') ?? 'eu' } : {}) }
      const body = url.pathname === '/v1/status' ? status(worker ? undefined : 'local-1') : { members: [], configuration }
      return new Response(JSON.stringify(body), { headers })
    }
    const found = await discoverContexts(
      [
        { name: 'urls', clusterId: null, urls: ['http://127.0.0.1:8787', 'http://127.0.0.1:9999'] },
        { name: 'one', clusterId: null, urls: ['http://127.0.0.1:8787/?region=us'] },
        { name: 'nodes', clusterId: null, urls: ['http://127.0.0.1:7701'] },
        // A joined node named beside the Worker is one source, however its URL is spelled.
        { name: 'both', clusterId: null, urls: ['http://10.0.0.8:7701/', 'http://127.0.0.1:8787'] },
      ],
      null,
      fakeFetch,
    )
    expect(found).toEqual([
      // The Worker's regions, then its joined nodes, in the configuration's order; the URL that did not answer is kept.
      { name: 'urls', clusterId: null, urls: ['http://127.0.0.1:8787/?region=eu', 'http://127.0.0.1:8787/?region=us', 'http://10.0.0.7:7701', 'http://10.0.0.8:7701', 'http://127.0.0.1:9999'] },
      // A Worker URL that names its region is that region alone.
      { name: 'one', clusterId: null, urls: ['http://127.0.0.1:8787/?region=us'] },
      { name: 'nodes', clusterId: 'local-1', urls: ['http://127.0.0.1:7701'] },
      { name: 'both', clusterId: 'local-1', urls: ['http://10.0.0.8:7701/', 'http://127.0.0.1:8787/?region=eu', 'http://127.0.0.1:8787/?region=us', 'http://10.0.0.7:7701'] },
    ])
    // The region in the URL is kept on the paths looked up.
    expect(asked).toContain('http://127.0.0.1:8787/v1/members?region=us')
    expect(asked.filter((url) => url.includes('10.0.0.7'))).toEqual([])
    // The cluster dwcp up runs (its id known) is not looked at: no wait before the UI.
    asked.length = 0
    expect(await discoverContexts([{ name: 'up', clusterId: 'local-1', urls: ['http://127.0.0.1:7701'] }], null, fakeFetch)).toEqual([{ name: 'up', clusterId: 'local-1', urls: ['http://127.0.0.1:7701'] }])
    expect(asked).toEqual([])
  })
})
