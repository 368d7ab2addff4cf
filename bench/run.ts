/**
 * `npm run bench`: runs every bench/*.ts except this file, one after another (benches measure
 * throughput and must not compete for the CPU), each in its own process, and prints their figures.
 * A bench prints its own figures and sets a non-zero exit code when it misses its goal.
 */
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const files = (await readdir(here))
    .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('.test.ts'))
    .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
    .sort();
  const results: Array<{ file: string; code: number; seconds: number }> = [];
  for (const file of files) {
    console.log(`\n=== ${file} ===`);
    const started = Date.now();
    const code = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(here, file)], {
        stdio: 'inherit',
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      });
      child.on('exit', (c) => resolve(c ?? 1));
    });
    results.push({ file, code, seconds: Math.round((Date.now() - started) / 100) / 10 });
  }
  console.log('\n=== summary ===');
  for (const r of results) console.log(`${r.code === 0 ? 'ok  ' : 'FAIL'} ${r.file} (${r.seconds} s)`);
  if (results.some((r) => r.code !== 0)) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
