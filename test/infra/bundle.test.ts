/**
 * The tests that really bundle: the worker and the forms function through the CDK construct, with
 * the local esbuild (never Docker), as ESM — they load on Node (the worker's size goes to
 * .local/worker-bundle.json); and every function with the construct's esbuild settings beside its
 * SDK floor, its size pinned (bench/bundles.ts prints the same figures with the cold-import times).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App } from 'aws-cdk-lib';
import { build, type Plugin } from 'esbuild';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { bundleFloor, bundleFunction, MAX_FLOOR_RATIO, type Bundle } from '../../bench/bundles.ts';
import { esbuildOptions, sdkClientPackages } from '../../infra/aws/bundling.ts';
import { powertoolsUnit } from '../../lib/aws/powertools.ts';
import { catalogue } from '../../lib/metrics.ts';
import { defineRouteTable, routeTable } from '../../lib/routes.ts';
import { AmoGatewayStack } from '../../infra/aws/stack.ts';
import { exampleConfig } from './support/config.ts';
import { parseConfig } from '../../lib/config/load.ts';
import { configEnvJson, PROJECT_ROOT } from '../../infra/aws/gateway.ts';

/** A bundle run in a child process as Lambda would, its AWS calls aimed at a closed port. */
const OFFLINE_LAMBDA_ENV = {
  PATH: process.env.PATH ?? '',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'x',
  AWS_SECRET_ACCESS_KEY: 'x',
  AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
  AWS_MAX_ATTEMPTS: '1',
  TABLE_NAME: 't',
};
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

  it('bundles the forms function (busboy and qs inside) into an ESM file that answers a proxy event', { timeout: 120_000 }, () => {
    const forms = routeTable.functions.find((f) => f.id === 'forms');
    const route = routeTable.routes.find((r) => r.id === 'forms');
    if (!forms || !route || route.target.kind !== 'function') throw new Error('no forms function or route in the route table');
    // Only the forms function: it consumes its own queue here so that nothing else is bundled.
    const table = defineRouteTable({
      routes: [route],
      queues: [{ id: 'forms', description: 'bundle test', batchSize: 10, maxAttempts: 3, visibilityTimeoutSeconds: 60, consumer: 'forms' }],
      functions: [forms],
      schedules: [],
    });
    const outdir = mkdtempSync(join(tmpdir(), 'amo-bundle-forms-'));
    const app = new App({ outdir });
    const stack = new AmoGatewayStack(app, 'BundleForms', { routes: table, namePrefix: 'amo-bundle', config: exampleConfig });
    app.synth();
    const fns = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function')) as Array<{
      Properties: { Code: { S3Key: string } };
    }>;
    expect(fns).toHaveLength(1);
    const bundle = join(outdir, `asset.${fns[0]?.Properties.Code.S3Key.replace(/\.zip$/, '') ?? ''}`, 'index.mjs');
    expect(existsSync(bundle)).toBe(true);

    // A multipart post that fails validation: parsed by the bundled busboy, answered 400 without
    // reaching SQS (the throttle's DynamoDB is unreachable here and fails open, as designed).
    const config = parseConfig({
      ...exampleConfig,
      forms: { list: [{ id: 'contact', account: exampleConfig.accounts[0]!.id, lead: { pipeline: 'Sales' } }] },
    });
    const boundary = 'b0undary';
    const body = `--${boundary}\r\nContent-Disposition: form-data; name="phone"\r\n\r\n12\r\n--${boundary}--\r\n`;
    const event = {
      httpMethod: 'POST',
      pathParameters: { form_id: 'contact' },
      headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}` },
      body,
      isBase64Encoded: false,
      requestContext: { identity: { sourceIp: '203.0.113.1' }, requestId: 'r-1', requestTimeEpoch: 1 },
    };
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(pathToFileURL(bundle).href)}); const r = await m.handler(${JSON.stringify(event)}, {}); console.log(JSON.stringify(r));`,
      ],
      {
        encoding: 'utf8',
        env: {
          ...OFFLINE_LAMBDA_ENV,
          QUEUES: JSON.stringify({
            forms: { arn: 'arn:aws:sqs:us-east-1:0:q', url: 'http://127.0.0.1:9/0/q', dlqUrl: 'http://127.0.0.1:9/0/d' },
          }),
          // As the construct writes it: validated, defaults filled in (the function reads it as it is).
          AMO_CONFIG_JSON: configEnvJson(config),
          POWERTOOLS_METRICS_NAMESPACE: 'AmoGateway',
        },
        timeout: 30_000,
      },
    );
    const answer = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { statusCode: number; body: string };
    expect(answer.statusCode).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'invalid', fields: [{ field: 'phone', code: 'invalid-phone' }] });
    console.log(`forms bundle: ${(statSync(bundle).size / 1024).toFixed(1)} KiB (index.mjs)`);
  });

  it("the worker's bundle evaluates a queue's flow modules only at that queue's first message", { timeout: 120_000 }, async () => {
    // The worker bundled as deployed, each lib module noting its own evaluation at its end.
    const marker: Plugin = {
      name: 'evaluation-marker',
      setup(b) {
        b.onLoad({ filter: /\/lib\/.*\.ts$/ }, (args) => ({
          contents: `${readFileSync(args.path, 'utf8')}\n;(globalThis.__amoEvaluated ??= []).push(${JSON.stringify(relative(PROJECT_ROOT, args.path))});\n`,
          loader: 'ts',
        }));
      },
    };
    const dir = mkdtempSync(join(tmpdir(), 'amo-lazy-'));
    const file = join(dir, 'index.mjs');
    await build({
      ...esbuildOptions(file),
      entryPoints: [join(PROJECT_ROOT, 'functions/worker.ts')],
      absWorkingDir: PROJECT_ROOT,
      plugins: [marker],
    });
    // Lazy modules stay in the one file, with their source map.
    const map = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[] };
    expect(map.sources.some((s) => s.endsWith('lib/flows/rdesk/processor.ts'))).toBe(true);

    const config = parseConfig({
      ...exampleConfig,
      forms: { list: [{ id: 'site', account: exampleConfig.accounts[0]!.id, lead: { pipeline: 'Sales' } }] },
    });
    const arn = (q: string) => `arn:aws:sqs:us-east-1:0:${q}`;
    const queues = Object.fromEntries(
      routeTable.queues.map((q) => [
        q.id,
        { arn: arn(q.id), url: `http://127.0.0.1:9/0/${q.id}`, dlqUrl: `http://127.0.0.1:9/0/${q.id}-dlq` },
      ]),
    );
    const record = (queue: string, route: string) => ({
      messageId: `m-${route}`,
      receiptHandle: 'r',
      body: JSON.stringify({
        v: 1,
        route,
        params: { token: 'not-ours' },
        query: {},
        headers: {},
        body: '',
        receivedAt: 1,
        requestId: `q-${route}`,
        sourceIp: '',
      }),
      attributes: { ApproximateReceiveCount: '1' },
      messageAttributes: {},
      eventSource: 'aws:sqs',
      eventSourceARN: arn(queue),
      awsRegion: 'us-east-1',
    });
    const event = (queue: string, route: string) => JSON.stringify({ Records: [record(queue, route)] });
    const script = [
      `const seen = () => console.log('EVALUATED ' + JSON.stringify(globalThis.__amoEvaluated ?? []));`,
      `const m = await import(${JSON.stringify(pathToFileURL(file).href)});`,
      'seen();',
      `await m.handler(${event('rdesk', 'zdrav-mc')}, {}).catch(() => undefined);`,
      'seen();',
      `await m.handler(${event('forms', 'forms')}, {}).catch(() => undefined);`,
      'seen();',
    ].join('\n');
    const out = execFileSync(process.execPath, ['--enable-source-maps', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: {
        ...OFFLINE_LAMBDA_ENV,
        QUEUES: JSON.stringify(queues),
        AMO_CONFIG_JSON: configEnvJson(config),
        EVENT_BUS_NAME: 'bus',
        POWERTOOLS_METRICS_NAMESPACE: 'AmoGateway',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
      // The messages fail (no AWS here) and their log lines go to stderr: only the evaluations matter.
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    const [cold, afterRdesk, afterForms] = out
      .split('\n')
      .filter((l) => l.startsWith('EVALUATED '))
      .map((l) => new Set(JSON.parse(l.slice('EVALUATED '.length)) as string[]));
    const flowModules = (s: Set<string> | undefined) =>
      [...(s ?? [])].filter((f) =>
        /^lib\/(flows|rules|contacts|amojo)\/|^lib\/ingest\/amocrm-hook\.ts$|^lib\/amocrm\/client\/client\.ts$|^lib\/common\/phone\.ts$/.test(
          f,
        ),
      );
    // Cold: the pipeline, the stores and the clients; no flow, no amoCRM client, no phone parsing.
    expect(cold?.has('lib/pipeline/process.ts')).toBe(true);
    expect(flowModules(cold)).toEqual([]);
    // The RDESK queue's first message: RDESK's flow and the amoCRM client; not the forms flow nor the contacts.
    expect(flowModules(afterRdesk)).toEqual(expect.arrayContaining(['lib/flows/rdesk/processor.ts', 'lib/amocrm/client/client.ts']));
    expect(flowModules(afterRdesk).filter((f) => f.startsWith('lib/flows/forms/') || f.startsWith('lib/contacts/'))).toEqual([]);
    // The forms queue's first message: the forms flow and the contact finder.
    expect(flowModules(afterForms)).toEqual(expect.arrayContaining(['lib/flows/forms/processor.ts', 'lib/contacts/finder.ts']));
  });

  /**
   * Size ÷ floor (the function's AWS SDK clients bundled alone, same settings), at most. The goal is
   * MAX_FLOOR_RATIO (1.2); a function listed here cannot reach it yet, for the reason given
   * (infra/aws/README.md, "What each function bundles"), and is held at its figure so it only shrinks.
   */
  const RATIO_CEILING: Readonly<Record<string, number>> = {
    // All five flows' code (rules, contacts, RDESK, forms, chat, 1C) and their parsers: libphonenumber's
    // full metadata (190 KB), zod's mini build (37 KB), the amoCRM and amojo clients, qs.
    worker: 2.56,
    // Validates a submission at the door: libphonenumber's full metadata (190 KB), zod's mini build (33 KB), busboy, qs.
    forms: 2.0,
    // Validates 1C requests with zod's mini build (25 KB); the managers call carries the amoCRM client (≈ 55 KB).
    onec: 1.395,
  };

  it(
    'every function weighs at most its pinned multiple of its SDK floor; zod brings no locale and not its classic build',
    { timeout: 120_000 },
    async () => {
      const floors = new Map<string, Bundle>();
      const figures: string[] = [];
      for (const def of routeTable.functions) {
        const fn = await bundleFunction(def);
        const clients = sdkClientPackages(fn.metafile);
        expect(clients.length, `${def.id} uses no SDK client?`).toBeGreaterThan(0);
        const key = clients.join(',');
        if (!floors.has(key)) floors.set(key, await bundleFloor(clients));
        const floor = floors.get(key) as Bundle;
        const ratio = fn.bytes / floor.bytes;
        figures.push(`${def.id} ${(fn.bytes / 1024).toFixed(0)} KiB = ${ratio.toFixed(3)} × ${(floor.bytes / 1024).toFixed(0)} KiB`);
        expect(ratio, `${def.id}: ${fn.bytes} bytes over ${floor.bytes} (${key})`).toBeLessThanOrEqual(
          RATIO_CEILING[def.id] ?? MAX_FLOOR_RATIO,
        );
        // `import { z } from 'zod'` (eslint refuses it) would bring every locale; only English belongs.
        const inOutput = Object.values(fn.metafile.outputs).flatMap((o) => Object.entries(o.inputs).filter(([, i]) => i.bytesInOutput > 0));
        // (The locales' index may leave its empty lazy-init wrapper, a few bytes, when zod is reached from an import()ed flow.)
        const locales = inOutput
          .map(([f]) => f)
          .filter((f) => f.includes('zod/v4/locales/') && !f.endsWith('/en.js') && !f.endsWith('/locales/index.js'));
        expect(locales, def.id).toEqual([]);
        // Nor zod's classic build: what a function parses, it parses with the mini one (lib/common/zod.ts);
        // the config schemas, classic, are the CDK app's and the CLI's (infra/aws/README.md, "What each function bundles").
        const classic = Object.keys(fn.metafile.inputs).filter((f) => f.includes('node_modules/zod/v4/classic/'));
        expect(classic, `${def.id} bundles zod classic`).toEqual([]);
        // The catalogue's prose is the CDK app's: no function carries it (lib/metrics.ts, lib/aws/powertools.ts).
        const code = readFileSync(fn.file, 'utf8');
        expect(code, def.id).not.toMatch(/\bmeaning:/);
        // The OAuth layers (lib/amocrm/oauth/README.md): the scheduled run only in token-refresh, the
        // lease loop not in the OAuth function (install + disconnect), known by their log messages.
        expect(code.includes('scheduled token refresh failed'), `${def.id}: the scheduled run`).toBe(def.id === 'token-refresh');
        if (def.id === 'oauth') expect(code, 'oauth: the lease loop').not.toContain('could not release the refresh lease');
        // onec writes envelopes and jobs but never parses them: neither schema is built at its import.
        if (def.id === 'onec') expect(code, 'onec: the envelope schema').not.toContain('body must be base64');
      }
      console.log(`bundles ÷ SDK floor: ${figures.join('; ')}`);
    },
  );

  it(
    "zod's mini build alone, bundled as a function bundles it, words its issues in English as classic does",
    { timeout: 60_000 },
    async () => {
      // The 1C request schemas through the function's settings: no classic zod beside them to set the locale.
      const file = join(PROJECT_ROOT, '.local', 'bundles', 'zod-mini-messages', 'index.mjs');
      mkdirSync(join(PROJECT_ROOT, '.local', 'bundles', 'zod-mini-messages'), { recursive: true });
      const out = await build({
        ...esbuildOptions(file),
        stdin: { contents: "export { courseSchema } from './lib/flows/onec/course.ts';", resolveDir: PROJECT_ROOT, loader: 'ts' },
        absWorkingDir: PROJECT_ROOT,
      });
      expect(Object.keys(out.metafile?.inputs ?? {}).filter((f) => f.includes('zod/v4/classic/'))).toEqual([]);
      const answer = execFileSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const { courseSchema } = await import(${JSON.stringify(pathToFileURL(file).href)}); console.log(JSON.stringify(courseSchema.safeParse({ name: 5, product_id_1C: ' ' }).error.issues.map((i) => [i.path.join('.'), i.message])));`,
        ],
        { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, timeout: 30_000 },
      );
      expect(JSON.parse(answer.trim())).toEqual([
        ['product_id_1C', 'required'],
        ['name', 'Invalid input: expected string, received number'],
      ]);
    },
  );

  it('the Powertools adapter emits each catalogued metric with its catalogue unit, read from the name', () => {
    for (const m of catalogue()) expect(powertoolsUnit(m.name), m.name).toBe(m.unit);
  });
});
