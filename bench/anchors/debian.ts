/**
 * Anchors that are servers come from Debian's packages, installed by the
 * bench itself when missing (benches are never part of CI): the figures are
 * then reproducible on a fresh machine with one command.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'

/** Makes sure `binary` exists, installing Debian package `pkg` (as root, with apt-get) when it does not. */
export function ensureDebianBinary(binary: string, pkg: string): string {
  if (existsSync(binary)) return binary
  try {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', timeout: 300_000 })
    execFileSync('apt-get', ['install', '-y', '-qq', pkg], { stdio: 'ignore', timeout: 600_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  } catch (error) {
    throw new Error(`${binary} is missing and 'apt-get install -y ${pkg}' failed (${(error as Error).message}); install it and run the bench again`)
  }
  if (!existsSync(binary)) throw new Error(`'apt-get install -y ${pkg}' did not provide ${binary}`)
  return binary
}
