import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { peerEndpointOf, type PeerTls } from '../../node/peerLinks.ts'
import { waitFor } from '../support/loopback.ts'
import { RuntimeCluster } from '../support/runtimeCluster.ts'

/** openssl on the PATH, or null (the TLS cases are then skipped, saying why). */
function findOpenssl(): string | null {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' })
    return 'openssl'
  } catch {
    return null
  }
}

const openssl = findOpenssl()
if (openssl === null) console.warn('peerTls.test.ts: skipping the TLS cases: no openssl on the PATH to make a test CA')

let certs: string
let root: string
let cluster: RuntimeCluster | null = null

function run(...args: string[]): void {
  execFileSync(openssl!, args, { cwd: certs, stdio: 'pipe' })
}

/** A CA named `ca` (ca.key, ca.crt). */
function makeCa(ca: string): void {
  run(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${ca}.key`,
    '-out',
    `${ca}.crt`,
    '-days',
    '1',
    '-subj',
    `/CN=${ca}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  )
}

/** A certificate for `name` on 127.0.0.1, for server and client use, signed by `ca`. */
function makeCert(name: string, ca: string): PeerTls {
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`)
  writeFileSync(join(certs, `${name}.ext`), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n')
  run('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', `${name}.ext`)
  return { cert: readFileSync(join(certs, `${name}.crt`)), key: readFileSync(join(certs, `${name}.key`)), ca: readFileSync(join(certs, `${ca}.crt`)) }
}

const nodeTls = new Map<string, PeerTls>()
let rogue: PeerTls

beforeAll(() => {
  if (openssl === null) return
  certs = mkdtempSync(join(tmpdir(), 'dwcp-certs-'))
  makeCa('ca')
  makeCa('rogue-ca')
  for (const id of ['n1', 'n2', 'n3']) nodeTls.set(id, makeCert(id, 'ca'))
  // A certificate for n2's name from another CA, trusting the real CA to verify the server.
  rogue = { ...makeCert('rogue', 'rogue-ca'), ca: nodeTls.get('n1')!.ca }
})

afterAll(() => {
  if (openssl !== null) rmSync(certs, { recursive: true, force: true })
})

afterEach(async () => {
  await cluster?.close()
  cluster = null
  if (root !== undefined) rmSync(root, { recursive: true, force: true })
})

/** Dials `url` with `tls`; resolves with the HTTP status that refused the upgrade, or 101 if it opened. */
function dialStatus(url: string, tls: Partial<PeerTls>): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { ...tls, rejectUnauthorized: true })
    socket.on('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0)
      socket.terminate()
    })
    socket.on('open', () => {
      resolve(101)
      socket.terminate()
    })
    socket.on('error', (error) => reject(error))
  })
}

describe.skipIf(openssl === null)('peer links over mutual TLS', () => {
  it('link nodes with certificates from the cluster CA, and refuse a peer whose client certificate the CA did not sign', async () => {
    root = mkdtempSync(join(tmpdir(), 'dwcp-tls-'))
    cluster = await RuntimeCluster.start(root, ['n1', 'n2', 'n3'], { tls: (id) => nodeTls.get(id)! })
    expect(cluster.nodes.every((node) => node.url.startsWith('https://'))).toBe(true)
    const leader = await cluster.leader()
    const put = await cluster.runtime(leader).host.call({ type: 'put', key: 'cfg/tls', value: 'over wss' })
    expect(put).toMatchObject({ kind: 'reply', reply: { ok: true, path: 'raft' } })
    const n1 = cluster.node('n1')
    const endpoint = peerEndpointOf(n1.url)
    expect(endpoint).toMatch(/^wss:/)
    expect(await dialStatus(endpoint, rogue)).toBe(401)
    expect(await dialStatus(endpoint, { ca: rogue.ca })).toBe(401)
    await waitFor('the refusals counted', () => cluster!.runtime('n1').links.status().refused.tlsUnauthorized === 2)
    // The good links never noticed.
    expect(
      cluster
        .runtime('n1')
        .links.status()
        .peers.every((peer) => peer.connected && peer.reconnects === 0),
    ).toBe(true)
  })
})
