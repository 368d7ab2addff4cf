/**
 * Loading the config: from an object (tests, the local runner), a JSON file (the CLI, `npm
 * start`) or the environment (Lambda: `AMO_CONFIG_JSON` carries the config — it holds no secrets —
 * or `AMO_CONFIG_FILE` names a bundled file). Every failure is a ConfigError that lists each
 * problem with its path, so a broken deployment says exactly what to fix.
 */
import { readFileSync } from 'node:fs';
import { configSchema, type Config, type ConfigInput } from './schema.ts';
import { CONFIG_ENV, ConfigError } from './deployed.ts';

export {
  allAccounts,
  CONFIG_ENV,
  ConfigError,
  readDeployedConfig,
  resolveAccount,
  UnknownAccountError,
  type ResolvedAccount,
} from './deployed.ts';

/** Validates a config object; `source` names where it came from in the error. */
export function parseConfig(input: unknown, source = 'config'): Config {
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      `invalid ${source}`,
      parsed.error.issues.map((i) => `${i.path.join('.')}${i.path.length ? ': ' : ''}${i.message}`),
    );
  }
  return parsed.data;
}

/** Identity with types: lets a TypeScript config file be checked as it is written. */
export function defineConfig(input: ConfigInput): ConfigInput {
  return input;
}

export function loadConfigFile(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read the config file ${path}`, [], { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`the config file ${path} is not valid JSON: ${(e as Error).message}`, [], { cause: e });
  }
  return parseConfig(json, `config file ${path}`);
}

/** From `AMO_CONFIG_JSON` or `AMO_CONFIG_FILE`; neither is an error (no default that hides a missing setting). */
export function loadConfigFromEnv(env: Record<string, string | undefined> = process.env): Config {
  const json = env[CONFIG_ENV.json];
  if (json !== undefined && json !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch (e) {
      throw new ConfigError(`${CONFIG_ENV.json} is not valid JSON: ${(e as Error).message}`, [], { cause: e });
    }
    return parseConfig(parsed, CONFIG_ENV.json);
  }
  const file = env[CONFIG_ENV.file];
  if (file) return loadConfigFile(file);
  throw new ConfigError(`no configuration: set ${CONFIG_ENV.json} (the config as JSON) or ${CONFIG_ENV.file} (a path to it)`);
}
