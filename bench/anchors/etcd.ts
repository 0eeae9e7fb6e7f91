/**
 * The strong-write anchor: etcd 3.4 (Debian's etcd-server), three members on
 * loopback with their data in a temporary dir, written through its JSON
 * gateway (`POST /v3/kv/put`, base64 keys and values) over HTTP keep-alive
 * fetch, the same client stack the DWCP cases use. etcd fsyncs its WAL on
 * every commit, as DWCP's SQLite does with synchronous=FULL.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureDebianBinary } from './debian.ts'

export interface EtcdCluster {
  readonly clientUrls: readonly string[]
  put(client: number, key: string, value: string): Promise<void>
  close(): Promise<void>
}

/** Ports: 23791.. for clients, 23801.. for peers; loopback only. */
const clientPortBase = 23_791
const peerPortBase = 23_801
/** How long three fresh members may take to elect a leader and answer. */
const readyTimeoutMs = 30_000

export async function startEtcd(members = 3): Promise<EtcdCluster> {
  const etcd = ensureDebianBinary('/usr/bin/etcd', 'etcd-server')
  const dir = mkdtempSync(join(tmpdir(), 'dwcp-bench-etcd-'))
  const names = Array.from({ length: members }, (_, index) => `e${index + 1}`)
  const peerUrl = (index: number) => `http://127.0.0.1:${peerPortBase + index}`
  const clientUrls = names.map((_, index) => `http://127.0.0.1:${clientPortBase + index}`)
  const initialCluster = names.map((name, index) => `${name}=${peerUrl(index)}`).join(',')
  const children: ChildProcess[] = names.map((name, index) =>
    spawn(
      etcd,
      [
        '--name',
        name,
        '--data-dir',
        join(dir, name),
        '--listen-client-urls',
        clientUrls[index]!,
        '--advertise-client-urls',
        clientUrls[index]!,
        '--listen-peer-urls',
        peerUrl(index),
        '--initial-advertise-peer-urls',
        peerUrl(index),
        '--initial-cluster',
        initialCluster,
        '--initial-cluster-state',
        'new',
        '--initial-cluster-token',
        'dwcp-bench',
        '--log-level',
        'error',
      ],
      { stdio: 'ignore' },
    ),
  )
  const close = async (): Promise<void> => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve()
            child.once('exit', () => resolve())
            child.kill('SIGTERM')
          }),
      ),
    )
    rmSync(dir, { recursive: true, force: true })
  }
  const put = async (client: number, key: string, value: string): Promise<void> => {
    const url = `${clientUrls[client % clientUrls.length]}/v3/kv/put`
    const response = await fetch(url, { method: 'POST', body: JSON.stringify({ key: Buffer.from(key).toString('base64'), value: Buffer.from(value).toString('base64') }) })
    const text = await response.text()
    if (!response.ok) throw new Error(`etcd put: ${response.status} ${text.slice(0, 200)}`)
  }
  const deadline = performance.now() + readyTimeoutMs
  for (;;) {
    try {
      for (let index = 0; index < members; index++) await put(index, 'bench/ready', 'yes')
      break
    } catch (error) {
      if (performance.now() > deadline) {
        await close()
        throw new Error(`etcd did not become ready within ${readyTimeoutMs} ms: ${(error as Error).message}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
  return { clientUrls, put, close }
}
