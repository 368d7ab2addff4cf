#!/usr/bin/env node
// The `amo-gateway` command: runs infra/cli/main.ts through tsx (the project ships TypeScript,
// ESM, no build step). Kept in plain JS so `npx amo-gateway` works without a compile.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('./main.ts');
process.exitCode = await run(process.argv.slice(2));
