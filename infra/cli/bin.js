#!/usr/bin/env node
// The `amo-gateway` command: runs infra/cli/main.ts through tsx (the project ships TypeScript,
// ESM, no build step). Kept in plain JS so `npx amo-gateway` works without a compile.
import { register } from 'tsx/esm/api';

// Node 20 is a supported runtime here (Lambda runs 22): keep the AWS SDK's version nag off the
// operator's console. Set before the SDK loads (it is imported by main.ts's commands).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
const { run } = await import('./main.ts');
process.exitCode = await run(process.argv.slice(2));
