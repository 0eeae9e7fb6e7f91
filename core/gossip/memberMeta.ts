/**
 * A member's metadata as gossip carries it: region, address and tags, on
 * alive news and push-pull entries. Informational only: the cluster
 * configuration decides who is a member, and metadata about a node outside it
 * is dropped with the rest of its news.
 *
 *   meta := text region, text address, count (text name, text value)*   (tags sorted by name)
 *
 * The incarnation rule (as memberlist's aliveNode and UpdateNode): a member
 * that changes its metadata raises its incarnation, and metadata from a
 * higher incarnation replaces what is held; metadata from the same or an
 * older one never does, except that a member with none held takes the first
 * it hears (a cluster created together does not announce, so its members'
 * metadata first comes at incarnation 1 through push-pull).
 */
import type * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import { fail } from '../codec/decodeError.ts'
import { readText, readUint, textBytes, uintBytes, utf8Length, writeText, writeUint } from '../codec/fields.ts'
import type { NodeId } from '../ports.ts'

export interface MemberMeta {
  readonly region: string
  /** The base URL peers and clients reach it at ('' where there is none, as in the simulator). */
  readonly address: string
  readonly tags: Readonly<Record<string, string>>
}

/** What gossip carries of a member; a configuration member's fields have the same bounds (configurationLimits uses these). */
export const memberMetaLimits = {
  /** A region name (a short label such as eu-west). */
  regionBytesMax: 64,
  /** A base URL. */
  addressBytesMax: 256,
  /** Tags per member. */
  tagsMax: 16,
  /** A tag's name or value. */
  tagBytesMax: 128,
} as const

const ascending = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** Why `meta` cannot go on the wire, or null. */
export function memberMetaProblem(meta: MemberMeta): string | null {
  const L = memberMetaLimits
  if (utf8Length(meta.region) > L.regionBytesMax) return `region is above regionBytesMax=${L.regionBytesMax}`
  if (utf8Length(meta.address) > L.addressBytesMax) return `address is above addressBytesMax=${L.addressBytesMax}`
  const tags = Object.entries(meta.tags)
  if (tags.length > L.tagsMax) return `${tags.length} tags, tagsMax=${L.tagsMax}`
  for (const [name, value] of tags) {
    if (utf8Length(name) === 0 || utf8Length(name) > L.tagBytesMax || utf8Length(value) > L.tagBytesMax) return `tag ${JSON.stringify(name)} needs a name of 1 to ${L.tagBytesMax} bytes and a value within it`
  }
  return null
}

/** A copy with tags sorted by name: one metadata has one encoding, and equal ones compare equal. */
export function normalizeMemberMeta(meta: MemberMeta): MemberMeta {
  return { region: meta.region, address: meta.address, tags: Object.fromEntries(Object.entries(meta.tags).sort(([a], [b]) => ascending(a, b))) }
}

export function sameMemberMeta(a: MemberMeta, b: MemberMeta): boolean {
  if (a.region !== b.region || a.address !== b.address) return false
  const aTags = Object.entries(a.tags)
  if (aTags.length !== Object.keys(b.tags).length) return false
  return aTags.every(([name, value]) => Object.hasOwn(b.tags, name) && b.tags[name] === value)
}

export function writeMemberMeta(encoder: encoding.Encoder, meta: MemberMeta): void {
  writeText(encoder, meta.region)
  writeText(encoder, meta.address)
  const tags = Object.entries(meta.tags).sort(([a], [b]) => ascending(a, b))
  writeUint(encoder, tags.length)
  for (const [name, value] of tags) {
    writeText(encoder, name)
    writeText(encoder, value)
  }
}

export function memberMetaBytes(meta: MemberMeta): number {
  const tags = Object.entries(meta.tags)
  let bytes = textBytes(meta.region) + textBytes(meta.address) + uintBytes(tags.length)
  for (const [name, value] of tags) bytes += textBytes(name) + textBytes(value)
  return bytes
}

/** Refuses metadata beyond the limits, empty or repeated tag names, and tags out of order (one metadata, one encoding). */
export function readMemberMeta(decoder: decoding.Decoder): MemberMeta {
  const L = memberMetaLimits
  const region = readText(decoder, L.regionBytesMax, 'member region')
  const address = readText(decoder, L.addressBytesMax, 'member address')
  const count = readUint(decoder, L.tagsMax, 'member tags')
  const tags: [string, string][] = []
  let previous: string | null = null
  for (let index = 0; index < count; index++) {
    const name = readText(decoder, L.tagBytesMax, 'tag name')
    if (name.length === 0) fail('invalidField', 'a tag name is empty')
    if (previous !== null && name <= previous) fail('invalidField', `tag ${JSON.stringify(name)} is repeated or out of order`)
    previous = name
    tags.push([name, readText(decoder, L.tagBytesMax, 'tag value')])
  }
  // fromEntries defines own properties: a tag named __proto__ stays a tag.
  return { region, address, tags: Object.fromEntries(tags) }
}

/** Metadata held per member, with the incarnation it came at. */
export class MemberMetas {
  private readonly held = new Map<NodeId, { meta: MemberMeta; incarnation: number }>()

  get(id: NodeId): MemberMeta | undefined {
    return this.held.get(id)?.meta
  }

  get size(): number {
    return this.held.size
  }

  /** Takes `meta` when it comes at a higher incarnation than what is held (or none is held); true when what is held changed. */
  offer(id: NodeId, incarnation: number, meta: MemberMeta): boolean {
    const held = this.held.get(id)
    if (held !== undefined && incarnation <= held.incarnation) return false
    this.held.set(id, { meta, incarnation })
    return held === undefined || !sameMemberMeta(held.meta, meta)
  }

  delete(id: NodeId): void {
    this.held.delete(id)
  }
}
