/**
 * How the interaction harnesses (raft, swim, pbft) name nodes in a directive:
 * bare words are node ids, looked up in the harness's map of nodes.
 */
import type { Directive } from './datadriven.ts'

/** The directive's bare words (arguments without values), in order. */
export function wordsOf(d: Directive): string[] {
  return d.args.filter((arg) => arg.values.length === 0).map((arg) => arg.key)
}

/** The bare word at `position`; the script is wrong when it is missing. */
export function wordAt(d: Directive, position: number): string {
  const word = wordsOf(d)[position]
  if (word === undefined) throw new Error(`${d.command}: node id ${position + 1} is missing`)
  return word
}

export function lookup<N>(nodes: ReadonlyMap<string, N>, id: string): N {
  const node = nodes.get(id)
  if (node === undefined) throw new Error(`no node ${id}`)
  return node
}

/** The node named by the bare word at `position`; it must be up. */
export function upNode<N extends { readonly id: string; readonly down: boolean }>(nodes: ReadonlyMap<string, N>, d: Directive, position: number): N {
  const node = lookup(nodes, wordAt(d, position))
  if (node.down) throw new Error(`node ${node.id} is down`)
  return node
}

/** The node ids the directive names (every node when it names none). */
export function namedIds(nodes: ReadonlyMap<string, { readonly id: string }>, d: Directive): string[] {
  const named = wordsOf(d).map((word) => lookup(nodes, word).id)
  return named.length > 0 ? named : [...nodes.keys()]
}
