/**
 * How every function is bundled: the settings the CDK construct hands to esbuild (gateway.ts),
 * and the same settings as esbuild API options, so that `npm run bench` (bench/bundles.ts) and
 * test/infra/bundle.test.ts measure exactly what gets deployed, beside the "floor": the function's
 * AWS SDK clients bundled alone with the same settings (infra/aws/README.md, "What each function
 * bundles").
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BuildOptions, Metafile } from 'esbuild';

/** `require` for the CommonJS dependencies inside an ESM bundle. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __amoCreateRequire } from 'node:module'; const require = __amoCreateRequire(import.meta.url);";

/**
 * The construct's bundling (aws-lambda-nodejs BundlingOptions): minified ESM for Node 22 with
 * source maps (no sources inside: the map only names lines). The SDK is bundled, not taken from
 * the runtime: bundled, three clients import in ≈ 40 ms, the same clients from an unbundled
 * node_modules (what `/var/runtime` holds) in ≈ 100 ms on the same machine, and the versions are
 * the ones the tests ran against.
 */
export const FUNCTION_BUNDLING = {
  format: 'esm',
  target: 'node22',
  mainFields: ['module', 'main'],
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  banner: ESM_REQUIRE_BANNER,
  externalModules: [] as string[],
} as const;

/** FUNCTION_BUNDLING as esbuild API options (what the construct's esbuild CLI call amounts to). */
export function esbuildOptions(outfile: string): BuildOptions {
  return {
    bundle: true,
    platform: 'node',
    format: FUNCTION_BUNDLING.format,
    target: FUNCTION_BUNDLING.target,
    mainFields: [...FUNCTION_BUNDLING.mainFields],
    minify: FUNCTION_BUNDLING.minify,
    sourcemap: FUNCTION_BUNDLING.sourceMap,
    sourcesContent: FUNCTION_BUNDLING.sourcesContent,
    banner: { js: FUNCTION_BUNDLING.banner },
    external: [...FUNCTION_BUNDLING.externalModules],
    outfile,
    metafile: true,
    logLevel: 'error',
  };
}

/** The AWS SDK client packages a bundle holds (`@aws-sdk/client-*` and the document client), sorted. */
export function sdkClientPackages(metafile: Metafile): string[] {
  const found = new Set<string>();
  for (const input of Object.keys(metafile.inputs)) {
    const m = /node_modules\/@aws-sdk\/(client-[a-z0-9-]+|lib-dynamodb)\//.exec(input);
    if (m?.[1]) found.add(`@aws-sdk/${m[1]}`);
  }
  return [...found].sort();
}

/**
 * The client class a package exports (`DynamoDBClient`, `DynamoDBDocumentClient`, …), read from
 * its type declarations: every client package's index re-exports its client module first
 * (`export * from "./<Service>Client"`), which declares `class <Service>Client extends …`.
 */
export function sdkClientClass(pkg: string, projectRoot: string): string {
  const base = join(projectRoot, 'node_modules', pkg, 'dist-types');
  const module = /export \* from "\.\/(\w+Client)";/.exec(readFileSync(join(base, 'index.d.ts'), 'utf8'))?.[1];
  const cls = module && /export declare class (\w+Client) extends/.exec(readFileSync(join(base, `${module}.d.ts`), 'utf8'))?.[1];
  if (!cls) throw new Error(`no client class found in ${pkg}`);
  return cls;
}

/** The floor's entry: the client classes exported, nothing else (what "the clients alone" weigh). */
export function floorSource(packages: readonly string[], projectRoot: string): string {
  return packages.map((p) => `export { ${sdkClientClass(p, projectRoot)} } from '${p}';`).join('\n');
}
