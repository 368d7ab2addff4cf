/**
 * zod for code that ships in a Lambda function: zod's mini build (the functional API,
 * `z.optional(s)`, `s.check(z.minLength(1))`, `z.pipe(s, z.transform(f))`), with English messages.
 *
 *   import * as z from '../common/zod.ts';
 *
 * Why not zod itself there: its classic build hangs every method on each schema type and brings
 * the JSON Schema generator along, ≈ 35 KiB more per bundle and more work at a cold start, where a
 * function only parses (docs/architecture.md, "Lean functions"). Config schemas, checked at synth
 * and by the CLI, stay classic; both builds share zod's core, so a classic config schema may embed
 * one of these (they validate and word errors identically).
 *
 * The mini build sets no locale (its messages would all read "Invalid input"); the classic build
 * registers English at its first schema. This does the same here, so a message is the same
 * whichever build made the schema, in a function that never loads classic too.
 */
import { config, globalConfig } from 'zod/v4/core';
import en from 'zod/v4/locales/en.js';

if (!globalConfig.localeError) config(en());

export * from 'zod/mini';
