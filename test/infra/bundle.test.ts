/**
 * The one test that really bundles: the worker, with the local esbuild (never Docker), as ESM.
 * Proves the bundle loads on Node and records its size (.local/worker-bundle.json).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { defineRouteTable, routeTable } from '../../lib/routes.ts';
import { AmoGatewayStack } from '../../infra/aws/stack.ts';
import { exampleConfig } from './support/config.ts';
import { PROJECT_ROOT } from '../../infra/aws/gateway.ts';

describe('bundling', () => {
  it('bundles the worker with the local esbuild into a loadable ESM file', { timeout: 120_000 }, () => {
    const worker = routeTable.functions.find((f) => f.id === 'worker');
    if (!worker) throw new Error('no worker in the route table');
    // Only the worker: a table with one queue it consumes, so nothing else is bundled.
    const table = defineRouteTable({
      routes: [],
      queues: [
        {
          id: 'only',
          description: 'bundle test',
          batchSize: 10,
          maxAttempts: 3,
          visibilityTimeoutSeconds: worker.timeoutSeconds,
          consumer: 'worker',
        },
      ],
      functions: [worker],
      schedules: [],
    });
    const outdir = mkdtempSync(join(tmpdir(), 'amo-bundle-'));
    const started = Date.now();
    const app = new App({ outdir });
    const stack = new AmoGatewayStack(app, 'BundleCheck', { routes: table, namePrefix: 'amo-bundle', config: exampleConfig });
    app.synth();
    const ms = Date.now() - started;

    const fns = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function')) as Array<{
      Properties: { Code: { S3Key: string }; Runtime: string };
    }>;
    expect(fns).toHaveLength(1);
    const hash = fns[0]?.Properties.Code.S3Key.replace(/\.zip$/, '') ?? '';
    const bundle = join(outdir, `asset.${hash}`, 'index.mjs');
    expect(existsSync(bundle)).toBe(true);
    const code = readFileSync(bundle, 'utf8');
    // ESM with the createRequire banner for the CommonJS dependencies inside.
    expect(code.startsWith("import { createRequire as __amoCreateRequire } from 'node:module';")).toBe(true);
    expect(code).toMatch(/export\s*\{[^}]*\bhandler\b[^}]*\}/);
    expect(existsSync(`${bundle}.map`)).toBe(true);

    // It loads on Node and exports the handler (importing the worker never throws by design).
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(pathToFileURL(bundle).href)}); console.log(typeof m.handler);`,
      ],
      {
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '', AWS_REGION: 'us-east-1' },
        timeout: 30_000,
      },
    );
    expect(out.trim()).toBe('function');

    const bytes = statSync(bundle).size;
    expect(bytes).toBeGreaterThan(0);
    // Lambda's limit is 50 MB zipped / 250 MB unzipped; a worker near 10 MB means something leaked in.
    expect(bytes).toBeLessThan(10 * 1024 * 1024);
    mkdirSync(join(PROJECT_ROOT, '.local'), { recursive: true });
    writeFileSync(
      join(PROJECT_ROOT, '.local', 'worker-bundle.json'),
      `${JSON.stringify({ bytes, synthMs: ms, at: new Date().toISOString() })}\n`,
    );
    console.log(`worker bundle: ${(bytes / 1024).toFixed(1)} KiB (index.mjs), synth with bundling ${ms} ms`);
  });
});
