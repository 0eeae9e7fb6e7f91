/**
 * The cluster file (NODE_CONTRACT.md): who is in a cluster, where each member
 * listens and which key it proves in the signed hello. `dwcp up` writes it;
 * `dwcp node --cluster FILE` reads it. One zod schema for both, so a file the
 * one writes is a file the other accepts. The cluster secret is never in it.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { z } from 'zod'
import { isValidId } from '../core/lib/limits.ts'
import { consistencies, policyProblem, valueTypes } from '../core/replica/policy.ts'

export const clusterFileLimits = {
  /** Members one cluster file lists: every node dials every other, so a local file stays small. */
  membersMax: 256,
  /** The file itself: members and policies fit well below this. */
  fileBytesMax: 1024 * 1024,
  /** Members in the PBFT group by default: the smallest group that tolerates one Byzantine replica. */
  pbftDefaultMembers: 4,
} as const

const publicKeyBytes = 32

const idSchema = z.string().refine(isValidId, { message: 'expected 1 to 64 characters of [A-Za-z0-9._-]' })

const urlSchema = z.string().refine(
  (text) => {
    if (!URL.canParse(text)) return false
    const url = new URL(text)
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.port !== '' && (url.pathname === '/' || url.pathname === '') && url.search === '' && url.hash === ''
  },
  { message: 'expected http(s)://HOST:PORT with an explicit port and no path' },
)

const publicKeySchema = z.string().refine((text) => /^[A-Za-z0-9_-]+$/.test(text) && Buffer.from(text, 'base64url').length === publicKeyBytes, {
  message: `expected the base64url of a raw ${publicKeyBytes}-byte Ed25519 public key`,
})

const policySchema = z
  .object({ consistency: z.enum(consistencies), valueType: z.enum(valueTypes), home: idSchema.nullable().default(null) })
  .strict()
  .superRefine((policy, context) => {
    const problem = policyProblem(policy)
    if (problem !== null) context.addIssue({ code: 'custom', message: problem.message })
  })

export const clusterMemberSchema = z.object({ id: idSchema, region: idSchema, url: urlSchema, publicKey: publicKeySchema }).strict()

export const clusterFileSchema = z
  .object({
    clusterId: idSchema,
    members: z.array(clusterMemberSchema).min(1).max(clusterFileLimits.membersMax),
    raftVoters: z.array(idSchema).min(1).optional(),
    pbft: z.array(idSchema).optional(),
    policies: z.record(idSchema, policySchema).optional(),
  })
  .strict()
  .superRefine((file, context) => {
    const ids = new Set<string>()
    const urls = new Set<string>()
    file.members.forEach((member, index) => {
      if (ids.has(member.id)) context.addIssue({ code: 'custom', path: ['members', index, 'id'], message: `member ${member.id} is listed twice` })
      if (urls.has(member.url)) context.addIssue({ code: 'custom', path: ['members', index, 'url'], message: `url ${member.url} is listed twice` })
      ids.add(member.id)
      urls.add(member.url)
    })
    for (const field of ['raftVoters', 'pbft'] as const) {
      file[field]?.forEach((id, index) => {
        if (!ids.has(id)) context.addIssue({ code: 'custom', path: [field, index], message: `${id} is not a member` })
      })
    }
  })

export type ClusterMember = z.infer<typeof clusterMemberSchema>
export type ClusterFile = z.infer<typeof clusterFileSchema>

export class ClusterFileError extends Error {
  override readonly name = 'ClusterFileError'
}

/** The Raft voters: every member unless the file names them. */
export function raftVotersOf(file: ClusterFile): string[] {
  return file.raftVoters ?? file.members.map((member) => member.id)
}

/** The PBFT group: the first four members when there are four or more (else none), unless the file names it. */
export function pbftGroupOf(file: ClusterFile): string[] {
  if (file.pbft !== undefined) return file.pbft
  return file.members.length >= clusterFileLimits.pbftDefaultMembers ? file.members.slice(0, clusterFileLimits.pbftDefaultMembers).map((member) => member.id) : []
}

export function publicKeyBytesOf(member: ClusterMember): Uint8Array {
  return new Uint8Array(Buffer.from(member.publicKey, 'base64url'))
}

export function encodePublicKey(key: Uint8Array): string {
  return Buffer.from(key).toString('base64url')
}

/** Checks a parsed JSON value; the error names the first bad field (`members.1.url: expected …`). */
export function parseClusterFile(value: unknown, source: string): ClusterFile {
  const parsed = clusterFileSchema.safeParse(value)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]!
  const where = issue.path.length === 0 ? '' : `${issue.path.join('.')}: `
  throw new ClusterFileError(`${source}: ${where}${issue.message}`)
}

export function readClusterFile(path: string): ClusterFile {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new ClusterFileError(`cannot read cluster file ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`)
  }
  if (text.length > clusterFileLimits.fileBytesMax) throw new ClusterFileError(`${path}: ${text.length} bytes, more than fileBytesMax=${clusterFileLimits.fileBytesMax}`)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new ClusterFileError(`${path}: not JSON: ${(error as Error).message}`)
  }
  return parseClusterFile(value, path)
}

/** Writes the file whole or not at all (a temporary file renamed over it). */
export function writeClusterFile(path: string, file: ClusterFile): void {
  const checked = parseClusterFile(file, path)
  const temporary = `${path}.tmp`
  writeFileSync(temporary, `${JSON.stringify(checked, null, 2)}\n`, { mode: 0o644 })
  renameSync(temporary, path)
}
