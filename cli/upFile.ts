/**
 * `.dwcp/up.json`: written by a running `dwcp up` (its pid and its nodes'
 * urls) and removed when it stops, so client commands find the cluster and a
 * second `dwcp up` on the same data dir knows one is running.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'

export const upFileName = 'up.json'
export const clusterFileName = 'cluster.json'

export const upFileSchema = z.object({
  pid: z.number().int().positive(),
  startedAt: z.string(),
  nodes: z.array(z.object({ id: z.string(), region: z.string(), url: z.string(), pid: z.number().int().nullable() })),
})

export type UpFile = z.infer<typeof upFileSchema>

/** The up file under `dataDir`, or null when there is none or it is not one (a crash mid-write leaves none: it is renamed into place). */
export function readUpFile(dataDir: string): UpFile | null {
  let text: string
  try {
    text = readFileSync(join(dataDir, upFileName), 'utf8')
  } catch {
    return null
  }
  try {
    const parsed = upFileSchema.safeParse(JSON.parse(text))
    return parsed.success ? parsed.data : null
  } catch {
    return null
  }
}

/** A node's data dir under the data dir of `dwcp up`. */
export function nodeDataDir(dataDir: string, id: string): string {
  return join(dataDir, id)
}

export function writeUpFile(dataDir: string, file: UpFile): void {
  const path = join(dataDir, upFileName)
  writeFileSync(`${path}.tmp`, `${JSON.stringify(file, null, 2)}\n`)
  renameSync(`${path}.tmp`, path)
}

export function removeUpFile(dataDir: string): void {
  rmSync(join(dataDir, upFileName), { force: true })
}

/** Whether process `pid` is alive (signal 0 checks without sending). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
