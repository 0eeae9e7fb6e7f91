/**
 * The Yjs anchor: the reference server @y/websocket-server, installed by the
 * bench into bench/anchors/yserver/ (a folder of its own: it runs on the yjs
 * 14 prerelease, which must never meet our yjs 13; DESIGN §9) and run as a
 * child process on loopback.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { freePort } from '../freePort.ts'

const folder = join(import.meta.dirname, 'yserver')
const serverScript = join(folder, 'node_modules/@y/websocket-server/src/server.js')
/** How long the reference server may take to listen. */
const readyTimeoutMs = 15_000

export interface ReferenceYServer {
  readonly url: string
  close(): Promise<void>
}

function install(): void {
  if (existsSync(serverScript)) return
  try {
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: folder, stdio: 'ignore', timeout: 300_000 })
  } catch (error) {
    throw new Error(`could not install @y/websocket-server in ${folder}: ${(error as Error).message}`)
  }
}

export async function startReferenceYServer(): Promise<ReferenceYServer> {
  install()
  const port = await freePort()
  const child: ChildProcess = spawn(process.execPath, [serverScript], { env: { ...process.env, HOST: '127.0.0.1', PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`@y/websocket-server did not listen within ${readyTimeoutMs} ms`)), readyTimeoutMs)
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('running')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`@y/websocket-server exited with ${code}`))
    })
  })
  return {
    url: `ws://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}
