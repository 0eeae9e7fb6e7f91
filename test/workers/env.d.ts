// Types `exports` from cloudflare:workers as the edge Worker's own module, and `env` as its bindings.
declare namespace Cloudflare {
  interface GlobalProps {
    mainModule: typeof import('../../edge-worker/index.ts')
  }
  type EdgeBindings = import('../../durable-objects/regionObject.ts').EdgeEnv
  interface Env extends EdgeBindings {}
}
