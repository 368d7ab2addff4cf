/**
 * Bench: what each deployed function weighs and how fast a fresh Node process imports it, beside
 * the floor — the same function's AWS SDK clients bundled alone with the same settings
 * (infra/aws/bundling.ts, minified ESM). Goals (issue "lean functions"): median cold import
 * ≤ 80 ms and size ≤ 1.2 × the floor; a miss sets a non-zero exit code.
 *
 *   npx tsx bench/bundles.ts [--runs 20] [--only worker,oauth] [--explain]
 *
 * `--explain` prints each bundle's map instead of timing it (add `--runs N` to time as well): its
 * bytes by component — the AWS SDK (`@aws-sdk/*`), `@smithy/*`, zod, libphonenumber-js, each of
 * our `lib/<folder>`s, the other packages — then how many of them are evaluated at import ("at
 * init": reached from the entry without an `import()`; the rest waits for its first use, e.g. the
 * worker's flows), beside the same components of its floor and what the function adds to each,
 * read from esbuild's metafile (the bytes each input leaves in the output; the rest is esbuild's
 * own wrappers and the banner). The SDK and smithy rows are what the floor cannot shed; the rest
 * is the function's own weight.
 *
 * Cold import = the time `await import(bundle)` takes in a new process (Node's own start-up is
 * not counted), with `--enable-source-maps` as deployed (NODE_OPTIONS) and the environment the
 * construct sets, the example config in it: the function builds its clients at import, as in
 * Lambda's init. The floor is imported the same way. `bundleFunction` / `bundleFloor` are what
 * test/infra/bundle.test.ts pins the sizes with (sizes are deterministic; times are not).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { esbuildOptions, floorSource, sdkClientPackages } from '../infra/aws/bundling.ts';
import { configEnvJson, PROJECT_ROOT } from '../infra/aws/gateway.ts';
import { loadConfigFile } from '../lib/config/load.ts';
import { routeTable, type FunctionDef } from '../lib/routes.ts';

export const MAX_MEDIAN_IMPORT_MS = 80;
export const MAX_FLOOR_RATIO = 1.2;

const OUT = join(PROJECT_ROOT, '.local', 'bundles');

export interface Bundle {
  file: string;
  bytes: number;
  metafile: Metafile;
}

/** The function's bundle, built exactly as the construct builds it (into .local/bundles/<id>/). */
export async function bundleFunction(def: Pick<FunctionDef, 'id' | 'entry'>): Promise<Bundle> {
  const file = join(OUT, def.id, 'index.mjs');
  mkdirSync(join(OUT, def.id), { recursive: true });
  const out = await build({ ...esbuildOptions(file), entryPoints: [join(PROJECT_ROOT, def.entry)], absWorkingDir: PROJECT_ROOT });
  return { file, bytes: statSync(file).size, metafile: out.metafile ?? { inputs: {}, outputs: {} } };
}

/** The floor: just these SDK client classes, same settings. */
export async function bundleFloor(packages: readonly string[]): Promise<Bundle> {
  const name = `floor-${packages.map((p) => p.replace('@aws-sdk/', '')).join('+') || 'none'}`;
  const file = join(OUT, name, 'index.mjs');
  mkdirSync(join(OUT, name), { recursive: true });
  const out = await build({
    ...esbuildOptions(file),
    stdin: { contents: floorSource(packages, PROJECT_ROOT), resolveDir: PROJECT_ROOT, loader: 'js' },
    absWorkingDir: PROJECT_ROOT,
  });
  return { file, bytes: statSync(file).size, metafile: out.metafile ?? { inputs: {}, outputs: {} } };
}

/** Bytes in the output per package (node_modules) or lib folder, largest first. */
export function breakdown(metafile: Metafile): Array<[string, number]> {
  const by = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1];
      const key =
        pkg ??
        input
          .split('/')
          .slice(0, input.startsWith('lib/') ? 2 : 1)
          .join('/');
      by.set(key, (by.get(key) ?? 0) + bytesInOutput);
    }
  }
  return [...by].sort((a, b) => b[1] - a[1]);
}

/** The component of an input (esbuild metafile path) in the bundle map (`--explain`). */
export function component(input: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1];
  if (pkg) {
    if (pkg.startsWith('@aws-sdk/') || pkg === '@aws/lambda-invoke-store') return 'AWS SDK (@aws-sdk)';
    if (pkg.startsWith('@smithy/')) return '@smithy';
    if (pkg === 'zod' || pkg === 'libphonenumber-js') return pkg;
    if (pkg.startsWith('@aws-lambda-powertools/') || pkg.startsWith('@middy/')) return 'Powertools + middy';
    return 'other packages';
  }
  if (input.startsWith('lib/')) {
    const parts = input.split('/');
    return parts.length > 2 ? `lib/${parts[1]}` : 'lib/*.ts';
  }
  if (input.startsWith('functions/')) return 'functions';
  return 'other';
}

/**
 * The inputs evaluated at import: reachable from the entry by static imports and `require` calls.
 * The rest is reached only through an `import()` (the worker's flows, the SDK's credential
 * providers): esbuild keeps it in the file but evaluates it when the `import()` runs.
 */
export function eagerInputs(metafile: Metafile): Set<string> {
  const seen = new Set<string>();
  const todo = Object.values(metafile.outputs)
    .map((o) => o.entryPoint)
    .filter((e): e is string => e !== undefined);
  for (let next = todo.pop(); next !== undefined; next = todo.pop()) {
    if (seen.has(next)) continue;
    seen.add(next);
    for (const i of metafile.inputs[next]?.imports ?? []) if (i.kind !== 'dynamic-import' && !i.external) todo.push(i.path);
  }
  return seen;
}

/** Output bytes by component (`component`), plus esbuild's own (wrappers, banner: the bytes no input accounts for); `eager` counts only the inputs evaluated at import. */
export function componentBytes(b: Bundle, eager?: ReadonlySet<string>): Map<string, number> {
  const by = new Map<string, number>();
  let counted = 0;
  for (const output of Object.values(b.metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      counted += bytesInOutput;
      if (eager && !eager.has(input)) continue;
      const key = component(input);
      by.set(key, (by.get(key) ?? 0) + bytesInOutput);
    }
  }
  if (!eager) by.set('esbuild runtime + banner', Math.max(0, b.bytes - counted));
  return by;
}

/** The bundle map: one line per component, the bundle's bytes beside its floor's and the difference. */
export function explain(fn: Bundle, floor: Bundle): string[] {
  const mine = componentBytes(fn);
  const cold = componentBytes(fn, eagerInputs(fn.metafile));
  const base = componentBytes(floor);
  const keys = [...new Set([...mine.keys(), ...base.keys()])].sort((a, b) => (mine.get(b) ?? 0) - (mine.get(a) ?? 0));
  const cell = (n: number) => `${(n / 1024).toFixed(1)}`.padStart(8);
  const sign = (n: number) => `${n >= 0 ? '+' : '−'}${(Math.abs(n) / 1024).toFixed(1)}`.padStart(9);
  const rows = keys
    .filter((k) => (mine.get(k) ?? 0) >= 512 || (base.get(k) ?? 0) >= 512)
    .map((k) => {
      const m = mine.get(k) ?? 0;
      const f = base.get(k) ?? 0;
      return `     ${k.padEnd(26)}${cell(m)}${cell(cold.get(k) ?? (k.startsWith('esbuild') ? m : 0))}${cell(f)}${sign(m - f)}`;
    });
  const coldTotal = [...cold.values()].reduce((a, b) => a + b, 0) + (mine.get('esbuild runtime + banner') ?? 0);
  const pkgs = breakdown(fn.metafile)
    .filter(([k]) => !k.startsWith('lib') && !k.startsWith('functions') && component(`node_modules/${k}/`) === 'other packages')
    .slice(0, 6)
    .map(([k, v]) => `${k} ${(v / 1024).toFixed(1)}`)
    .join(', ');
  return [
    `     ${'component (KiB)'.padEnd(26)}${'bundle'.padStart(8)}${'at init'.padStart(8)}${'floor'.padStart(8)}${'added'.padStart(9)}`,
    ...rows,
    `     ${'total'.padEnd(26)}${cell(fn.bytes)}${cell(coldTotal)}${cell(floor.bytes)}${sign(fn.bytes - floor.bytes)}`,
    ...(pkgs ? [`     other packages: ${pkgs}`] : []),
  ];
}

/** What the bundle holds beyond its floor (per package or lib folder), largest first. */
export function beyondFloor(fn: Metafile, floor: Metafile): Array<[string, number]> {
  const f = new Map(breakdown(floor));
  return breakdown(fn)
    .map(([k, v]): [string, number] => [k, v - (f.get(k) ?? 0)])
    .filter(([, v]) => v > 512)
    .sort((a, b) => b[1] - a[1]);
}

/** Every child's: a region (the clients need one), and no warning that Node 20 is old (Lambda runs 22). */
const BASE_ENV = { PATH: process.env.PATH ?? '', AWS_REGION: 'eu-central-1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

/** The environment the construct gives a function (gateway.ts), with the example config. */
function functionEnv(): Record<string, string> {
  const config = loadConfigFile(join(PROJECT_ROOT, 'amo.config.example.json'));
  const queues = Object.fromEntries(
    routeTable.queues.map((q) => [
      q.id,
      {
        arn: `arn:aws:sqs:eu-central-1:123456789012:amo-gateway-${q.id}`,
        url: `https://sqs.eu-central-1.amazonaws.com/123456789012/amo-gateway-${q.id}`,
        dlqUrl: `https://sqs.eu-central-1.amazonaws.com/123456789012/amo-gateway-${q.id}-dlq`,
      },
    ]),
  );
  return {
    ...BASE_ENV,
    TABLE_NAME: 'amo-gateway-table',
    QUEUES: JSON.stringify(queues),
    AMO_CONFIG_JSON: configEnvJson(config),
    AMO_SECRETS_PREFIX: 'amo-gateway/',
    EVENT_BUS_NAME: 'amo-gateway',
    POWERTOOLS_SERVICE_NAME: 'amo-gateway',
    POWERTOOLS_METRICS_NAMESPACE: 'AmoGateway',
    // The rules' dictionaries, where the construct puts them beside the code.
    AMO_RULES_DIR: PROJECT_ROOT,
  };
}

/** Median and p90 of `runs` fresh processes' `await import(file)`, in ms. */
export function coldImport(file: string, runs: number, env: Record<string, string>): { median: number; p90: number; cpu: number } {
  const times: number[] = [];
  const cpus: number[] = [];
  // Wall time, and the process's CPU time (user + system, all threads) over the same import: less
  // sensitive to a busy machine than the wall time, though compile and GC threads count too.
  const script = `const t = performance.now(); const c = process.cpuUsage(); await import(${JSON.stringify(pathToFileURL(file).href)}); const u = process.cpuUsage(c); console.log(performance.now() - t, (u.user + u.system) / 1000);`;
  for (let i = 0; i < runs; i++) {
    const out = execFileSync(process.execPath, ['--enable-source-maps', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      env,
      cwd: PROJECT_ROOT,
      timeout: 30_000,
    });
    const [wall, cpu] = (out.trim().split('\n').at(-1) ?? '').split(' ').map(Number);
    times.push(wall ?? NaN);
    cpus.push(cpu ?? NaN);
  }
  const at = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(q * xs.length) - 1)] ?? NaN;
  return { median: at(times, 0.5), p90: at(times, 0.9), cpu: at(cpus, 0.5) };
}

const kb = (b: number) => `${(b / 1024).toFixed(0)} KiB`;
const ms = (x: number) => `${x.toFixed(0)} ms`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const runs = Number(args[args.indexOf('--runs') + 1] ?? 20) || 20;
  const only = args.includes('--only') ? (args[args.indexOf('--only') + 1] ?? '').split(',') : undefined;
  // The map alone is deterministic and quick: no timing unless `--runs` asks for it too.
  const explaining = args.includes('--explain');
  const timing = !explaining || args.includes('--runs');
  const env = functionEnv();
  type Timed = { median: number; p90: number; cpu: number };
  const floors = new Map<string, { bundle: Bundle } & Partial<Timed>>();
  let missed = 0;
  const before = loadavg();
  if (timing) console.log(`cold import: ${runs} fresh processes each; load average ${before.map((l) => l.toFixed(2)).join(' ')}`);
  for (const def of routeTable.functions) {
    if (only && !only.includes(def.id)) continue;
    const fn = await bundleFunction(def);
    const clients = sdkClientPackages(fn.metafile);
    const key = clients.join(',');
    if (!floors.has(key)) {
      const bundle = await bundleFloor(clients);
      floors.set(key, { bundle, ...(timing ? coldImport(bundle.file, runs, BASE_ENV) : {}) });
    }
    const floor = floors.get(key) as { bundle: Bundle } & Partial<Timed>;
    const sizeRatio = fn.bytes / floor.bundle.bytes;
    const sdk = `\n     SDK clients: ${clients.map((c) => c.replace('@aws-sdk/', '')).join(', ') || 'none'}`;
    const map = explaining ? `\n${explain(fn, floor.bundle).join('\n')}` : '';
    if (!timing) {
      const ok = sizeRatio <= MAX_FLOOR_RATIO;
      if (!ok) missed++;
      console.log(
        `\n${ok ? 'ok  ' : 'MISS'} ${def.id}: ${kb(fn.bytes)} = ${sizeRatio.toFixed(3)} × floor ${kb(floor.bundle.bytes)} (goal ≤ ${MAX_FLOOR_RATIO})${sdk}${map}`,
      );
      continue;
    }
    const t = coldImport(fn.file, runs, env);
    const ok = t.median <= MAX_MEDIAN_IMPORT_MS && sizeRatio <= MAX_FLOOR_RATIO;
    if (!ok) missed++;
    const f = floor as { bundle: Bundle } & Timed;
    console.log(
      `\n${ok ? 'ok  ' : 'MISS'} ${def.id}: ${kb(fn.bytes)}, cold import median ${ms(t.median)} (p90 ${ms(t.p90)}; CPU ${ms(t.cpu)})` +
        sdk +
        `\n     floor: ${kb(f.bundle.bytes)}, ${ms(f.median)} (p90 ${ms(f.p90)}; CPU ${ms(f.cpu)})` +
        `\n     size ${sizeRatio.toFixed(3)} × floor (goal ≤ ${MAX_FLOOR_RATIO}), import ${(t.median / f.median).toFixed(2)} × floor's (goal ≤ ${MAX_MEDIAN_IMPORT_MS} ms)` +
        `\n     beyond the floor: ${beyondFloor(fn.metafile, f.bundle.metafile)
          .slice(0, 8)
          .map(([k, v]) => `${k} ${kb(v)}`)
          .join(', ')}` +
        map,
    );
  }
  // The runtime's own SDK instead (nodejs22.x ships v3 unbundled in /var/runtime; this
  // node_modules stands in for it): the largest client set, imported from the packages.
  const largest = [...floors.entries()].sort((a, b) => b[0].length - a[0].length)[0];
  if (largest && timing) {
    const file = join(PROJECT_ROOT, '.local', 'bundles', 'runtime-sdk.mjs');
    writeFileSync(
      file,
      largest[0]
        .split(',')
        .map((p, i) => `export * as c${i} from '${p}';`)
        .join('\n'),
    );
    const t = coldImport(file, runs, BASE_ENV);
    console.log(
      `\nthe runtime's SDK instead (unbundled, from node_modules): ${largest[0].replace(/@aws-sdk\//g, '')} import in ${ms(t.median)} (p90 ${ms(t.p90)}; CPU ${ms(t.cpu)}), bundled ${ms(largest[1].median ?? NaN)} (CPU ${ms(largest[1].cpu ?? NaN)})`,
    );
  }
  if (timing)
    console.log(
      `\nload average after: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
  if (missed) {
    console.log(`${missed} function(s) miss ${timing ? `≤ ${MAX_MEDIAN_IMPORT_MS} ms or ` : ''}≤ ${MAX_FLOOR_RATIO} × floor`);
    process.exitCode = 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
