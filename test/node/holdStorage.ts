/**
 * A child process for the storage tests: opens a data dir, writes `synced`
 * and syncs, writes `unsynced` without a sync, prints "ready" and waits to be
 * killed (kill -9 in the tests).
 */
import { openDataDir } from '../../node/dataDir.ts'

const dir = process.argv[2]!
const data = openDataDir(dir)
data.storage.write({ key: 'test/synced', value: Uint8Array.of(1, 2, 3) })
data.storage.sync()
data.storage.write({ key: 'test/unsynced', value: Uint8Array.of(4) })
process.stdout.write(`ready ${Buffer.from(data.signer.publicKey).toString('hex')}\n`)
setInterval(() => {}, 1_000)
