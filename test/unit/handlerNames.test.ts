/**
 * One handler vocabulary in core/: a method that handles an input (a message,
 * an applied result, a mode change) is `handleX`; `onX` names only callbacks
 * a caller passes in (`onApplied`, `onAnswer`, a host's `onReady`).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

const repoRoot = join(import.meta.dirname, '../..')

/** Method declarations named onX (class members: `  onX(`, `  private onX(`), as file:line: text. */
function onMethods(dir: string): string[] {
  const found: string[] = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) {
      found.push(...onMethods(path))
      continue
    }
    if (!name.endsWith('.ts')) continue
    readFileSync(path, 'utf8')
      .split('\n')
      .forEach((line, index) => {
        if (/^\s+(?:(?:private|protected|public|static|async)\s+)*on[A-Z]\w*\s*[(<]/.test(line)) found.push(`${relative(repoRoot, path)}:${index + 1}: ${line.trim()}`)
      })
  }
  return found
}

describe('handler names', () => {
  it('no method of core/ is named onX: handlers are handleX', () => {
    expect(onMethods(join(repoRoot, 'core'))).toEqual([])
  })

  it('finds an onX method where there is one', () => {
    expect(onMethods(join(repoRoot, 'api')).some((found) => found.startsWith('api/docHub.ts:'))).toBe(true)
  })
})
