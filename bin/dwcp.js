#!/usr/bin/env -S node --max-semi-space-size=128 --disable-warning=ExperimentalWarning
// (A larger young generation: simulations of thousands of nodes allocate many short-lived
// messages, which then die young instead of being promoted: 10-20% of a 10,000-node run.)
// The CLI is TypeScript run by Node's built-in type stripping (Node >= 22.18).
// Through `npx dwcp` or `npm run`, the node@22 devDependency is the `node` on PATH.
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(`dwcp needs Node >= 22.18 (this is ${process.version}); run it as \`npx dwcp\` after \`npm install\`.\n`)
  process.exit(2)
}
await import('../cli/main.ts')
