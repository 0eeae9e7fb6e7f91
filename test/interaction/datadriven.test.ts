import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { argInt, argList, argString, hasArg, parseScript, renderScript, runScript, runScripts } from './datadriven.ts'
import type { Directive, DirectiveHandler, DirectiveItem } from './datadriven.ts'

const toyDir = join(import.meta.dirname, 'toy')
const calculatorScript = join(toyDir, 'calculator.txt')

/** A stack calculator; every command but `print` answers with the stack, bottom first. */
function calculator(): DirectiveHandler {
  const stack: number[] = []
  const pop = (pos: string): number => {
    const value = stack.pop()
    if (value === undefined) throw new Error(`${pos}: stack is empty`)
    return value
  }
  const apply = (token: string, pos: string): void => {
    if (token === 'add') stack.push(pop(pos) + pop(pos))
    else if (token === 'mul') stack.push(pop(pos) * pop(pos))
    else stack.push(parseInteger(token, pos))
  }
  return (directive) => {
    const { pos } = directive
    switch (directive.command) {
      case 'push':
        if (hasArg(directive, 'x')) stack.push(argInt(directive, 'x'))
        else if (hasArg(directive, 'all')) stack.push(...argList(directive, 'all').map((value) => parseInteger(value, pos)))
        else stack.push(...directive.args.map((arg) => parseInteger(arg.key, pos)))
        break
      case 'add':
      case 'mul':
        apply(directive.command, pos)
        break
      case 'eval':
        for (const token of directive.input.split(/\s+/).filter((word) => word !== '')) apply(token, pos)
        break
      case 'clear':
        stack.length = 0
        if (hasArg(directive, 'quiet')) return ''
        break
      case 'print':
        return stack.join(hasArg(directive, 'spaced') ? '\n\n' : '\n')
      default:
        throw new Error(`unknown command "${directive.command}"`)
    }
    return stack.join(' ')
  }
}

function parseInteger(text: string, pos: string): number {
  if (!/^-?\d+$/.test(text)) throw new Error(`${pos}: "${text}" is not an integer`)
  return Number(text)
}

function onlyDirective(text: string): Directive {
  const item = parseScript(text, 'inline.txt').find((candidate) => candidate.kind === 'directive')
  if (item === undefined) throw new Error('no directive')
  return item.directive
}

describe('toy scripts', () => {
  runScripts(toyDir, calculator)
})

describe('datadriven harness', () => {
  let dir = ''
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dwcp-datadriven-'))
    vi.stubEnv('DWCP_REWRITE', '0') // these tests decide rewriting themselves, whatever the caller's switch
  })
  afterEach(() => {
    vi.unstubAllEnvs()
    rmSync(dir, { recursive: true, force: true })
  })

  const scriptAt = (name: string, text: string): string => {
    const path = join(dir, name)
    writeFileSync(path, text)
    return path
  }

  describe('parsing', () => {
    it('reads bare words, key=value and key=(v1,v2) arguments', () => {
      const directive = onlyDirective('# c\n\ndeliver now from=1 to=(2, 3,4)\n----\nok\n')
      expect(directive.command).toBe('deliver')
      expect(directive.args).toEqual([
        { key: 'now', values: [] },
        { key: 'from', values: ['1'] },
        { key: 'to', values: ['2', '3', '4'] },
      ])
      expect(directive.pos).toBe('inline.txt:3')
      expect(directive.input).toBe('')
    })

    it('reads multi-line input and the expected output', () => {
      const items = parseScript('eval\n1 2\nadd  \n----\n3\n4\n\nprint\n----\n3\n', 'inline.txt')
      const directives = items.filter((item): item is DirectiveItem => item.kind === 'directive')
      expect(directives.map((item) => [item.directive.input, item.expected])).toEqual([
        ['1 2\nadd', '3\n4'],
        ['', '3'],
      ])
      expect(directives[1]!.directive.pos).toBe('inline.txt:8')
    })

    it('reads fenced output with blank lines, and an empty output', () => {
      const items = parseScript('a\n----\n----\nx\n\ny\n----\n----\nb\n----\n\nc\n----\n', 'inline.txt')
      const expected = items.flatMap((item) => (item.kind === 'directive' ? [item.expected] : []))
      expect(expected).toEqual(['x\n\ny', '', ''])
    })

    it('renders a parsed script back to the same text', () => {
      const text = readFileSync(calculatorScript, 'utf8')
      expect(renderScript(parseScript(text, 'calculator.txt'))).toBe(text)
    })

    it('names file:line when the script is malformed', () => {
      expect(() => parseScript('# c\npush 1\n', 'bad.txt')).toThrow(/^bad\.txt:2: directive "push 1" has no "----"/)
      expect(() => parseScript('a\n----\n----\nx\n', 'bad.txt')).toThrow(/^bad\.txt:1: output opened with two "----" lines is never closed/)
      expect(() => parseScript('\npush to=(1,2\n----\n', 'bad.txt')).toThrow(/^bad\.txt:2: malformed argument "to=\(1,2"/)
      expect(() => parseScript('push x= \n----\n', 'bad.txt')).toThrow(/^bad\.txt:1: malformed argument "x="/)
      expect(() => parseScript('push x=1 x=2\n----\n', 'bad.txt')).toThrow(/^bad\.txt:1: argument "x" given twice/)
    })
  })

  describe('arguments', () => {
    const directive = onlyDirective('\n\ntick n=3 name=raft to=(2,3) verbose\n----\n')

    it('reads present arguments', () => {
      expect(argInt(directive, 'n')).toBe(3)
      expect(argString(directive, 'name')).toBe('raft')
      expect(argList(directive, 'to')).toEqual(['2', '3'])
      expect(argList(directive, 'n')).toEqual(['3'])
      expect(hasArg(directive, 'verbose')).toBe(true)
      expect(hasArg(directive, 'quiet')).toBe(false)
    })

    it('uses the fallback only when the argument is absent', () => {
      expect(argInt(directive, 'missing', 7)).toBe(7)
      expect(argString(directive, 'missing', 'x')).toBe('x')
      expect(argList(directive, 'missing', [])).toEqual([])
      expect(argInt(directive, 'n', 7)).toBe(3)
    })

    it('names file:line and the argument when it is missing or malformed', () => {
      expect(() => argInt(directive, 'missing')).toThrow('inline.txt:3: tick: argument "missing" is missing (expected missing=n)')
      expect(() => argInt(directive, 'name')).toThrow('inline.txt:3: tick: argument "name" is "raft", not an integer')
      expect(() => argString(directive, 'to')).toThrow('inline.txt:3: tick: argument "to" has 2 values')
      expect(() => argString(directive, 'verbose')).toThrow('inline.txt:3: tick: argument "verbose" has no value')
    })
  })

  describe('running', () => {
    it('throws on a wrong expectation with file:line, the directive, expected and actual', () => {
      const path = scriptAt('wrong.txt', '# c\npush 1\n----\n1\n\npush 2\n----\n1 3\n\npush 4\n----\n1 2 4\n')
      let message = ''
      try {
        runScript(path, calculator())
      } catch (error) {
        message = (error as Error).message
      }
      expect(message).toMatch(/wrong\.txt:6: output differs for "push 2"/)
      expect(message).toContain('expected:\n    1 3\nactual:\n    1 2\n')
    })

    it('passes when outputs differ only in trailing spaces and trailing blank lines', () => {
      const path = scriptAt('spaces.txt', 'push 1 2   \n----\n1 2   \n  \nprint\n----\n----\n1\n2\n\n----\n----\n')
      expect(() => runScript(path, calculator())).not.toThrow()
    })

    it('names file:line when the handler throws', () => {
      const path = scriptAt('error.txt', 'push 1\n----\n1\n\nfrobnicate 2\n----\n')
      expect(() => runScript(path, calculator())).toThrow(/error\.txt:5: frobnicate 2: unknown command "frobnicate"/)
      const empty = scriptAt('empty.txt', 'add\n----\n')
      expect(() => runScript(empty, calculator())).toThrow('empty.txt:1: stack is empty')
    })
  })

  describe('rewriting (DWCP_REWRITE=1)', () => {
    it('writes the actual outputs back, keeping comments and layout', () => {
      const original = readFileSync(calculatorScript, 'utf8')
      const damaged = original
        .replace('----\n3 4 5 13\n', '----\nwrong\n') // a wrong output
        .replace('clear quiet\n----\n', 'clear quiet\n----\nstale\n') // output where there is none
        .replace('----\n----\n9\n\n10\n----\n----\nprint', '----\n----\nold\n\nold\n----\n----\nprint') // a wrong fenced output
        .replace(/print\n----\n9\n10\n$/, 'print\n----\n') // a missing output at the end of the file
      expect(damaged).not.toBe(original)
      const path = scriptAt('calculator.txt', damaged)
      expect(() => runScript(path, calculator())).toThrow(/calculator\.txt:\d+: output differs/)

      vi.stubEnv('DWCP_REWRITE', '1')
      runScript(path, calculator())
      expect(readFileSync(path, 'utf8')).toBe(original)
      vi.stubEnv('DWCP_REWRITE', '0')
      expect(() => runScript(path, calculator())).not.toThrow()
    })

    it('fences an output that gained blank lines', () => {
      const path = scriptAt('fence.txt', 'push 1 2\n----\n1 2\n\nprint spaced\n----\n1\n2\n\n# comment\n')
      vi.stubEnv('DWCP_REWRITE', '1')
      runScript(path, calculator())
      expect(readFileSync(path, 'utf8')).toBe('push 1 2\n----\n1 2\n\nprint spaced\n----\n----\n1\n\n2\n----\n----\n\n# comment\n')
    })

    it('unfences an output that lost its blank lines and keeps the next directive apart', () => {
      const path = scriptAt('fence.txt', 'push 1\n----\n----\nold\n\nold\n----\n----\n# comment\nprint\n----\n----\n1\n----\n----\n')
      vi.stubEnv('DWCP_REWRITE', '1')
      runScript(path, calculator())
      expect(readFileSync(path, 'utf8')).toBe('push 1\n----\n1\n\n# comment\nprint\n----\n----\n1\n----\n----\n')
    })

    it('leaves a passing script untouched', () => {
      const text = 'push 1\n----\n1   \n\n\n# trailing comment'
      const path = scriptAt('same.txt', text)
      vi.stubEnv('DWCP_REWRITE', '1')
      runScript(path, calculator())
      expect(readFileSync(path, 'utf8')).toBe(text)
    })
  })
})
