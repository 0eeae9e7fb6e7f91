import { describe, expect, it } from 'vitest'
import { crdtReplySchema, kvGetReplySchema, kvPutReplySchema, membersReplySchema, policiesReplySchema, policyReplySchema, snapshotReplySchema, statusReplySchema } from '../../api/contract.ts'
import { apiOf, ask } from '../support/apiHarness.ts'
import { hostedCluster, hostedNodePolicies } from '../support/hostedCluster.ts'

/** A three-node cluster with a leader, and the API of each node. */
function elected(seed: number, options: { pbftGroup?: boolean } = {}) {
  const cluster = hostedCluster(seed, hostedNodePolicies, options)
  cluster.advance(3_000)
  const leader = cluster.nodes.find((node) => node.host.snapshot().raft?.role === 'leader')
  if (leader === undefined) throw new Error(`seed ${seed}: no leader after 3 s`)
  const follower = cluster.nodes.find((node) => node !== leader)!
  return { ...cluster, leader, follower, apis: cluster.nodes.map((node) => apiOf(node)) }
}

describe('API: views', () => {
  it('reports status, members and the snapshot of the node it runs on', async () => {
    const { apis, advance, leader } = elected(1)
    const status = await ask(apis[0]!, advance, 'GET', '/v1/status')
    expect(status.status).toBe(200)
    const parsed = statusReplySchema.parse(status.json)
    expect(parsed).toMatchObject({ clusterId: null, node: 'n1', region: 'eu', members: 3, peers: 2, leader: leader.id })
    expect(parsed.term).toBeGreaterThan(0)
    expect(parsed.events.epoch).toBe(`n1:${parsed.boot}`)
    // A backend that knows its cluster names it.
    const named = statusReplySchema.parse((await ask(apiOf(leader, { clusterId: 'edge' }), advance, 'GET', '/v1/status')).json)
    expect(named.clusterId).toBe('edge')
    const members = membersReplySchema.parse((await ask(apis[1]!, advance, 'GET', '/v1/members')).json)
    expect(members.members.map((member) => [member.id, member.state])).toEqual([
      ['n1', 'alive'],
      ['n2', 'alive'],
      ['n3', 'alive'],
    ])
    expect(members.members.find((member) => member.id === 'n2')!.link).toBeNull()
    const snapshot = await ask(apis[2]!, advance, 'GET', '/v1/snapshot')
    expect(snapshotReplySchema.parse(snapshot.json).node.id).toBe('n3')
    expect(snapshot.json.raft.voters).toEqual(['n1', 'n2', 'n3'])
  })
})

describe('API: kv at every consistency level', () => {
  it('strong: writes through Raft from a follower, reads linearizably and as a follower read, deletes', async () => {
    const { apis, advance, follower, nodes } = elected(2)
    const api = apis[nodes.indexOf(follower)]!
    const put = await ask(api, advance, 'PUT', '/v1/kv/cfg/db/url?consistency=strong', { body: { value: 'postgres://a' } })
    expect(put.status).toBe(200)
    expect(kvPutReplySchema.parse(put.json)).toMatchObject({ key: 'cfg/db/url', path: 'raft', position: { kind: 'raft' } })
    const got = await ask(api, advance, 'GET', '/v1/kv/cfg/db/url?consistency=strong')
    expect(kvGetReplySchema.parse(got.json)).toMatchObject({ key: 'cfg/db/url', value: 'postgres://a', path: 'raft' })
    // Without a level: the namespace's own (strong).
    expect((await ask(api, advance, 'GET', '/v1/kv/cfg/db/url')).json).toMatchObject({ value: 'postgres://a', path: 'raft' })
    advance(2_000) // the leader's publication reaches every member by gossip
    const published = await ask(apis[2]!, advance, 'GET', '/v1/kv/cfg/db/url?consistency=eventual')
    expect(published.json).toMatchObject({ value: 'postgres://a', path: 'published', position: { kind: 'published' } })
    const deleted = await ask(api, advance, 'DELETE', '/v1/kv/cfg/db/url?consistency=strong')
    expect(deleted.status).toBe(200)
    expect(deleted.json).toMatchObject({ key: 'cfg/db/url', path: 'raft' })
    const gone = await ask(api, advance, 'GET', '/v1/kv/cfg/db/url')
    expect(gone.status).toBe(404)
    expect(gone.json).toEqual({ error: { code: 'notFound', message: 'cfg/db/url has no value' } })
  })

  it('eventual: writes a register through the CRDT path and reads it locally, on every node after gossip', async () => {
    const { apis, advance } = elected(3)
    const put = await ask(apis[0]!, advance, 'PUT', '/v1/kv/reg/colour?consistency=eventual', { body: { value: 'teal' } })
    expect(put.status).toBe(200)
    expect(put.json).toMatchObject({ key: 'reg/colour', path: 'crdt', position: { kind: 'crdt', replica: 'n1' } })
    advance(2_000)
    for (const api of apis) expect((await ask(api, advance, 'GET', '/v1/kv/reg/colour')).json).toMatchObject({ value: 'teal', path: 'local' })
  })

  it('auto: the reply names the path taken and why', async () => {
    const { apis, advance } = elected(4)
    const put = await ask(apis[1]!, advance, 'PUT', '/v1/kv/edge/route?consistency=auto', { body: { value: 'v1' } })
    expect(put.status).toBe(200)
    const reply = kvPutReplySchema.parse(put.json)
    expect(['raft', 'crdt']).toContain(reply.path)
    expect(reply.auto?.reason).toBeDefined()
    expect((await ask(apis[1]!, advance, 'GET', '/v1/kv/edge/route')).json).toMatchObject({ value: 'v1' })
    // A key outside every configured namespace is auto too (the core's default policy).
    expect((await ask(apis[1]!, advance, 'PUT', '/v1/kv/misc/k', { body: { value: 'x' } })).json.auto).toBeDefined()
  })

  it('byzantine: writes and reads through the PBFT group of a four-node cluster', async () => {
    const { apis, advance } = elected(5, { pbftGroup: true })
    const put = await ask(apis[3]!, advance, 'PUT', '/v1/kv/bft/ledger?consistency=byzantine', { body: { value: '100' } })
    expect(put.status).toBe(200)
    expect(put.json).toMatchObject({ key: 'bft/ledger', path: 'pbft', position: { kind: 'pbft' } })
    const got = await ask(apis[0]!, advance, 'GET', '/v1/kv/bft/ledger?consistency=byzantine')
    expect(got.json).toMatchObject({ value: '100', path: 'pbft' })
  })
})

describe('API: crdt operations', () => {
  it('counter, set, map, multi-value register and document text', async () => {
    const { apis, advance } = elected(6)
    const api = apis[0]!
    const post = async (key: string, body: unknown) => {
      const answer = await ask(api, advance, 'POST', `/v1/crdt/${key}`, { body })
      expect(answer.status, answer.text).toBe(200)
      return crdtReplySchema.parse(answer.json)
    }
    expect((await post('cnt/visits', { op: 'inc' })).value).toBe(1)
    expect((await post('cnt/visits', { op: 'inc', by: 5 })).value).toBe(6)
    expect((await post('cnt/visits', { op: 'dec', by: 2 })).value).toBe(4)
    expect(await post('set/tags', { op: 'add', element: 'b' })).toMatchObject({ key: 'set/tags', path: 'crdt', value: ['b'] })
    expect((await post('set/tags', { op: 'add', element: 'a' })).value).toEqual(['a', 'b'])
    expect((await post('set/tags', { op: 'remove', element: 'b' })).value).toEqual(['a'])
    expect((await post('map/user', { op: 'put', path: ['name'], value: 'ada' })).value).toEqual({ name: ['ada'] })
    expect((await post('map/user', { op: 'put', path: ['address', 'city'], value: 'london' })).value).toEqual({ address: { city: ['london'] }, name: ['ada'] })
    expect((await post('map/user', { op: 'removeField', path: ['name'] })).value).toEqual({ address: { city: ['london'] } })
    expect((await post('reg/mv', { op: 'mvput', value: 'x' })).value).toEqual(['x'])
    expect((await post('doc/readme', { op: 'insert', index: 0, text: 'hello' })).value).toBe('hello')
    expect((await post('doc/readme', { op: 'insert', index: 5, text: ' world' })).value).toBe('hello world')
    expect((await post('doc/readme', { op: 'delete', index: 0, count: 6 })).value).toBe('world')
    // The values read back through kv, as the crdt replies gave them: a document's text is not a tagged register value.
    expect((await ask(api, advance, 'GET', '/v1/kv/cnt/visits')).json).toMatchObject({ value: 4 })
    expect((await ask(api, advance, 'GET', '/v1/kv/set/tags')).json).toMatchObject({ value: ['a'] })
    expect((await ask(api, advance, 'GET', '/v1/kv/map/user')).json).toMatchObject({ value: { address: { city: ['london'] } } })
    expect((await ask(api, advance, 'GET', '/v1/kv/reg/mv')).json).toMatchObject({ value: ['x'] })
    const doc = await ask(api, advance, 'GET', '/v1/kv/doc/readme')
    expect(doc.status, doc.text).toBe(200)
    expect(kvGetReplySchema.parse(doc.json)).toMatchObject({ key: 'doc/readme', value: 'world', path: 'local' })
    await post('doc/editor', { op: 'insert', index: 0, text: 'vim' })
    expect((await ask(api, advance, 'GET', '/v1/kv/doc/editor')).json).toMatchObject({ value: 'vim' })
  })
})

describe('API: policies', () => {
  it('lists, reads and changes policies (merged over the current one) through the log', async () => {
    const { apis, advance } = elected(7)
    const list = policiesReplySchema.parse((await ask(apis[0]!, advance, 'GET', '/v1/policies')).json)
    expect(list.policies.find((entry) => entry.namespace === 'cfg')?.policy).toEqual({ consistency: 'strong', valueType: 'register', home: null })
    // A namespace without a policy of its own has the default.
    expect(policyReplySchema.parse((await ask(apis[0]!, advance, 'GET', '/v1/policies/fresh')).json).policy).toEqual({ consistency: 'auto', valueType: 'register', home: null })
    const set = await ask(apis[1]!, advance, 'PUT', '/v1/policies/fresh', { body: { consistency: 'eventual', valueType: 'counter' } })
    expect(set.status, set.text).toBe(200)
    expect(set.json).toEqual({ namespace: 'fresh', policy: { consistency: 'eventual', valueType: 'counter', home: null } })
    advance(500)
    expect((await ask(apis[2]!, advance, 'GET', '/v1/policies/fresh')).json.policy).toEqual({ consistency: 'eventual', valueType: 'counter', home: null })
    expect((await ask(apis[2]!, advance, 'POST', '/v1/crdt/fresh/n', { body: { op: 'inc' } })).json).toMatchObject({ value: 1 })
    const home = await ask(apis[0]!, advance, 'PUT', '/v1/policies/fresh', { body: { home: 'us' } })
    expect(home.json.policy).toEqual({ consistency: 'eventual', valueType: 'counter', home: 'us' })
  })
})

describe('API: the PBFT group target', () => {
  it('PUT /v1/cluster/pbft sets the target through Raft; a group that is no 3f+1 members with keys, or a bad body, is refused and changes nothing', async () => {
    const { apis, advance } = elected(7, { pbftGroup: true })
    // (The simulator's keys are 16 bytes, not Ed25519's 32: the configuration is read as it comes, not through the node schema.)
    const versionOf = async () => ((await ask(apis[0]!, advance, 'GET', '/v1/members')).json as { configuration: { version: number } }).configuration.version
    const before = await versionOf()
    const three = await ask(apis[1]!, advance, 'PUT', '/v1/cluster/pbft', { body: { replicas: ['n1', 'n2', 'n3'] } })
    expect(three.status).toBe(400)
    expect(three.json).toMatchObject({ error: { code: 'invalidPbftGroup' } })
    const stranger = await ask(apis[1]!, advance, 'PUT', '/v1/cluster/pbft', { body: { replicas: ['n1', 'n2', 'n3', 'n9'] } })
    expect(stranger.json).toMatchObject({ error: { code: 'invalidPbftGroup' } })
    const malformed = await ask(apis[1]!, advance, 'PUT', '/v1/cluster/pbft', { body: { replicas: 'n1,n2' } })
    expect(malformed.status).toBe(400)
    expect(malformed.json).toMatchObject({ error: { code: 'invalidBody' } })
    expect(await versionOf()).toBe(before)
    // The group it has already: answered at once, with the configuration naming it.
    const same = await ask(apis[2]!, advance, 'PUT', '/v1/cluster/pbft', { body: { replicas: ['n4', 'n3', 'n2', 'n1'] } })
    expect(same.status).toBe(200)
    expect(same.json).toMatchObject({ version: before, configuration: { pbftReplicas: ['n1', 'n2', 'n3', 'n4'] } })
  })
})
