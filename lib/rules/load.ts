/**
 * Rules at load time: the config's `rules` section resolved against each account's dictionary
 * file (`rules.accounts.<id>.dictionary`, default `schema/<id>.json`, relative to `baseDir`).
 * Used wherever the config is loaded (the CLI, `npm start` without the sandbox, synth); a missing
 * file or an unknown name fails with every rule's path.
 */
import { isAbsolute, join } from 'node:path';
import { readFileSync } from 'node:fs';
import { AccountSchema } from '../amocrm/client/schema.ts';
import type { Config } from '../config/schema.ts';
import { defaultDictionaryPath, resolveRules, type CompiledRules } from './resolve.ts';

/** The dictionary file of `account` as the config names it (absolute, or relative to `baseDir`). */
export function dictionaryPath(config: Config, account: string, baseDir = process.cwd()): string {
  const p = config.rules?.accounts[account]?.dictionary ?? defaultDictionaryPath(account);
  return isAbsolute(p) ? p : join(baseDir, p);
}

/** Reads one dictionary file; an Error (never a throw) when it is missing or malformed. */
export function readDictionary(file: string): AccountSchema | Error {
  try {
    return AccountSchema.from(JSON.parse(readFileSync(file, 'utf8')) as unknown);
  } catch (e) {
    return new Error(`${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * Resolves the config's rules against the dictionary files (or `given` dictionaries first, e.g.
 * one just pulled from the sandbox). Undefined when the config has no rules.
 */
export function loadRules(
  config: Config,
  opts: { baseDir?: string; given?: ReadonlyMap<string, AccountSchema> } = {},
): CompiledRules | undefined {
  const section = config.rules;
  if (!section || section.list.length === 0) return undefined;
  return resolveRules(section, (account) => opts.given?.get(account) ?? readDictionary(dictionaryPath(config, account, opts.baseDir)));
}
