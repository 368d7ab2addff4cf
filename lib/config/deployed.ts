/**
 * The config as a deployed function reads it, without zod: `ConfigError`, the account lookups and
 * `readDeployedConfig`, the trusted read of the config the CDK construct validated at synth
 * (lib/config/load.ts re-exports them all). No function bundles the config schema (every flow's
 * section) or spends its cold start parsing with it: the schema ran once, at synth, on exactly
 * this JSON (infra/aws/README.md, "What each function bundles").
 */
import { readFileSync } from 'node:fs';
import type { AccountConfig, Config, IntegrationConfig } from './schema.ts';

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

export const CONFIG_ENV = { json: 'AMO_CONFIG_JSON', file: 'AMO_CONFIG_FILE' } as const;

/**
 * The config's JSON from `AMO_CONFIG_JSON`, else the file `AMO_CONFIG_FILE` names, and where it
 * came from (for messages); neither is an error (no default that hides a missing setting).
 */
export function configJsonFromEnv(env: Record<string, string | undefined>): { source: string; json: unknown } {
  const inline = env[CONFIG_ENV.json];
  const file = env[CONFIG_ENV.file];
  let source: string;
  let text: string;
  if (inline !== undefined && inline !== '') {
    source = CONFIG_ENV.json;
    text = inline;
  } else if (file) {
    source = `config file ${file}`;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read the ${source}`, [], { cause: e });
    }
  } else {
    throw new ConfigError(`no configuration: set ${CONFIG_ENV.json} (the config as JSON) or ${CONFIG_ENV.file} (a path to it)`);
  }
  try {
    return { source, json: JSON.parse(text) };
  } catch (e) {
    throw new ConfigError(`${source === CONFIG_ENV.json ? source : `the ${source}`} is not valid JSON: ${(e as Error).message}`, [], {
      cause: e,
    });
  }
}

/** The sections the schema always fills in (defaults): their presence marks a config that went through it. */
const FILLED_IN = ['integrations', 'accounts', 'oauth', 'events'] as const;

/**
 * The config as the construct wrote it: validated with the full schema at synth, defaults filled
 * in (infra/aws/gateway.ts `configEnvJson`). Checked here only for that shape; a config written by
 * hand is refused with the way to check it, never half-read (`loadConfigFromEnv` validates with the
 * schema instead).
 */
export function readDeployedConfig(env: Record<string, string | undefined> = process.env): Config {
  const { source, json } = configJsonFromEnv(env);
  const obj = typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as Record<string, unknown>) : {};
  const missing = FILLED_IN.filter((k) => obj[k] === undefined);
  if (missing.length || !Array.isArray(obj.integrations) || !Array.isArray(obj.accounts))
    throw new ConfigError(
      `${source} is not a config validated at synth (see \`amo-gateway config check\`)`,
      missing.map((k) => `no ${k}`),
    );
  // Trusted: the construct validated exactly this text with the full schema (configEnvJson).
  return obj as unknown as Config;
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
