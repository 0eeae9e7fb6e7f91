/**
 * Which region serves a request: the one it names (`x-dwcp-region` header,
 * else `?region=`), else the configured region nearest to the client.
 *
 * Nearest: Cloudflare gives each request the client's approximate latitude
 * and longitude (`request.cf.latitude/longitude`, from the IP address); the
 * region whose location hint's place is the fewest kilometres away (great
 * circle) wins. Without coordinates, the client's continent
 * (`request.cf.continent`) picks the hints of that continent, in the order
 * below; without either (a request from inside Cloudflare, or a local
 * test), the first configured region serves.
 */
import type { EdgeRegion, LocationHint } from '../durable-objects/edgeCluster.ts'

/** A place inside each location hint's area (latitude, longitude in degrees): where its data centres are densest. */
export const hintPlaces: Record<LocationHint, { readonly latitude: number; readonly longitude: number }> = {
  wnam: { latitude: 37.4, longitude: -122.0 }, // San Francisco Bay Area
  enam: { latitude: 39.0, longitude: -77.5 }, // Ashburn, Virginia
  sam: { latitude: -23.5, longitude: -46.6 }, // São Paulo
  weur: { latitude: 50.1, longitude: 8.7 }, // Frankfurt
  eeur: { latitude: 52.2, longitude: 21.0 }, // Warsaw
  apac: { latitude: 1.35, longitude: 103.8 }, // Singapore
  oc: { latitude: -33.9, longitude: 151.2 }, // Sydney
  afr: { latitude: -26.2, longitude: 28.0 }, // Johannesburg
  me: { latitude: 25.2, longitude: 55.3 }, // Dubai
}

/** Continent codes of request.cf.continent to the hints that serve it, nearest first. */
export const continentHints: Record<string, readonly LocationHint[]> = {
  NA: ['enam', 'wnam', 'sam', 'weur'],
  SA: ['sam', 'enam', 'wnam', 'afr'],
  EU: ['weur', 'eeur', 'me', 'enam'],
  AF: ['afr', 'me', 'weur', 'eeur'],
  AS: ['apac', 'me', 'oc', 'eeur'],
  OC: ['oc', 'apac', 'wnam'],
  AN: ['oc', 'sam', 'afr'],
}

/** What of request.cf the choice reads (strings, as Cloudflare sends them). */
export interface ClientPlace {
  readonly latitude?: string | number
  readonly longitude?: string | number
  readonly continent?: string
}

export type RegionChoice = { readonly kind: 'region'; readonly region: EdgeRegion; readonly by: 'header' | 'query' | 'distance' | 'continent' | 'default' } | { readonly kind: 'unknown'; readonly asked: string }

export function chooseRegion(regions: readonly EdgeRegion[], asked: { readonly header: string | null; readonly query: string | null }, place: ClientPlace | undefined): RegionChoice {
  for (const [by, value] of [
    ['header', asked.header],
    ['query', asked.query],
  ] as const) {
    if (value === null || value === '') continue
    const region = regions.find((candidate) => candidate.id === value)
    return region === undefined ? { kind: 'unknown', asked: value } : { kind: 'region', region, by }
  }
  const latitude = Number(place?.latitude)
  const longitude = Number(place?.longitude)
  if (place?.latitude !== undefined && place.longitude !== undefined && Number.isFinite(latitude) && Number.isFinite(longitude)) {
    let best = regions[0]!
    let bestKm = Number.POSITIVE_INFINITY
    for (const region of regions) {
      const km = distanceKm(latitude, longitude, hintPlaces[region.locationHint])
      if (km < bestKm) {
        best = region
        bestKm = km
      }
    }
    return { kind: 'region', region: best, by: 'distance' }
  }
  for (const hint of continentHints[place?.continent ?? ''] ?? []) {
    const region = regions.find((candidate) => candidate.locationHint === hint)
    if (region !== undefined) return { kind: 'region', region, by: 'continent' }
  }
  return { kind: 'region', region: regions[0]!, by: 'default' }
}

const earthRadiusKm = 6371

/** Great-circle distance (haversine). */
export function distanceKm(latitude: number, longitude: number, to: { readonly latitude: number; readonly longitude: number }): number {
  const radians = Math.PI / 180
  const dLatitude = (to.latitude - latitude) * radians
  const dLongitude = (to.longitude - longitude) * radians
  const a = Math.sin(dLatitude / 2) ** 2 + Math.cos(latitude * radians) * Math.cos(to.latitude * radians) * Math.sin(dLongitude / 2) ** 2
  return 2 * earthRadiusKm * Math.asin(Math.min(1, Math.sqrt(a)))
}
