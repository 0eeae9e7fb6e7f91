import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DataDirError, dataDirFiles, openDataDir } from '../../node/dataDir.ts'
import { DataDirLockedError, SqliteStorage, sqliteStorageLimits } from '../../node/sqliteStorage.ts'

let dir: string
const children: ChildProcess[] = []

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dwcp-storage-'))
})

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

/** Starts a node-like process holding `dir`; resolves with its public key once it has written. */
function holdInChild(path: string): Promise<{ child: ChildProcess; publicKeyHex: string }> {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', join(import.meta.dirname, 'holdStorage.ts'), path], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /ready ([0-9a-f]+)/.exec(out)
      if (match !== null) resolve({ child, publicKeyHex: match[1]! })
    })
    child.on('exit', (code, signal) => reject(new Error(`holder exited early: ${code ?? signal}`)))
  })
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGKILL')
  })
}

describe('SQLite storage', () => {
  it('reads its own writes at once, scans by prefix in code-unit order, deletes', () => {
    const storage = new SqliteStorage(join(dir, 'db.sqlite'))
    for (const key of ['raft/log/2', 'raft/log/10', 'raft/hard', 'crdt/v/é', 'crdt/v/😀', 'crdt/v/z', 'crdtx']) storage.write({ key, value: Uint8Array.of(key.length) })
    expect(storage.get('raft/hard')).toEqual(Uint8Array.of(9))
    expect(storage.keys('raft/log/')).toEqual(['raft/log/10', 'raft/log/2'])
    expect(storage.keys('crdt/v/')).toEqual(['crdt/v/z', 'crdt/v/é', 'crdt/v/😀'].sort())
    storage.write({ key: 'raft/hard', value: null })
    expect(storage.get('raft/hard')).toBeUndefined()
    storage.sync()
    storage.close()
    const reopened = new SqliteStorage(join(dir, 'db.sqlite'))
    expect(reopened.keys('')).toHaveLength(6)
    reopened.close()
  })

  it('refuses a value over valueBytesMax, naming the limit', () => {
    const storage = new SqliteStorage(join(dir, 'db.sqlite'))
    expect(() => storage.write({ key: 'big', value: new Uint8Array(sqliteStorageLimits.valueBytesMax + 1) })).toThrow(/valueBytesMax/)
    storage.close()
  })

  it('keeps synced writes and loses unsynced ones when the process is killed (kill -9), and locks the data dir while it lives', async () => {
    const { child, publicKeyHex } = await holdInChild(dir)
    expect(() => openDataDir(dir)).toThrow(DataDirLockedError)
    await killed(child)
    const data = openDataDir(dir)
    expect(data.storage.get('test/synced')).toEqual(Uint8Array.of(1, 2, 3))
    expect(data.storage.get('test/unsynced')).toBeUndefined()
    // The same node: its key was made once and is read back.
    expect(data.created).toBe(false)
    expect(Buffer.from(data.signer.publicKey).toString('hex')).toBe(publicKeyHex)
    data.storage.close()
  })
})

describe('data dir', () => {
  it('makes the node key on first start with mode 0600 and refuses one readable by others', () => {
    const first = openDataDir(dir)
    expect(first.created).toBe(true)
    first.storage.close()
    const keyFile = join(dir, dataDirFiles.nodeKey)
    expect(statSync(keyFile).mode & 0o777).toBe(0o600)
    chmodSync(keyFile, 0o644)
    expect(() => openDataDir(dir)).toThrow(DataDirError)
    expect(() => openDataDir(dir)).toThrow(/chmod 600/)
    // The refusal released the lock: fixing the mode is enough.
    chmodSync(keyFile, 0o600)
    const again = openDataDir(dir)
    expect(Buffer.from(again.signer.publicKey)).toEqual(Buffer.from(first.signer.publicKey))
    again.storage.close()
  })
})
