/**
 * SecretSource: the one port through which secrets (client secrets, channel secrets, API keys)
 * reach the code. Adapters: `localSecretSource` here (env `AMO_SECRET_<NAME>` or a JSON file
 * under `.local/`), `awsSecretSource` in lib/aws/secrets.ts (Secrets Manager, cached in the container).
 *
 * Errors name the secret, never its value; nothing here logs.
 */
import { readFileSync } from 'node:fs';
import type { SecretRef } from './schema.ts';

export interface SecretSource {
  /** The secret's value; throws SecretNotFoundError when it is not there. */
  get(name: string): Promise<string>;
}

export class SecretNotFoundError extends Error {
  override readonly name = 'SecretNotFoundError';
  constructor(
    readonly secretName: string,
    where: string,
    options?: ErrorOptions,
  ) {
    super(`secret "${secretName}" not found (${where})`, options);
  }
}

export function resolveSecret(source: SecretSource, ref: SecretRef): Promise<string> {
  return source.get(ref.secret);
}

/** `client-secret/main` → `AMO_SECRET_CLIENT_SECRET_MAIN`. */
export function secretEnvName(name: string): string {
  return `AMO_SECRET_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

export interface LocalSecretSourceOptions {
  env?: Record<string, string | undefined>;
  /** A JSON object `{ "<name>": "<value>" }`, conventionally `.local/secrets.json` (git-ignored). */
  file?: string;
}

/** Env first (`AMO_SECRET_<NAME>`), then the JSON file. The file is read on each miss so edits apply without restart. */
export function localSecretSource(opts: LocalSecretSourceOptions = {}): SecretSource {
  const env = opts.env ?? process.env;
  return {
    async get(name) {
      const fromEnv = env[secretEnvName(name)];
      if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
      if (opts.file) {
        let data: unknown;
        try {
          data = JSON.parse(readFileSync(opts.file, 'utf8'));
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
            // Never include the file's text: it is full of secrets.
            throw new SecretNotFoundError(name, `${opts.file} is unreadable or not JSON`, { cause: e });
          }
          data = {};
        }
        const v = typeof data === 'object' && data !== null ? (data as Record<string, unknown>)[name] : undefined;
        if (typeof v === 'string' && v !== '') return v;
      }
      throw new SecretNotFoundError(name, `looked in env ${secretEnvName(name)}${opts.file ? ` and ${opts.file}` : ''}`);
    },
  };
}

/** Secrets held in memory (tests, the local runner that just generated them). */
export function staticSecretSource(values: Record<string, string>): SecretSource {
  return {
    async get(name) {
      const v = values[name];
      if (v === undefined) throw new SecretNotFoundError(name, 'not among the static secrets');
      return v;
    },
  };
}
