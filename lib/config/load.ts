/**
 * Loading the config: from an object (tests, the local runner), a JSON file (the CLI, `npm
 * start`) or the environment (Lambda: `AMO_CONFIG_JSON` carries the config — it holds no secrets —
 * or `AMO_CONFIG_FILE` names a bundled file). Every failure is a ConfigError that lists each
 * problem with its path, so a broken deployment says exactly what to fix.
 */
import { readFileSync } from 'node:fs';
import { configSchema, type AccountConfig, type Config, type ConfigInput, type IntegrationConfig } from './schema.ts';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    readonly issues: string[] = [],
    options?: ErrorOptions,
  ) {
    super(issues.length ? `${message}:\n${issues.map((i) => `  - ${i}`).join('\n')}` : message, options);
  }
}

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

export const CONFIG_ENV = { json: 'AMO_CONFIG_JSON', file: 'AMO_CONFIG_FILE' } as const;

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

/** An account together with its integration; what almost every caller needs. */
export interface ResolvedAccount {
  account: AccountConfig;
  integration: IntegrationConfig;
}

export class UnknownAccountError extends Error {
  override readonly name = 'UnknownAccountError';
}

export function resolveAccount(config: Config, accountId: string): ResolvedAccount {
  const account = config.accounts.find((a) => a.id === accountId);
  if (!account) {
    const known = config.accounts.map((a) => a.id).join(', ') || '(none)';
    throw new UnknownAccountError(`unknown account "${accountId}" (configured: ${known})`);
  }
  const integration = config.integrations.find((i) => i.id === account.integration);
  // parseConfig guarantees the integration exists; a hand-built Config may not.
  if (!integration) throw new UnknownAccountError(`account "${accountId}" names unknown integration "${account.integration}"`);
  return { account, integration };
}

export function allAccounts(config: Config): ResolvedAccount[] {
  return config.accounts.map((a) => resolveAccount(config, a.id));
}
