// Types `exports` from cloudflare:workers as the edge Worker's own module.
declare namespace Cloudflare {
  interface GlobalProps {
    mainModule: typeof import('../../edge-worker/index.ts')
  }
}
