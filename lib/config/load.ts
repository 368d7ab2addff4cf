/**
 * Loading the config: from an object (tests, the local runner), a JSON file (the CLI, `npm
 * start`) or the environment (Lambda: `AMO_CONFIG_JSON` carries the config — it holds no secrets —
 * or `AMO_CONFIG_FILE` names a bundled file). Every failure is a ConfigError that lists each
 * problem with its path, so a broken deployment says exactly what to fix.
 */
import { configSchema, type Config, type ConfigInput } from './schema.ts';
import { CONFIG_ENV, configJsonFromEnv, ConfigError } from './deployed.ts';

export {
  allAccounts,
  CONFIG_ENV,
  configJsonFromEnv,
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
  const { source, json } = configJsonFromEnv({ [CONFIG_ENV.file]: path });
  return parseConfig(json, source);
}

/** From `AMO_CONFIG_JSON` or `AMO_CONFIG_FILE`, validated; neither is an error (no default that hides a missing setting). */
export function loadConfigFromEnv(env: Record<string, string | undefined> = process.env): Config {
  const { source, json } = configJsonFromEnv(env);
  return parseConfig(json, source);
}
