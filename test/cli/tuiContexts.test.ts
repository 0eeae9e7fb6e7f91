/** The contexts `dwcp tui` builds: URLs given, --context groups, and the cluster `dwcp up` runs under the data dir, with its id. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { prepareLayout } from '../../cli/up/clusterLayout.ts'
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
})
