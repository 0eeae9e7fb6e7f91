/**
 * POST /v1/admin/faults: the dev fault switch (only on a node started with
 * --dev; 404 elsewhere). It takes the write token and loopback clients only:
 * a test or the terminal UI on the same machine.
 */
import type { Hono } from 'hono'
import type { FaultState } from '../host/faults.ts'
import type { ApiContext } from './context.ts'
import { faultChangeBodySchema, type FaultStateBody } from './contract.ts'
import { fail, limitBody, readBody, requireAccess } from './http.ts'

export const faultsRoute = '/v1/admin/faults'

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 addresses. */
export function isLoopback(address: string | null): boolean {
  if (address === null) return false
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address
  return address === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4)
}

export function addAdminRoutes(app: Hono, context: ApiContext): void {
  const faults = context.backend.faults
  app.post(faultsRoute, requireAccess(context.tokens, 'write'), limitBody, async (c) => {
    if (faults === null) return fail(c, 'unknownRoute', 'the fault switch needs a node started with --dev')
    if (!isLoopback(context.clientAddress(c))) return fail(c, 'forbidden', 'the fault switch serves loopback clients only')
    const body = await readBody(c, faultChangeBodySchema)
    if (!body.ok) return body.response
    let state: FaultState
    try {
      state = faults.set(body.value)
    } catch (thrown) {
      // The switch checks the change as a whole (a RangeError names the field) and changes nothing.
      if (thrown instanceof RangeError) return fail(c, 'invalidBody', thrown.message)
      throw thrown
    }
    return c.json({ ...state, partition: state.partition === null ? null : [...state.partition] } satisfies FaultStateBody)
  })
}
