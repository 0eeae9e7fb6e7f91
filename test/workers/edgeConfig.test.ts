import { exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { readEdgeCluster } from '../../durable-objects/edgeCluster.ts'
import { edgeProberConfig, edgeReplicaConfig, edgeTickMs, edgeTimingsMs } from '../../durable-objects/edgeReplicaConfig.ts'
import { chooseRegion, distanceKm, hintPlaces } from '../../edge-worker/nearestRegion.ts'

describe('the edge cluster from the Worker vars', () => {
  it('reads location hints, or ids with their hints, into members, voters and a PBFT group of four', () => {
    const plain = readEdgeCluster({ REGIONS: 'weur, enam,apac' })
    expect(plain.regions.map((r) => [r.id, r.locationHint, r.member, r.objectName])).toEqual([
      ['weur', 'weur', 'region-weur', 'region:weur'],
      ['enam', 'enam', 'region-enam', 'region:enam'],
      ['apac', 'apac', 'region-apac', 'region:apac'],
    ])
    expect(plain.raftVoters).toEqual(['region-weur', 'region-enam', 'region-apac'])
    expect(plain.pbft).toEqual([])
    expect(plain.policies.bft).toBeUndefined()
    const named = readEdgeCluster({ REGIONS: 'eu=weur,us=enam,ap=apac,us2=wnam,sa=sam', DWCP_CLUSTER_ID: 'prod' })
    expect(named.clusterId).toBe('prod')
    expect(named.regions.map((r) => `${r.id}:${r.locationHint}`)).toEqual(['eu:weur', 'us:enam', 'ap:apac', 'us2:wnam', 'sa:sam'])
    expect(named.pbft).toEqual(['region-eu', 'region-us', 'region-ap', 'region-us2'])
    expect(named.policies.bft).toEqual({ consistency: 'byzantine', valueType: 'register', home: null })
  })

  it('refuses what it cannot run, saying why', () => {
    expect(() => readEdgeCluster({})).toThrow(/REGIONS is empty/)
    expect(() => readEdgeCluster({ REGIONS: 'weur,mars' })).toThrow(/"mars" is not a location hint/)
    expect(() => readEdgeCluster({ REGIONS: 'a=weur,a=enam' })).toThrow(/region a twice/)
    expect(() => readEdgeCluster({ REGIONS: 'a:b=weur' })).toThrow(/region id/)
    expect(() => readEdgeCluster({ REGIONS: 'a=weur=x' })).toThrow(/id=hint/)
    expect(() => readEdgeCluster({ REGIONS: Array.from({ length: 16 }, (_, i) => `r${i}=weur`).join(',') })).toThrow(/at most 15/)
    expect(() => readEdgeCluster({ REGIONS: 'weur', DWCP_CLUSTER_ID: 'no spaces' })).toThrow(/DWCP_CLUSTER_ID/)
  })

  it('keeps every engine timeout in milliseconds whatever the tick', () => {
    expect(edgeTickMs(undefined)).toBe(100)
    expect(edgeTickMs('250')).toBe(250)
    expect(() => edgeTickMs('5')).toThrow(/DWCP_TICK_MS/)
    expect(() => edgeTickMs('abc')).toThrow(/DWCP_TICK_MS/)
    for (const tickMs of [50, 100, 200, 300, 500]) {
      const config = edgeReplicaConfig(tickMs)
      // Rounded to whole ticks: within half a tick.
      const periodTicks = config.raft!.heartbeatTicks
      expect(Math.abs(periodTicks * tickMs - edgeTimingsMs.probeInterval)).toBeLessThanOrEqual(tickMs / 2)
      expect(Math.abs(config.pbft!.viewChangeTicks! * tickMs - 4_000)).toBeLessThanOrEqual(tickMs / 2)
      // Every periodic timer a whole number of probe intervals, on one grid: one wake serves them all.
      expect(config.alignedPeriods).toBe(true)
      expect(config.raft!.electionTicksMin % periodTicks).toBe(0)
      expect(config.pbft!.statusTicks).toBe(periodTicks)
      for (const ms of [config.gossip!.probeIntervalMs, config.gossip!.gossipIntervalMs, config.gossip!.updateSyncIntervalMs, config.gossip!.pushPullIntervalMs, config.placementIntervalMs!, edgeProberConfig(tickMs).probeIntervalMs!]) {
        expect(ms % (periodTicks * tickMs)).toBe(0)
      }
      expect(config.gossip!.probeTimeoutMs).toBeLessThan(config.gossip!.probeIntervalMs)
    }
  })
})

describe('choosing the region of a request', () => {
  const { regions } = readEdgeCluster({ REGIONS: 'eu=weur,us=enam,ap=apac,usw=wnam' })
  const none = { header: null, query: null }

  it('takes the region named by header first, then by query, and refuses an unknown one', () => {
    expect(chooseRegion(regions, { header: 'ap', query: 'eu' }, undefined)).toMatchObject({ kind: 'region', by: 'header', region: { id: 'ap' } })
    expect(chooseRegion(regions, { header: null, query: 'eu' }, undefined)).toMatchObject({ kind: 'region', by: 'query', region: { id: 'eu' } })
    expect(chooseRegion(regions, { header: 'mars', query: null }, undefined)).toEqual({ kind: 'unknown', asked: 'mars' })
  })

  it('else picks the nearest region to the client, by coordinates, then by continent, then the first', () => {
    // Paris, Seattle, Tokyo, New York
    expect(chooseRegion(regions, none, { latitude: '48.85', longitude: '2.35' })).toMatchObject({ by: 'distance', region: { id: 'eu' } })
    expect(chooseRegion(regions, none, { latitude: '47.6', longitude: '-122.3' })).toMatchObject({ by: 'distance', region: { id: 'usw' } })
    expect(chooseRegion(regions, none, { latitude: '35.7', longitude: '139.7' })).toMatchObject({ by: 'distance', region: { id: 'ap' } })
    expect(chooseRegion(regions, none, { latitude: '40.7', longitude: '-74.0', continent: 'EU' })).toMatchObject({ by: 'distance', region: { id: 'us' } })
    expect(chooseRegion(regions, none, { continent: 'OC' })).toMatchObject({ by: 'continent', region: { id: 'ap' } })
    expect(chooseRegion(regions, none, { continent: 'SA' })).toMatchObject({ by: 'continent', region: { id: 'us' } })
    expect(chooseRegion(regions, none, {})).toMatchObject({ by: 'default', region: { id: 'eu' } })
    expect(distanceKm(hintPlaces.weur.latitude, hintPlaces.weur.longitude, hintPlaces.enam)).toBeGreaterThan(6_000)
  })
})

describe('the Worker in front of the region objects', () => {
  it('answers a request for an unknown region with a JSON 400 naming the regions', async () => {
    const response = await exports.default.fetch('https://edge.test/v1/status?region=mars')
    expect(response.status).toBe(400)
    expect(await response.json()).toEqual({ error: { code: 'unknownRegion', message: 'no region mars; regions: weur, enam, apac, wnam' } })
  })

  it('serves a request from the region named by ?region= and says which', async () => {
    const response = await exports.default.fetch('https://edge.test/v1/status?region=apac')
    expect(response.status).toBe(200)
    expect(response.headers.get('x-dwcp-region')).toBe('apac')
    expect(await response.json()).toMatchObject({ node: 'region-apac', region: 'apac' })
  })

  it("answers a path the API does not have with the region object's JSON 404", async () => {
    const response = await exports.default.fetch('https://edge.test/v1/nope', { headers: { 'x-dwcp-region': 'weur' } })
    expect(response.status).toBe(404)
    expect(await response.json()).toMatchObject({ error: { code: 'unknownRoute' } })
  })
})
