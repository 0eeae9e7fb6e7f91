/** The HTTP API's public surface: what node/, edge-worker/, cli/ and tests import. */
export { createApi, type ApiBackend, type ApiOptions } from './app.ts'
export { accessOf, bearerOf, sameToken, type Access, type ApiTokens } from './auth.ts'
export * from './contract.ts'
export { apiCodes, apiError, peerOnlyCodes, replicaCodes, retryAfterSeconds, statusOf, type ErrorStatus } from './errors.ts'
export { isLoopback } from './adminRoutes.ts'
export { metricsContentType } from './metrics.ts'
export { docNamespace } from './socketRoutes.ts'
