/**
 * Interaction scripts: protocol behaviour written down as text, in the format of
 * cockroachdb/datadriven (the one etcd-io/raft's testdata/*.txt use).
 *
 * A script is a list of directives, each followed by the output it must produce:
 *
 *     # A comment: lines starting with '#' (and blank lines) between directives are kept as they are.
 *     campaign 1
 *     ----
 *     1 became candidate at term 1
 *
 *     deliver from=1 to=(2,3)
 *     a line of input
 *     another line of input
 *     ----
 *     ok
 *
 * - The directive is one line: a command, then arguments separated by spaces. An argument is
 *   a bare `word`, a `key=value`, or a `key=(v1,v2)` list (spaces after the commas are allowed).
 * - Lines after the directive and before `----` are its input text, given to the handler as is.
 * - After `----` comes the expected output, ended by a blank line or the end of the file.
 *   Output that contains blank lines is fenced by two `----` lines on each side:
 *
 *     print spaced
 *     ----
 *     ----
 *     3
 *
 *     4
 *     ----
 *     ----
 *
 * Outputs are compared after removing spaces at line ends and blank lines at the end.
 * The first difference fails the test with the file:line of its directive.
 *
 * The `--rewrite` switch: `DWCP_REWRITE=1 npx vitest run test/interaction` writes the actual
 * outputs back into the scripts (comments and layout kept) instead of failing; review the diff.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { basename, isAbsolute, join, relative } from 'node:path'
import { it } from 'vitest'

/** One argument of a directive: `word` has no values, `key=value` one, `key=(a,b)` several. */
export interface DirectiveArg {
  readonly key: string
  readonly values: readonly string[]
}

export interface Directive {
  readonly command: string
  readonly args: readonly DirectiveArg[]
  /** The lines between the directive and `----`, joined with '\n', without spaces at line ends or blank lines at the end ('' when none). */
  readonly input: string
  /** Where the directive is, as `file:line`, for error messages. */
  readonly pos: string
}

/** Runs one directive and returns its output; throws when the directive is wrong. */
export type DirectiveHandler = (directive: Directive) => string

/** Comment and blank lines between directives, kept verbatim. */
export interface TextItem {
  readonly kind: 'text'
  readonly lines: readonly string[]
}

export interface DirectiveItem {
  readonly kind: 'directive'
  readonly directive: Directive
  /** The expected output, normalized as outputs are before comparing. */
  readonly expected: string
  /** The directive line and its input lines, verbatim. */
  readonly headerLines: readonly string[]
  /** From the first `----` to the end of the expected output (closing fence included), verbatim. */
  readonly outputLines: readonly string[]
}

export type ScriptItem = TextItem | DirectiveItem

const separator = '----'

// ---------------------------------------------------------------------------------------------
// Parsing

export function parseScript(text: string, fileName: string): ScriptItem[] {
  const lines = splitLines(text)
  const items: ScriptItem[] = []
  let textLines: string[] = []
  let index = 0
  while (index < lines.length) {
    const line = lines[index]!
    if (isBlankOrComment(line)) {
      textLines.push(line)
      index++
      continue
    }
    if (textLines.length > 0) items.push({ kind: 'text', lines: textLines })
    textLines = []
    const block = readDirectiveBlock(lines, index, fileName)
    items.push(block.item)
    index = block.end
  }
  if (textLines.length > 0) items.push({ kind: 'text', lines: textLines })
  return items
}

function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/)
  if (lines.at(-1) === '') lines.pop()
  return lines
}

function isBlankOrComment(line: string): boolean {
  const trimmed = line.trim()
  return trimmed === '' || trimmed.startsWith('#')
}

/** Reads the directive starting at `start`; `end` is the index of the first line after its output. */
function readDirectiveBlock(lines: readonly string[], start: number, fileName: string): { item: DirectiveItem; end: number } {
  const pos = `${fileName}:${start + 1}`
  const separatorIndex = lines.indexOf(separator, start + 1)
  if (separatorIndex < 0) throw new Error(`${pos}: directive "${lines[start]!.trim()}" has no "${separator}" line after it`)
  const headerLines = lines.slice(start, separatorIndex)
  const { command, args } = parseDirectiveLine(headerLines[0]!, pos)
  const input = normalizeOutput(headerLines.slice(1).join('\n'))
  const output = readExpected(lines, separatorIndex + 1, pos)
  const outputLines = lines.slice(separatorIndex, output.end)
  return { item: { kind: 'directive', directive: { command, args, input, pos }, expected: normalizeOutput(output.text), headerLines, outputLines }, end: output.end }
}

function readExpected(lines: readonly string[], start: number, pos: string): { text: string; end: number } {
  if (lines[start] === separator) return readFencedExpected(lines, start + 1, pos)
  let end = start
  while (end < lines.length && lines[end]!.trim() !== '') end++
  return { text: lines.slice(start, end).join('\n'), end }
}

/** Output that may hold blank lines: everything up to two successive `----` lines. */
function readFencedExpected(lines: readonly string[], start: number, pos: string): { text: string; end: number } {
  for (let index = start; index + 1 < lines.length; index++) {
    if (lines[index] === separator && lines[index + 1] === separator) return { text: lines.slice(start, index).join('\n'), end: index + 2 }
  }
  throw new Error(`${pos}: output opened with two "${separator}" lines is never closed with two "${separator}" lines`)
}

function parseDirectiveLine(line: string, pos: string): { command: string; args: DirectiveArg[] } {
  const [command, ...tokens] = line.trim().match(/[^\s=()]+=\([^()]*\)|\S+/g) ?? []
  if (command === undefined || !/^[\w.:/-]+$/.test(command)) throw new Error(`${pos}: malformed command name in "${line.trim()}"`)
  const args = tokens.map((token) => parseArg(token, pos))
  const duplicate = args.find((arg, index) => args.findIndex((other) => other.key === arg.key) !== index)
  if (duplicate !== undefined) throw new Error(`${pos}: argument "${duplicate.key}" given twice`)
  return { command, args }
}

function parseArg(token: string, pos: string): DirectiveArg {
  const malformed = new Error(`${pos}: malformed argument "${token}" (expected word, key=value or key=(v1,v2))`)
  const equals = token.indexOf('=')
  const key = equals < 0 ? token : token.slice(0, equals)
  const value = equals < 0 ? null : token.slice(equals + 1)
  if (key === '' || /[()]/.test(key)) throw malformed
  if (value === null) return { key, values: [] }
  if (value.startsWith('(') && value.endsWith(')')) {
    const values = value
      .slice(1, -1)
      .split(',')
      .map((item) => item.trim())
    if (values.some((item) => item === '')) throw malformed
    return { key, values }
  }
  if (value === '' || /[()]/.test(value)) throw malformed
  return { key, values: [value] }
}

/** Removes spaces at line ends and blank lines at the end: what is compared and written back. */
export function normalizeOutput(text: string): string {
  const lines = text.split(/\r?\n/).map((line) => line.trimEnd())
  while (lines.length > 0 && lines.at(-1) === '') lines.pop()
  return lines.join('\n')
}

// ---------------------------------------------------------------------------------------------
// Arguments, for handlers

export function hasArg(directive: Directive, key: string): boolean {
  return directive.args.some((arg) => arg.key === key)
}

/** The values of `key=(v1,v2)` or `key=v`; the fallback when the argument is absent and one is given. */
export function argList(directive: Directive, key: string, fallback?: readonly string[]): readonly string[] {
  return argValues(directive, key, fallback, `${key}=(v1,v2)`)
}

/** The single value of `key=value`; the fallback when the argument is absent and one is given. */
export function argString(directive: Directive, key: string, fallback?: string): string {
  return singleValue(directive, key, fallback, `${key}=value`)
}

/** The integer value of `key=n`; the fallback when the argument is absent and one is given. */
export function argInt(directive: Directive, key: string, fallback?: number): number {
  const text = singleValue(directive, key, fallback === undefined ? undefined : String(fallback), `${key}=n`)
  const value = Number(text)
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value)) throw argError(directive, key, `is "${text}", not an integer`, `${key}=n`)
  return value
}

function singleValue(directive: Directive, key: string, fallback: string | undefined, usage: string): string {
  const values = argValues(directive, key, fallback === undefined ? undefined : [fallback], usage)
  if (values.length !== 1) throw argError(directive, key, `has ${values.length} values`, usage)
  return values[0]!
}

function argValues(directive: Directive, key: string, fallback: readonly string[] | undefined, usage: string): readonly string[] {
  const arg = directive.args.find((candidate) => candidate.key === key)
  if (arg !== undefined && arg.values.length > 0) return arg.values
  if (arg === undefined && fallback !== undefined) return fallback
  throw argError(directive, key, arg === undefined ? 'is missing' : 'has no value', usage)
}

function argError(directive: Directive, key: string, problem: string, usage: string): Error {
  return new Error(`${directive.pos}: ${directive.command}: argument "${key}" ${problem} (expected ${usage})`)
}

// ---------------------------------------------------------------------------------------------
// Running

export function isRewriteOn(): boolean {
  return process.env.DWCP_REWRITE === '1'
}

/**
 * Runs the script at `path` directive by directive through `handle`. Throws at the first
 * output that differs from the expected one, or, with DWCP_REWRITE=1, writes the actual
 * outputs back into the file instead.
 */
export function runScript(path: string, handle: DirectiveHandler): void {
  const original = readFileSync(path, 'utf8')
  const items = parseScript(original, displayName(path))
  const rewriting = isRewriteOn()
  const checked: ScriptItem[] = []
  let changed = false
  for (const item of items) {
    if (item.kind === 'text') {
      checked.push(item)
      continue
    }
    const actual = normalizeOutput(runDirective(item, handle))
    if (actual === item.expected) {
      checked.push(item)
      continue
    }
    if (!rewriting) throw mismatchError(item, actual)
    checked.push({ ...item, expected: actual, outputLines: formatOutput(actual, item.directive.pos) })
    changed = true
  }
  if (changed) writeFileSync(path, renderScript(checked))
}

function runDirective(item: DirectiveItem, handle: DirectiveHandler): string {
  const { pos } = item.directive
  try {
    return handle(item.directive)
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    if (message.startsWith(pos)) throw error
    throw new Error(`${pos}: ${item.headerLines[0]!.trim()}: ${message}`, { cause: error })
  }
}

function mismatchError(item: DirectiveItem, actual: string): Error {
  const indent = (text: string): string => (text === '' ? '    (nothing)' : text.replace(/^/gm, '    '))
  return new Error(
    `${item.directive.pos}: output differs for "${item.headerLines[0]!.trim()}"\n` + `expected:\n${indent(item.expected)}\nactual:\n${indent(actual)}\n` + '(if the actual output is right: DWCP_REWRITE=1 npx vitest run test/interaction)',
  )
}

/** The `----` block for an output: fenced by two `----` lines when a plain block could not hold it. */
function formatOutput(output: string, pos: string): string[] {
  const lines = output === '' ? [] : output.split('\n')
  const needsFence = lines.includes('') || lines[0] === separator
  if (!needsFence) return [separator, ...lines]
  if (lines.some((line, index) => line === separator && lines[index + 1] === separator)) throw new Error(`${pos}: output holds two successive "${separator}" lines and cannot be written to a script`)
  return [separator, separator, ...lines, separator, separator]
}

/** The script as text; a blank line is added after an unfenced output that something follows directly. */
export function renderScript(items: readonly ScriptItem[]): string {
  const lines: string[] = []
  items.forEach((item, index) => {
    if (item.kind === 'text') {
      lines.push(...item.lines)
      return
    }
    lines.push(...item.headerLines, ...item.outputLines)
    const fenced = item.outputLines[1] === separator
    const next = items[index + 1]
    const nextStartsBlank = next?.kind === 'text' && next.lines[0]!.trim() === ''
    if (!fenced && next !== undefined && !nextStartsBlank) lines.push('')
  })
  return lines.map((line) => `${line}\n`).join('')
}

/** The path relative to the working directory when inside it, so errors are clickable. */
function displayName(path: string): string {
  const relativePath = relative(process.cwd(), path)
  return relativePath.startsWith('..') || isAbsolute(relativePath) ? path : relativePath
}

/** The `.txt` scripts in `dir`, sorted by name, as paths. */
export function scriptFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.txt'))
    .sort()
    .map((name) => join(dir, name))
}

/** One vitest test per script in `dir`, each with a fresh handler (call inside `describe` or at top level). */
export function runScripts(dir: string, handlerFactory: () => DirectiveHandler): void {
  for (const file of scriptFiles(dir)) it(basename(file), () => runScript(file, handlerFactory()))
}
