import { describe, expect, it } from 'vitest'
import { Rng } from '../../core/lib/prng.ts'
import { defaultNetworkConfig, noNetworkFaults, SimNetwork, type NetworkConfig, type NetworkFaults } from '../../sim/network.ts'

function network(faults: NetworkFaults, nodes = 4, seed = 1, config: Partial<NetworkConfig> = {}): SimNetwork {
  return new SimNetwork({ regionOf: Array.from({ length: nodes }, (_, index) => index % 2), rng: Rng.fromSeed(seed), config: { ...defaultNetworkConfig, ...config, faults } })
}

/** Sends `count` messages from → to, one per millisecond, and delivers them in arrival order; returns what arrived. */
function exchange(net: SimNetwork, from: number, to: number, count: number, startUs = 0): number[] {
  const arrivals: { atUs: number; seq: number }[] = []
  for (let seq = 0; seq < count; seq++) {
    const copies = net.route(from, to, startUs + seq * 1000)
    for (let copy = 0; copy < copies; copy++) arrivals.push({ atUs: net.deliveryTimesUs[copy]!, seq })
  }
  arrivals.sort((a, b) => a.atUs - b.atUs)
  return arrivals.filter((arrival) => net.arrive(from, to, arrival.seq)).map((arrival) => arrival.seq)
}

describe('simulated network', () => {
  it('delivers everything, in order, on a clean LAN link', () => {
    const net = network(noNetworkFaults, 4, 1, { lanLatency: { baseUs: 500, jitterUs: 0 } })
    expect(exchange(net, 0, 2, 100)).toEqual(Array.from({ length: 100 }, (_, index) => index))
    expect(net.metrics).toMatchObject({ sent: 100, droppedLoss: 0, duplicated: 0, reordered: 0 })
  })

  it('stops delivery across a partition, also for messages already in flight, and resumes after heal', () => {
    const net = network(noNetworkFaults)
    const inFlight = net.route(0, 1, 0)
    expect(inFlight).toBe(1)
    net.partition([0], [1, 2, 3])
    expect(net.arrive(0, 1, 0)).toBe(false)
    expect(exchange(net, 0, 1, 50)).toEqual([])
    expect(exchange(net, 3, 0, 50)).toEqual([])
    expect(exchange(net, 2, 3, 10)).toHaveLength(10) // the rest of the cluster still talks
    net.heal()
    expect(exchange(net, 0, 1, 50, 100_000)).toHaveLength(50)
    expect(net.metrics.droppedPartition).toBe(101)
  })

  it('cuts only one direction in a one-way partition', () => {
    const net = network(noNetworkFaults)
    net.partitionOneWay([0], [1])
    expect(exchange(net, 0, 1, 20)).toEqual([])
    expect(exchange(net, 1, 0, 20)).toHaveLength(20)
  })

  it('holds messages on a clogged link until the clog ends, losing none', () => {
    const net = network(noNetworkFaults)
    net.clog(0, 1, 500_000)
    for (let seq = 0; seq < 20; seq++) {
      expect(net.route(0, 1, seq * 1000)).toBe(1)
      expect(net.deliveryTimesUs[0]).toBe(500_000)
    }
    expect(net.metrics.clogDelayed).toBe(20)
  })

  it('loses, duplicates and reorders messages at the configured rates', () => {
    const count = 20_000
    const lossy = network({ ...noNetworkFaults, lossProbability: 0.2 })
    expect(exchange(lossy, 0, 2, count).length / count).toBeCloseTo(0.8, 1)

    const duplicating = network({ ...noNetworkFaults, duplicateProbability: 0.1 })
    const arrived = exchange(duplicating, 0, 2, count)
    expect(duplicating.metrics.duplicated / count).toBeCloseTo(0.1, 1)
    expect(arrived.length).toBe(count + duplicating.metrics.duplicated)

    const reordering = network({ ...noNetworkFaults, reorderProbability: 0.1, reorderDelayUsMax: 50_000 }, 4, 1, { lanLatency: { baseUs: 500, jitterUs: 0 } })
    const order = exchange(reordering, 0, 2, count)
    expect(reordering.metrics.reorderDelayed / count).toBeCloseTo(0.1, 1)
    // Every held-back message arrives after later ones: counted as reordered.
    let outOfOrder = 0
    for (let index = 1; index < order.length; index++) if (order[index]! < Math.max(...order.slice(Math.max(0, index - 60), index))) outOfOrder++
    expect(reordering.metrics.reordered).toBeGreaterThan(0.09 * count)
    expect(outOfOrder).toBe(reordering.metrics.reordered)
  })

  it('handles large networks with sparse link state: partitions and reorder counting still work', () => {
    const net = network({ ...noNetworkFaults, reorderProbability: 0.1, reorderDelayUsMax: 50_000 }, 3000, 1, { lanLatency: { baseUs: 500, jitterUs: 0 } })
    const order = exchange(net, 10, 2990, 2000)
    expect(order).toHaveLength(2000)
    expect(net.metrics.reordered).toBeGreaterThan(100)
    net.partition([10], [2990])
    expect(exchange(net, 10, 2990, 10, 10_000_000)).toEqual([])
    expect(exchange(net, 11, 2990, 10, 10_000_000)).toHaveLength(10)
  })

  it('draws the same fates for the same seed', () => {
    const faults = { lossProbability: 0.1, duplicateProbability: 0.1, reorderProbability: 0.1, reorderDelayUsMax: 10_000 }
    expect(exchange(network(faults, 4, 5), 0, 1, 500)).toEqual(exchange(network(faults, 4, 5), 0, 1, 500))
    expect(exchange(network(faults, 4, 5), 0, 1, 500)).not.toEqual(exchange(network(faults, 4, 6), 0, 1, 500))
  })
})
