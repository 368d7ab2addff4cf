/**
 * zod for code that ships in a Lambda function: zod's mini build (the functional API:
 * `z.optional(s)`, `s.check(z.minLength(1))`, `z.pipe(s, z.transform(f))`), with English messages.
 *
 *   import * as z from '../common/zod.ts';
 *
 * Why not zod's classic build there: it brings the JSON Schema generator and a method layer per
 * schema type along — ≈ 60 KiB more in each function that validates, and 5–25 ms more CPU at a cold
 * start — where a function only parses (infra/aws/README.md, "What each function bundles"). The
 * config schemas, checked at synth and by the CLI, stay classic; both builds share zod's core, so
 * a classic schema may embed one of these, and they validate and word issues alike.
 *
 * The mini build sets no locale (every message would read "Invalid input"); the classic build
 * registers English with its first schema. This does the same, so a message is the same whichever
 * build made the schema, also in a function that never loads classic. Unlike classic, the mini
 * build installs no memoizer (what lets zod parse a cyclic object graph): everything parsed here
 * comes out of JSON.parse or a form decoder, never cyclic.
 */
import { config, globalConfig } from 'zod/v4/core';
import en from 'zod/v4/locales/en.js';
// This file is the one place that wraps the mini build (the rule steers every other module here).
// eslint-disable-next-line no-restricted-syntax
import { pipe, transform, type ZodMiniType } from 'zod/mini';

if (!globalConfig.localeError) config(en());

export * from 'zod/mini';

/**
 * zod's `preprocess` (the mini build has none): `fn` first, then `schema`, as the classic
 * `z.preprocess` builds it (a pipe from a transform).
 */
export function preprocess<T extends ZodMiniType>(fn: (v: unknown) => unknown, schema: T) {
  return pipe(transform(fn), schema);
}
