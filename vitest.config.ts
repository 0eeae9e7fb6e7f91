import { cloudflareTest } from '@cloudflare/vitest-plugin'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    // vitest's default is one worker less than the cores: one file at a time on a 2-core CI machine, while
    // most files here wait on processes, sockets and workerd rather than compute.
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: 'node',
          include: ['test/{unit,property,sim,cli,interaction,node,e2e,mutants,tui}/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
        },
      },
      {
        // A test-only cluster secret (wrangler.toml holds none: secrets are set with `wrangler secret put`).
        plugins: [cloudflareTest({ wrangler: { configPath: './wrangler.toml' }, miniflare: { bindings: { DWCP_CLUSTER_SECRET: 'workers-test-cluster-secret' } } })],
        test: {
          name: 'workers',
          include: ['test/workers/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
    ],
  },
})
