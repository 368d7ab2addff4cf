/**
 * Ports apart from adapters: the feature folders hold ports, domain types and pure code; only
 * lib/store (DynamoDB adapters) and lib/aws (Lambda/SDK wiring) may load the AWS SDK. This walks
 * the static import graph (import/export … from, import(), type-only imports included: a port
 * that names an adapter's type still drags its module in) from every file of the feature folders,
 * following relative imports, and fails on any path that reaches `@aws-sdk/*`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');

/** Folders whose code must not load the AWS SDK, directly or through what they import. */
const SDK_FREE = [
  'lib/amocrm/oauth',
  'lib/amocrm/client',
  'lib/ingest',
  'lib/pipeline',
  'lib/common',
  'lib/dlq',
  'lib/amocrm/webhooks',
  'lib/amojo',
  'lib/config',
  'lib/events',
  'lib/mirror',
  'lib/contacts',
  'lib/amocrm/entities.ts',
  'lib/envelope.ts',
  'lib/metrics.ts',
  'lib/routes.ts',
];

const SPECIFIER =
  /(?:^|[\s;}])(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+\s+from\s+)?['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Module specifiers of a file (comments stripped so an example in prose is not an import). */
export function specifiersOf(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"])\/\/.*$/gm, '$1');
  return [...code.matchAll(SPECIFIER)].map((m) => (m[1] ?? m[2]) as string);
}

function tsFiles(path: string): string[] {
  const abs = join(ROOT, path);
  if (statSync(abs).isFile()) return [abs];
  return readdirSync(abs, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(abs, f));
}

/** The first chain of files from `start` to an `@aws-sdk/*` import, or undefined. */
function pathToSdk(start: string, seen: Set<string>): string[] | undefined {
  const stack: Array<{ file: string; chain: string[] }> = [{ file: start, chain: [relative(ROOT, start)] }];
  while (stack.length) {
    const { file, chain } = stack.pop() as { file: string; chain: string[] };
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of specifiersOf(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('@aws-sdk/')) return [...chain, spec];
      if (!spec.startsWith('.')) continue;
      const next = resolve(dirname(file), spec);
      stack.push({ file: next, chain: [...chain, relative(ROOT, next)] });
    }
  }
  return undefined;
}

describe('layout: ports apart from adapters', () => {
  it('the import scanner sees static, re-export, type-only and dynamic imports, not comments', () => {
    const src = [
      "import { a } from './a.ts';",
      "import type { B } from '../b.ts';",
      "export * from './c.ts';",
      "export { d } from './d.ts';",
      "import './e.ts';",
      "const f = await import('./f.ts');",
      "// import { x } from '@aws-sdk/client-sqs';",
      "/* import { y } from '@aws-sdk/client-dynamodb'; */",
      'import {\n  g,\n  type G,\n} from "./g.ts";',
    ].join('\n');
    expect(specifiersOf(src)).toEqual(
      ['./a.ts', '../b.ts', './c.ts', './d.ts', './e.ts', './g.ts', './f.ts'].sort((a, b) => src.indexOf(a) - src.indexOf(b)),
    );
  });

  it('the walk does find the SDK behind an adapter (so a pass below means something)', () => {
    expect(pathToSdk(join(ROOT, 'lib/aws/oauth-runtime.ts'), new Set())).toBeDefined();
  });

  it('only the adapters (lib/store, lib/aws) import @aws-sdk themselves', () => {
    const direct = tsFiles('lib')
      .filter((f) => specifiersOf(readFileSync(f, 'utf8')).some((s) => s.startsWith('@aws-sdk/')))
      .map((f) => relative(ROOT, f))
      .filter((f) => !f.startsWith('lib/store/') && !f.startsWith('lib/aws/'));
    expect(direct).toEqual([]);
  });

  for (const folder of SDK_FREE) {
    it(`${folder} does not reach @aws-sdk through its imports`, () => {
      const seen = new Set<string>();
      const offenders = tsFiles(folder)
        .map((f) => pathToSdk(f, seen))
        .filter((chain): chain is string[] => chain !== undefined)
        .map((chain) => chain.join(' → '));
      expect(offenders).toEqual([]);
    });
  }
});

describe('layout: what the functions load at first use', () => {
  // esbuild evaluates an import()ed module only when the import() runs, but a module reached from
  // one is wrapped, and a wrapped package index keeps and evaluates its whole package: an SDK
  // client reached from a lazy flow would bring every command of its package into the cold start.
  const lazy = tsFiles('lib/aws').flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => resolve(dirname(file), m[1] as string)),
  );

  it('the worker and the 1C function import() their flows and their amoCRM clients (the scanner finds them)', () => {
    expect(lazy.map((f) => relative(ROOT, f))).toEqual(
      expect.arrayContaining(['lib/aws/hook-flows.ts', 'lib/aws/amo-clients.ts', 'lib/ingest/index.ts', 'lib/flows/rdesk/processor.ts']),
    );
  });

  it('no module that lib/aws import()s reaches @aws-sdk through its imports', () => {
    const seen = new Set<string>();
    const offenders = lazy
      .map((file) => pathToSdk(file, seen))
      .filter((chain): chain is string[] => chain !== undefined)
      .map((chain) => chain.join(' → '));
    expect(offenders).toEqual([]);
  });
});

describe('layout: thin front doors', () => {
  const doors = readdirSync(join(ROOT, 'functions')).filter((f) => f.endsWith('.ts'));

  it('there are front doors to check', () => {
    expect(doors.length).toBeGreaterThanOrEqual(3);
  });

  for (const f of doors) {
    it(`functions/${f} only adapts: ≤ 40 lines, createHandler(deps) and handler exported`, () => {
      const text = readFileSync(join(ROOT, 'functions', f), 'utf8');
      expect(text.split('\n').filter((line, i, all) => i < all.length - 1 || line !== '').length).toBeLessThanOrEqual(40);
      expect(text).toMatch(/^export function createHandler\(deps: /m);
      expect(text).toMatch(/^export const handler = /m);
    });
  }
});
