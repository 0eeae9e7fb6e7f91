import { mkdtempSync, rmSync } from 'node:fs'
import { stripTypeScriptTypes } from 'node:module'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { catalog } from './catalog.ts'
import { catalogProblems, mutatedText, runMutant } from './mutate.ts'

const repoRoot = resolve(import.meta.dirname, '../..')

/**
 * Fast planted bugs, one per engine, run end to end on every test run: each is
 * caught at seed 1 today, so one seed is run (`npm run mutants` runs the whole
 * set, up to 20 seeds each, on demand).
 */
const ciMutants = ['raft-quorum-off-by-one', 'pbft-prepare-quorum-off-by-one', 'crdt-context-gap-counted-seen', 'gossip-stale-suspicion-accepted'] as const
/** Seeds run for a CI mutant. */
const ciSeeds = 1
/** The budget for one CI mutant: a copy of the tree and one dwcp sim process (2-4 s on an idle machine). */
const ciMutantTimeoutMs = 40_000

describe('the planted-bug catalog', () => {
  it('has at least 20 mutants with unique kebab-case names', () => {
    expect(catalog.length).toBeGreaterThanOrEqual(20)
    expect(new Set(catalog.map((mutant) => mutant.name)).size).toBe(catalog.length)
  })

  it.each(catalog.map((mutant) => [mutant.name, mutant] as const))('%s applies to the current tree exactly once and still parses', (_, mutant) => {
    expect(catalogProblems(mutant, repoRoot)).toEqual([])
    // Type stripping parses the mutated file: a replacement that breaks the syntax would fail to load, not be caught.
    expect(() => stripTypeScriptTypes(mutatedText(mutant, repoRoot))).not.toThrow()
  })

  it('refuses a find that does not occur exactly once', () => {
    const mutant = { ...catalog[0]!, find: 'this text is not in the engine' }
    expect(catalogProblems(mutant, repoRoot).join()).toMatch(/occurs 0 times/)
    expect(() => mutatedText(mutant, repoRoot)).toThrow(/exactly once/)
  })
})

describe('planted bugs the simulator catches', () => {
  it.each(ciMutants)(
    '%s is caught',
    async (name) => {
      const mutant = catalog.find((entry) => entry.name === name)!
      const workRoot = mkdtempSync(join(tmpdir(), 'dwcp-mutant-test-'))
      try {
        const result = await runMutant(mutant, { repoRoot, workDir: join(workRoot, name), seedsMax: ciSeeds })
        expect(result.status, JSON.stringify(result)).toBe('caught')
      } finally {
        rmSync(workRoot, { recursive: true, force: true })
      }
    },
    ciMutantTimeoutMs,
  )
})
